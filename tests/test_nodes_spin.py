"""run_node, the spin loop of every node executable: a shutdown that interrupts a callback is a clean stop."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("rclpy", reason="ROS 2 (rclpy) not installed: run `make setup`")

pytestmark = pytest.mark.ros

# A node whose timer publishes after the context was shut down, as when Ctrl-C arrives during the callback
# (sim_camera_node's frame timer did this in CI and the process exited with RCLError instead of 0).
NODE = textwrap.dedent("""
    import sys
    from rclpy.node import Node
    from std_msgs.msg import String
    from vipa_ros.nodes.spin import run_node

    class Ticker(Node):
        def __init__(self):
            super().__init__("vipa_spin_test")
            self.pub = self.create_publisher(String, "tick", 1)
            self.create_timer(0.01, self.tick)

        def tick(self):
            if sys.argv[1] == "shutdown":
                self.context.try_shutdown()
                self.pub.publish(String(data="after shutdown"))
            else:
                raise ValueError("a real callback error")

    run_node(Ticker, lambda node: print("released"))
""")


def run(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NODE, mode], capture_output=True, text=True, timeout=60)


def test_a_publish_cut_off_by_shutdown_ends_the_process_cleanly():
    result = run("shutdown")
    assert result.returncode == 0, result.stderr
    assert "released" in result.stdout


def test_a_callback_error_while_running_still_fails_the_process():
    result = run("error")
    assert result.returncode != 0
    assert "ValueError: a real callback error" in result.stderr
    assert "released" in result.stdout  # the node is still released before the process exits

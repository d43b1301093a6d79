"""Helpers for tests that talk to real rclpy nodes over DDS."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np


def spin_until(executor, condition: Callable[[], bool], timeout_s: float) -> bool:
    """Spin `executor` until `condition()` holds or `timeout_s` passes; return whether it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        executor.spin_once(timeout_sec=0.05)
    return condition()


def call(executor, client, request, timeout_s: float, resend_s: float | None = 5.0):
    """The reply to `request`, spinning `executor` (:func:`vipa_ros.nodes.service_call.call_service`)."""
    from vipa_ros.nodes.service_call import call_service

    return call_service(client, request, lambda condition, t: spin_until(executor, condition, t), timeout_s, resend_s)


def spin_until_alive(executor, procs, condition: Callable[[], bool], timeout_s: float) -> bool:
    """:func:`spin_until`, failing at once (with the log) when one of the node processes ``procs``
    (vipa_ros.nodes.demo.Processes) has died, instead of waiting out the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        failed = procs.failed()
        assert failed is None, failed
        if spin_until(executor, condition, 0.5):
            return True
    return condition()


def make_segmentation(n_instances: int = 3):
    """A deterministic Segmentation with masks and poses (the same in every process)."""
    from geometry_msgs.msg import Vector3
    from sensor_msgs.msg import Image, RegionOfInterest

    from vipa_ros.msg import Instance, Segmentation

    msg = Segmentation()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1700000000, 123456789
    msg.header.frame_id = "camera_color_optical_frame"
    msg.command = "pick the blue cup"
    msg.action = "pick"
    msg.expression = "the blue cup"
    msg.inference_ms = 12.5
    rng = np.random.default_rng(0)
    for k in range(n_instances):
        inst = Instance()
        inst.id = k + 1
        inst.score = 0.9 - 0.1 * k
        inst.roi = RegionOfInterest(x_offset=10 * k, y_offset=20, width=32, height=24)
        mask = (rng.random((24, 32)) > 0.5).astype(np.uint8) * 255
        inst.mask = Image(header=msg.header, height=24, width=32, encoding="mono8", step=32, data=mask.tobytes())
        inst.has_pose = k == 0
        inst.pose.header = msg.header
        inst.pose.pose.position.x, inst.pose.pose.position.y, inst.pose.pose.position.z = 0.1, -0.05, 0.62
        inst.pose.pose.orientation.w = 1.0
        inst.extent = Vector3(x=0.08, y=0.08, z=0.1)
        inst.grasp_width = 0.08
        inst.valid_points = 1234
        msg.instances.append(inst)
    return msg


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


class NodeProcess:
    """A vipa_ros executable started as its own process (real DDS between it and the test)."""

    def __init__(self, executable: str, namespace: str, params: dict, log_path) -> None:
        import subprocess
        import sys

        args = [sys.executable, str(REPO / "bin" / executable), "--ros-args", "-r", f"__ns:={namespace}",
                "--log-level", "info"]
        for name, value in params.items():
            args += ["-p", f"{name}:={_ros_value(value)}"]
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, text=True)

    def log(self) -> str:
        self._log.flush()
        return open(self.log_path).read()

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                self.proc.kill()
        self._log.close()


def _ros_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else "''"
    return str(value)

"""Second process for the DDS test: echoes each Segmentation from `request` to `echo` with the action upper-cased.

Run as a script by tests/test_ros_dds.py; exits after `--count` echoes or `--timeout` seconds.
"""
from __future__ import annotations

import argparse
import time

import rclpy
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

from vipa_ros.msg import Segmentation


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    rclpy.init()
    node = rclpy.create_node("vipa_dds_echo_peer")
    qos = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE,
                     durability=QoSDurabilityPolicy.VOLATILE)
    pub = node.create_publisher(Segmentation, "/vipa_test/echo", qos)
    echoed = 0

    def on_request(msg: Segmentation) -> None:
        nonlocal echoed
        msg.action = msg.action.upper()
        pub.publish(msg)
        echoed += 1

    node.create_subscription(Segmentation, "/vipa_test/request", on_request, qos)
    print("peer ready", flush=True)
    deadline = time.monotonic() + args.timeout
    while echoed < args.count and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    # Give the last reliable sample time to be acknowledged before the participant goes away.
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()
    return 0 if echoed >= args.count else 1


if __name__ == "__main__":
    raise SystemExit(main())

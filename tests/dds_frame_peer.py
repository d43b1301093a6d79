"""Camera-frame peer for tests/test_ros_dds.py: `pub` sends 640x480 rgb8 + 16UC1 frames with sensor-data QoS,
`sub` counts the rgb8 frames it receives and prints `received N`. Both run as separate processes (real DDS)."""
from __future__ import annotations

import argparse
import time

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("pub", "sub"))
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rate", type=float, default=15.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    rclpy.init()
    node = rclpy.create_node(f"vipa_frame_{args.role}")
    deadline = time.monotonic() + args.timeout
    if args.role == "sub":
        received: list[int] = []
        node.create_subscription(Image, "/vipa_test/image", lambda msg: received.append(msg.header.stamp.sec),
                                 qos_profile_sensor_data)
        node.create_subscription(Image, "/vipa_test/depth", lambda msg: None, qos_profile_sensor_data)
        # until the publisher's last frame (stamp.sec == frames - 1) or the timeout
        while time.monotonic() < deadline and (args.frames - 1) not in received:
            rclpy.spin_once(node, timeout_sec=0.1)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
        print(f"received {len(set(received))}", flush=True)
    else:
        image_pub = node.create_publisher(Image, "/vipa_test/image", qos_profile_sensor_data)
        depth_pub = node.create_publisher(Image, "/vipa_test/depth", qos_profile_sensor_data)
        while image_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        time.sleep(1.0)  # the subscriber's side of discovery
        rgb = np.random.default_rng(0).integers(0, 255, 640 * 480 * 3, dtype=np.uint8).tobytes()
        depth = np.full(640 * 480, 700, np.uint16).tobytes()
        for i in range(args.frames):
            image = Image(height=480, width=640, encoding="rgb8", step=640 * 3, data=rgb)
            image.header.stamp.sec = i
            depth_msg = Image(height=480, width=640, encoding="16UC1", step=640 * 2, data=depth)
            depth_msg.header.stamp.sec = i
            depth_pub.publish(depth_msg)
            image_pub.publish(image)
            time.sleep(1.0 / args.rate)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

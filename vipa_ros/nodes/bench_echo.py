"""The DDS floor for `vipa bench-node`: a minimal rclpy node with segment_node's camera inputs that answers each
image with its header and does nothing else.

Its round trip (image published -> header received) is what any Python node pays for the same 640x480 RGB-D
frame on this machine (Fast DDS, rclpy's executor and message conversion): the part of segment_node's overhead
no node code can remove. Run by bench-node as `python -m vipa_ros.nodes.bench_echo --ros-args -r __ns:=/NS`.
"""
from __future__ import annotations

import sys

from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from vipa_ros.nodes.spin import run_node


class BenchEcho(Node):
    def __init__(self) -> None:
        super().__init__("vipa_bench_echo")
        self._echo = self.create_publisher(Header, "~/echo", QoSProfile(depth=10,
                                                                         reliability=QoSReliabilityPolicy.RELIABLE))
        # depth and camera_info are received (deserialized) as segment_node receives them, and dropped
        self.create_subscription(Image, "image", lambda msg: self._echo.publish(msg.header), qos_profile_sensor_data)
        self.create_subscription(Image, "depth", lambda msg: None, qos_profile_sensor_data)
        self.create_subscription(CameraInfo, "camera_info", lambda msg: None, qos_profile_sensor_data)


def main(args: list[str] | None = None) -> None:
    run_node(BenchEcho, lambda node: None, args=args if args is not None else sys.argv)


if __name__ == "__main__":
    main()

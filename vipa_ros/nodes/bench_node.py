"""`vipa bench-node`: end-to-end latency of segment_node over DDS against the model time alone.

Starts segment_node as its own process, publishes 640x480 RGB-D frames at a fixed rate (default 30 Hz, like a
camera), and for every Segmentation received measures publish -> receive latency. The node reports its model time
in Segmentation.inference_ms, so node overhead = end-to-end - model (conversion, queueing, post-processing, 3D,
message building, DDS). Prints a Markdown table (median / p90) with the hardware named.
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", default="", help="checkpoint (default: shipped weights)")
    parser.add_argument("--model", default="vipa_s")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rate", type=float, default=30.0, help="camera frame rate (Hz)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement time after warm-up")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--out", default="", help="also write the Markdown table here")


def _frame():
    """A real photo (scikit-image's coffee cup) at 640x480 with a plausible depth image."""
    import cv2
    from skimage import data as skdata

    rgb = cv2.resize(skdata.coffee(), (640, 480))
    depth = np.full((480, 640), 650, np.uint16)
    return rgb, depth


def run(args: argparse.Namespace) -> int:
    import os
    import random
    import subprocess

    os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(150, 200)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    import rclpy
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import String

    from vipa_ros.msg import Segmentation
    from vipa_ros.nodes.cli_launch import executable_path
    from vipa_ros.nodes.conversions import numpy_to_image
    from vipa_ros.runtime.benchmark import hardware

    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    cmd = [sys.executable, str(executable_path("segment_node")), "--ros-args", "-r", "__ns:=/vipa_bench",
           "-p", f"model:={args.model}", "-p", f"backend:={args.backend}", "-p", f"device:={args.device}",
           "-p", "max_rate_hz:=0.0", "-p", "publish_debug_image:=false", "-p", "score_threshold:=0.0"]
    if args.weights:
        cmd += ["-p", f"weights:={args.weights}"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    rclpy.init()
    node = rclpy.create_node("vipa_bench_client")
    sent: dict[tuple[int, int], float] = {}
    results: list[tuple[float, float]] = []  # (end-to-end ms, model ms)
    measuring = False

    def on_segmentation(msg: Segmentation) -> None:
        t_sent = sent.pop((msg.header.stamp.sec, msg.header.stamp.nanosec), None)
        if t_sent is not None and measuring:
            results.append(((time.perf_counter() - t_sent) * 1e3, msg.inference_ms))

    reliable = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
    node.create_subscription(Segmentation, "/vipa_bench/vipa_segment/segmentation", on_segmentation, reliable)
    pub_image = node.create_publisher(Image, "/vipa_bench/image", qos_profile_sensor_data)
    pub_depth = node.create_publisher(Image, "/vipa_bench/depth", qos_profile_sensor_data)
    pub_info = node.create_publisher(CameraInfo, "/vipa_bench/camera_info", qos_profile_sensor_data)
    pub_cmd = node.create_publisher(String, "/vipa_bench/command", 10)
    rgb, depth = _frame()
    k = [525.0, 0.0, 320.0, 0.0, 525.0, 240.0, 0.0, 0.0, 1.0]
    try:
        deadline = time.monotonic() + 300
        while pub_image.get_subscription_count() == 0 and time.monotonic() < deadline:
            if proc.poll() is not None:
                print(open(log.name).read())
                return 1
            rclpy.spin_once(node, timeout_sec=0.1)
        t_start = time.monotonic()
        period = 1.0 / args.rate
        next_t = time.monotonic()
        frames = 0
        while time.monotonic() - t_start < args.warmup + args.seconds:
            measuring = time.monotonic() - t_start >= args.warmup
            if frames % int(args.rate) == 0:
                pub_cmd.publish(String(data="pick the cup"))
            stamp = node.get_clock().now().to_msg()
            header = Image().header
            header.stamp, header.frame_id = stamp, "camera_color_optical_frame"
            pub_info.publish(CameraInfo(header=header, width=640, height=480, k=k))
            pub_depth.publish(numpy_to_image(depth, "16UC1", header))
            image = numpy_to_image(rgb, "rgb8", header)
            sent[(stamp.sec, stamp.nanosec)] = time.perf_counter()
            pub_image.publish(image)
            frames += 1
            next_t += period
            while time.monotonic() < next_t:
                rclpy.spin_once(node, timeout_sec=max(0.0, next_t - time.monotonic()))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        node.destroy_node()
        rclpy.try_shutdown()
    if not results:
        print("no Segmentation received; node log:\n" + open(log.name).read())
        return 1
    e2e = [r[0] for r in results]
    model = [r[1] for r in results]
    overhead = [a - b for a, b in results]
    served = len(results) / args.seconds

    def row(name: str, values: list[float]) -> str:
        return f"| {name} | {statistics.median(values):.1f} | {float(np.percentile(values, 90)):.1f} |"

    table = "\n".join([
        f"vipa bench-node, {time.strftime('%Y-%m-%d')}, {hardware()}",
        f"{args.model} ({args.backend}, {args.device}), 640x480 RGB-D at {args.rate:g} Hz for {args.seconds:g} s: "
        f"{len(results)} frames segmented ({served:.1f} Hz; the rest were dropped as stale, by design)", "",
        "| stage | median ms | p90 ms |", "|---|---|---|",
        row("end-to-end (image published -> Segmentation received)", e2e),
        row("model (Segmentation.inference_ms)", model),
        row("node overhead (end-to-end - model)", overhead)])
    print(table)
    if args.out:
        pathlib.Path(args.out).write_text(table + "\n")
    return 0

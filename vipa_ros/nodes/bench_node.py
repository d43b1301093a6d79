"""`vipa bench-node`: end-to-end latency of segment_node over DDS against the model time alone.

Starts segment_node as its own process and publishes a 640x480 RGB-D frame of the simulated tabletop (the demo's
scene, real MuJoCo depth and intrinsics) in three phases:

- paced: the next frame is published only once the previous Segmentation arrived, so no frame waits for the
  worker. end-to-end - model is the node's own overhead (conversion, pre/post-processing, 3D, message building,
  DDS both ways): the figure the < 10 ms target is about. The clock starts at the image's publish call with
  the message already serialized, as a camera driver publishes it.
- camera: frames at a fixed rate (default 30 Hz) like a camera driver. The worker takes the newest frame when it
  is free, so end-to-end also holds the wait for the frame in progress (up to one model time); the rest of the
  frames are dropped as stale, by design.
- DDS floor: segment_node stopped, the paced frames go to `vipa_ros.nodes.bench_echo`, a bare rclpy node with the
  same inputs that answers each image with its header. Its round trip is what DDS and rclpy take for any Python
  node with these inputs on this machine: the part of the node overhead no node code removes.

The node reports its model time in Segmentation.inference_ms and its per-stage medians in /diagnostics; both are
printed with the peak memory (RSS) of the node process, as a Markdown table with the hardware named. Only
~/segmentation is subscribed here: the node builds its other outputs (masks, markers, poses) only for
subscribers, and the table says which outputs had one.
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np

SCENE = (2024, 207)  # the demo's scene (config/segment.yaml): a blue mug among other tabletop objects
COMMAND = "pick the blue mug"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", default="", help="checkpoint (default: shipped weights)")
    parser.add_argument("--model", default="vipa_s")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rate", type=float, default=30.0, help="camera phase frame rate (Hz)")
    parser.add_argument("--frames", type=int, default=60, help="paced phase: frames measured")
    parser.add_argument("--seconds", type=float, default=30.0, help="camera phase: measurement time")
    parser.add_argument("--warmup", type=int, default=10, help="frames before measuring")
    parser.add_argument("--out", default="", help="also write the Markdown table here")


def _frame():
    """RGB, 16UC1 depth and K of the demo's simulated tabletop scene."""
    from vipa_ros.data.tabletop.live import render_live_scene

    scene = render_live_scene(*SCENE)
    return scene.rgb, scene.depth_image("16UC1"), scene.K


def _peak_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024.0
    except (OSError, StopIteration):
        return float("nan")


def run(args: argparse.Namespace) -> int:
    import os
    import random
    import subprocess

    from vipa_ros.nodes.launch_plan import dds_environment

    os.environ.update(dds_environment())  # the node and this client alike
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(150, 200)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    rgb, depth, K = _frame()  # before rclpy: MuJoCo's GL context first
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header, String

    from vipa_ros.msg import Segmentation
    from vipa_ros.nodes.cli_launch import executable_path
    from vipa_ros.nodes.conversions import numpy_to_image
    from vipa_ros.runtime.benchmark import hardware

    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    cmd = [sys.executable, str(executable_path("segment_node")), "--ros-args", "-r", "__ns:=/vipa_bench",
           "-p", f"model:={args.model}", "-p", f"backend:={args.backend}", "-p", f"device:={args.device}",
           "-p", "max_rate_hz:=0.0", "-p", "publish_debug_image:=false", "-p", "score_threshold:=0.0",
           "-p", f"default_command:={COMMAND}"]
    if args.weights:
        cmd += ["-p", f"weights:={args.weights}"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    rclpy.init()
    node = rclpy.create_node("vipa_bench_client")
    sent: dict[tuple[int, int], float] = {}
    results: list[tuple[float, float]] = []  # (end-to-end ms, model ms) of the current phase
    diagnostics: dict[str, str] = {}

    def on_reply(stamp, model_ms: float) -> None:
        t_sent = sent.pop((stamp.sec, stamp.nanosec), None)
        if t_sent is not None:
            results.append(((time.perf_counter() - t_sent) * 1e3, model_ms))

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("/vipa_bench/vipa_segment:"):
                diagnostics.update({kv.key: kv.value for kv in status.values})

    reliable = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
    node.create_subscription(Segmentation, "/vipa_bench/vipa_segment/segmentation",
                             lambda msg: on_reply(msg.header.stamp, msg.inference_ms), reliable)
    node.create_subscription(Header, "/vipa_bench/vipa_bench_echo/echo", lambda msg: on_reply(msg.stamp, 0.0),
                             reliable)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    pub_image = node.create_publisher(Image, "/vipa_bench/image", qos_profile_sensor_data)
    pub_depth = node.create_publisher(Image, "/vipa_bench/depth", qos_profile_sensor_data)
    pub_info = node.create_publisher(CameraInfo, "/vipa_bench/camera_info", qos_profile_sensor_data)
    pub_cmd = node.create_publisher(String, "/vipa_bench/command", 10)
    k = [float(x) for x in np.asarray(K).ravel()]

    def publish_frame() -> None:
        # Serialized before the clock starts, as a camera driver hands DDS a message it already holds: rclpy's
        # conversion of a 1 MB Python message (~1 ms here) is this Python client's cost, not the node's.
        header = Image().header
        header.stamp, header.frame_id = node.get_clock().now().to_msg(), "camera_color_optical_frame"
        info = serialize_message(CameraInfo(header=header, width=rgb.shape[1], height=rgb.shape[0], k=k))
        depth_msg = serialize_message(numpy_to_image(depth, "16UC1", header))
        image = serialize_message(numpy_to_image(rgb, "rgb8", header))
        pub_info.publish(info)
        pub_depth.publish(depth_msg)
        sent[(header.stamp.sec, header.stamp.nanosec)] = time.perf_counter()
        pub_image.publish(image)

    def spin_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=max(0.0, end - time.monotonic()))

    def paced(n: int, max_lost: int = 0) -> int:
        """n frames, each published once the previous one's reply came back; returns frames lost (best-effort
        camera QoS may drop a 1 MB frame on a loaded machine: such frames are resent, not waited for)."""
        lost = 0
        for _ in range(n):
            while True:
                before = len(results)
                publish_frame()
                deadline = time.monotonic() + 5.0
                while len(results) == before and time.monotonic() < deadline:
                    rclpy.spin_once(node, timeout_sec=0.05)
                if len(results) > before:
                    break
                lost += 1
                if lost > (max_lost or max(10, n)):
                    raise RuntimeError(f"the node answered none of the last {lost} frames")
            spin_for(0.02)  # let the node's other outputs drain before the next frame
        return lost

    def wait_for_subscriber(process: subprocess.Popen, name: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while pub_image.get_subscription_count() == 0 and time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with status {process.returncode}")
            rclpy.spin_once(node, timeout_sec=0.1)

    def warm_up() -> None:
        paced(1, max_lost=60)  # resent for up to 5 min: the first frame may wait for an ONNX export / TensorRT build
        paced(args.warmup)
        results.clear()

    phases: dict[str, tuple[list[tuple[float, float]], dict[str, str], float]] = {}
    floor: list[float] = []
    try:
        wait_for_subscriber(proc, "segment_node", 300)
        pub_cmd.publish(String(data=COMMAND))
        spin_for(0.5)
        warm_up()
        t0 = time.monotonic()
        lost = paced(args.frames)
        spin_for(1.5)  # one diagnostics period: the node's stage medians cover the measured frames
        phases["paced"] = (list(results), dict(diagnostics), len(results) / (time.monotonic() - t0))
        period = 1.0 / args.rate
        results.clear()
        t0 = next_t = time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            publish_frame()
            next_t += period
            spin_for(max(0.0, next_t - time.monotonic()))
        spin_for(1.5)
        phases["camera"] = (list(results), dict(diagnostics), len(results) / args.seconds)
        peak_mb = _peak_rss_mb(proc.pid)
        # The same frames, paced, to a node that only echoes the image's header: the DDS and rclpy floor
        proc.terminate()
        proc.wait(timeout=20)
        proc = subprocess.Popen([sys.executable, "-m", "vipa_ros.nodes.bench_echo", "--ros-args", "-r",
                                 "__ns:=/vipa_bench"], stdout=log, stderr=subprocess.STDOUT)
        wait_for_subscriber(proc, "bench_echo", 60)
        warm_up()
        paced(args.frames)
        floor = [r[0] for r in results]
    except RuntimeError as exc:
        print(f"{exc}; node log:\n" + open(log.name).read())
        return 1
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        node.destroy_node()
        rclpy.try_shutdown()
    if not phases.get("paced", ([],))[0]:
        print("no Segmentation received; node log:\n" + open(log.name).read())
        return 1
    table = _table(args, phases, floor, peak_mb, hardware(), lost)
    print(table)
    if args.out:
        pathlib.Path(args.out).write_text(table + "\n")
    return 0


def _table(args, phases, floor: list[float], peak_mb: float, hw: str, lost: int) -> str:
    def stats(values: list[float]) -> str:
        if not values:
            return "- | -"
        return f"{statistics.median(values):.1f} | {float(np.percentile(values, 90)):.1f}"

    subscribed = phases["paced"][1].get("subscribed_outputs", "?")
    lines = [f"vipa bench-node, {time.strftime('%Y-%m-%d')}, {hw}",
             f"{args.model} ({args.backend}, {args.device}), 640x480 RGB-D tabletop frame (scene {SCENE[0]}/"
             f"{SCENE[1]}), command '{COMMAND}'; node peak RSS {peak_mb:.0f} MB; paced frames lost by DDS and resent: "
             f"{lost}; node outputs with a subscriber (the others are not built): {subscribed}", "",
             "| phase | measure | median ms | p90 ms |", "|---|---|---|---|"]
    for name, (results, diag, rate) in phases.items():
        label = "paced (no queueing)" if name == "paced" else f"camera {args.rate:g} Hz ({rate:.1f} Hz served)"
        e2e = [r[0] for r in results]
        lines.append(f"| {label} | end-to-end (image published -> Segmentation received) | {stats(e2e)} |")
        lines.append(f"| {label} | model (Segmentation.inference_ms) | {stats([r[1] for r in results])} |")
        lines.append(f"| {label} | node overhead (end-to-end - model) | {stats([a - b for a, b in results])} |")
        if name == "paced":
            for stage in ("queue", "preprocess", "model", "postprocess", "3d", "publish"):
                value = diag.get(f"latency_{stage}_ms")
                if value is not None:
                    lines.append(f"| {label} | node stage: {stage} (median of the last 50, diagnostics) | "
                                 f"{float(value):.1f} | |")
    if floor:
        lines.append(f"| DDS floor (paced) | image published -> header received from a bare rclpy echo node "
                     f"(vipa_ros.nodes.bench_echo) | {stats(floor)} |")
    return "\n".join(lines)

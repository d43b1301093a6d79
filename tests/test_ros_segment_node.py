"""segment_node over real DDS: lifecycle autostart, outputs stamped with the source header, services, and
bad input that must never crash the node (each followed by a good frame that must still be served).

The model here is vipa_tiny with random weights: these tests are about the node, not about accuracy
(tests/test_e2e_*.py check that the trained model picks the right object).
"""
from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="ROS 2 not installed: run `make setup`")

import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from ros_helpers import NodeProcess, call, spin_until  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import SetBool  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from vipa_ros.msg import Segmentation  # noqa: E402
from vipa_ros.nodes.conversions import depth_to_numpy, image_to_numpy, numpy_to_image  # noqa: E402
from vipa_ros.nodes.service_call import call_service  # noqa: E402
from vipa_ros.srv import Segment, SetCommand  # noqa: E402

pytestmark = [pytest.mark.ros]

W, H = 160, 120
K = [100.0, 0.0, W / 2, 0.0, 100.0, H / 2, 0.0, 0.0, 1.0]


def scene() -> tuple[np.ndarray, np.ndarray]:
    rgb = np.full((H, W, 3), 90, np.uint8)
    rgb[40:80, 20:60] = (200, 30, 30)
    rgb[30:90, 90:130] = (30, 30, 200)
    depth = np.full((H, W), 900, np.uint16)
    depth[40:80, 20:60] = 700
    depth[30:90, 90:130] = 750
    return rgb, depth


class Client:
    """The test's side of the DDS conversation with one segment node."""

    def __init__(self, context, ns: str) -> None:
        self.ns = ns
        self.node = rclpy.create_node("vipa_test_client", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        n = self.node
        self.image_pub = n.create_publisher(Image, f"{ns}/image", qos_profile_sensor_data)
        self.compressed_pub = n.create_publisher(CompressedImage, f"{ns}/image/compressed", qos_profile_sensor_data)
        self.depth_pub = n.create_publisher(Image, f"{ns}/depth", qos_profile_sensor_data)
        self.info_pub = n.create_publisher(CameraInfo, f"{ns}/camera_info", qos_profile_sensor_data)
        self.command_pub = n.create_publisher(String, f"{ns}/command", 10)
        reliable = QoSProfile(depth=50, reliability=QoSReliabilityPolicy.RELIABLE)
        self.received: dict[str, list] = {k: [] for k in ("seg", "mask", "ids", "markers", "debug", "diag")}
        node_ns = f"{ns}/vipa_segment"
        n.create_subscription(Segmentation, f"{node_ns}/segmentation", self.received["seg"].append, reliable)
        n.create_subscription(Image, f"{node_ns}/mask", self.received["mask"].append, reliable)
        n.create_subscription(Image, f"{node_ns}/instance_mask", self.received["ids"].append, reliable)
        n.create_subscription(MarkerArray, f"{node_ns}/markers", self.received["markers"].append, reliable)
        n.create_subscription(Image, f"{node_ns}/debug_image", self.received["debug"].append, reliable)
        n.create_subscription(DiagnosticArray, "/diagnostics", self.received["diag"].append, 10)
        self.get_state = n.create_client(GetState, f"{node_ns}/get_state")
        self.set_command = n.create_client(SetCommand, f"{node_ns}/set_command")
        self.segment = n.create_client(Segment, f"{node_ns}/segment")
        self.enable = n.create_client(SetBool, f"{node_ns}/enable")
        self.frame = 0

    def call(self, client, request, timeout=20.0):
        return call(self.executor, client, request, timeout)

    def segment_while_publishing(self, request, timeout=40.0):
        """(reply, headers published) of a one-shot ~/segment request, publishing a frame every 0.3 s while it
        waits. Resent only after the request's own timeout_s + 10 s (a one-shot request must not run twice)."""
        headers = []

        def spin_publishing(condition, seconds: float) -> bool:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                headers.append(self.publish_frame())
                if spin_until(self.executor, condition, min(0.3, max(deadline - time.monotonic(), 0.0))):
                    return True
            return condition()

        reply = call_service(self.segment, request, spin_publishing, timeout, resend_s=request.timeout_s + 10.0)
        return reply, headers

    def state(self) -> str:
        return self.call(self.get_state, GetState.Request(), timeout=120.0).current_state.label

    def wait_active(self, proc: NodeProcess, timeout: float = 180.0) -> None:
        assert spin_until(self.executor, self.get_state.service_is_ready, 60.0), proc.log()
        try:
            active = spin_until(self.executor, lambda: self.state() == "active", timeout)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{proc.log()}") from e
        assert active, proc.log()

    def settled_state(self, timeout: float = 300.0) -> str:
        """The lifecycle state once no transition runs (autostart loads the model beside the executor)."""
        deadline = time.monotonic() + timeout
        while (state := self.state()) in ("configuring", "activating") and time.monotonic() < deadline:
            time.sleep(0.1)
        return state

    def stamp(self):
        self.frame += 1
        return rclpy.time.Time(seconds=1000 + self.frame * 0.1).to_msg()

    def publish_frame(self, rgb=None, depth=None, info=True, encoding="rgb8", depth_encoding="16UC1"):
        default_rgb, default_depth = scene()
        rgb = default_rgb if rgb is None else rgb
        depth = default_depth if depth is None else depth
        stamp = self.stamp()
        header = Image().header
        header.stamp, header.frame_id = stamp, "camera_color_optical_frame"
        if info:
            self.info_pub.publish(CameraInfo(header=header, width=W, height=H, k=K))
        if depth is not False:
            self.depth_pub.publish(numpy_to_image(depth, depth_encoding, header))
        msg = rgb if isinstance(rgb, Image) else numpy_to_image(rgb, encoding, header)
        msg.header = header
        self.image_pub.publish(msg)
        return header

    def wait_for(self, key: str, predicate=lambda m: True, timeout=30.0):
        found = []

        def check():
            found[:] = [m for m in self.received[key] if predicate(m)]
            return bool(found)

        spin_until(self.executor, check, timeout)
        return found[-1] if found else None

    def serve_good_frame(self, timeout=30.0) -> Segmentation:
        """Publish good frames until one comes back; the node must still be serving."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            header = self.publish_frame()
            seg = self.wait_for("seg", lambda m: m.header.stamp == header.stamp, timeout=3.0)
            if seg is not None:
                return seg
        raise AssertionError("the node stopped serving good frames")

    def diag_values(self, predicate, timeout=10.0) -> dict[str, str]:
        def matches(arr):
            return any(s.name.startswith(f"{self.ns}/vipa_segment:") and predicate(s) for s in arr.status)

        arr = self.wait_for("diag", matches, timeout)
        assert arr is not None, "no matching diagnostics"
        status = next(s for s in arr.status if s.name.startswith(f"{self.ns}/vipa_segment:") and predicate(s))
        return {kv.key: kv.value for kv in status.values} | {"_level": status.level, "_message": status.message}

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()


def start(tmp_path, tiny_weights, ns, **params):
    base = dict(model="vipa_tiny", weights=str(tiny_weights), backend="torch", device="cpu", max_rate_hz=0.0,
                score_threshold=0.0, mask_threshold=0.5, min_instance_area_px=1, max_image_age_ms=5000.0,
                diagnostics_period_s=0.5)
    base.update(params)
    return NodeProcess("segment_node", ns, base, tmp_path / f"{ns.strip('/')}.log")


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_weights):
    """One segment node (raw images) shared by the tests that only talk to it."""
    tmp = tmp_path_factory.mktemp("node")
    context = rclpy.context.Context()
    rclpy.init(context=context)
    proc = start(tmp, tiny_weights, "/vipa_a", default_command="pick the blue cup")
    client = Client(context, "/vipa_a")
    try:
        client.wait_active(proc)
        yield client, proc
    finally:
        client.close()
        proc.stop()
        context.try_shutdown()


def test_autostarts_and_publishes_every_output_with_the_source_header(served):
    client, proc = served
    client.node.create_subscription(Image, "/vipa_a/vipa_segment/debug_image", lambda m: None, 10)
    seg = client.serve_good_frame()
    stamp = seg.header.stamp
    assert seg.header.frame_id == "camera_color_optical_frame"
    assert seg.command == "pick the blue cup" and seg.action == "pick" and seg.expression == "the blue cup"
    mask = client.wait_for("mask", lambda m: m.header.stamp == stamp)
    ids = client.wait_for("ids", lambda m: m.header.stamp == stamp)
    assert mask is not None and ids is not None, proc.log()
    assert (mask.encoding, mask.width, mask.height) == ("mono8", W, H)
    assert ids.encoding == "16UC1"
    target = image_to_numpy(mask) > 0
    id_image = depth_to_numpy(ids)
    if seg.instances:  # random weights may or may not find a region; when they do it must be consistent
        first = seg.instances[0]
        assert np.array_equal(target, id_image == first.id)
        assert first.mask.header.stamp == stamp and first.mask.width == first.roi.width
        assert seg.instances[0].score >= seg.instances[-1].score
        if first.has_pose:
            assert first.pose.header.stamp == stamp and first.pose.pose.position.z > 0.5
        assert not any(inst.has_pose for inst in seg.instances[1:])  # max_poses: 1 (the target only)
    assert client.wait_for("markers") is not None
    assert client.wait_for("debug", lambda m: m.header.stamp == stamp, timeout=10) is not None
    values = client.diag_values(lambda s: "latency_model_ms" in {kv.key for kv in s.values})
    assert float(values["latency_model_ms"]) > 0 and values["backend"] == "torch" and values["device"] == "cpu"


@pytest.mark.parametrize("bad,expect", [
    ("unsupported_encoding", "not supported"),
    ("zero_size", "empty image"),
    ("truncated", "payload has"),
    ("depth_size_mismatch", "does not match image"),
    ("all_invalid_depth", ""),
    ("float_depth_nan", ""),
    ("missing_depth", ""),
])
def test_bad_frames_are_reported_and_the_next_good_frame_is_served(served, bad, expect):
    client, proc = served
    rgb, depth = scene()
    if bad == "unsupported_encoding":
        msg = numpy_to_image(rgb[..., 0].copy(), "mono8")
        msg.encoding = "yuv422"
        client.publish_frame(rgb=msg)
    elif bad == "zero_size":
        client.publish_frame(rgb=Image(encoding="rgb8", height=0, width=0, step=0))
    elif bad == "truncated":
        msg = numpy_to_image(rgb, "rgb8")
        msg.data = bytes(msg.data)[:100]
        client.publish_frame(rgb=msg)
    elif bad == "depth_size_mismatch":
        client.publish_frame(depth=np.full((H // 2, W // 2), 800, np.uint16))
    elif bad == "all_invalid_depth":
        client.publish_frame(depth=np.zeros((H, W), np.uint16))
    elif bad == "float_depth_nan":
        client.publish_frame(depth=np.full((H, W), np.nan, np.float32), depth_encoding="32FC1")
    elif bad == "missing_depth":
        client.publish_frame(depth=False)
    if expect:
        values = client.diag_values(lambda s: expect in " ".join(kv.value for kv in s.values) + s.message)
        assert values["_level"] in (b"\x01", b"\x02", 1, 2), values
    seg = client.serve_good_frame()
    assert seg.header.frame_id == "camera_color_optical_frame"
    assert proc.proc.poll() is None


def test_invalid_depth_gives_no_pose_but_still_a_mask(served):
    client, _ = served
    header = client.publish_frame(depth=np.zeros((H, W), np.uint16))
    seg = client.wait_for("seg", lambda m: m.header.stamp == header.stamp)
    assert seg is not None
    assert all(not inst.has_pose for inst in seg.instances)


@pytest.mark.parametrize("command,accepted", [
    ("", False), ("   \t ", False), ("x" * 10_000, True), ("nimm die blaue Tasse", True),
    ("拿起蓝色的杯子", True), ("stop", True), ("pick the blue cup", True),
])
def test_commands_of_every_kind_are_handled(served, command, accepted):
    client, proc = served
    reply = client.call(client.set_command, SetCommand.Request(command=command))
    assert reply.success == accepted, reply.message
    assert reply.message
    client.command_pub.publish(String(data=command))
    client.call(client.set_command, SetCommand.Request(command="pick the blue cup"))
    client.serve_good_frame()
    assert proc.proc.poll() is None


def test_pronoun_commands_act_on_the_previous_target(served):
    client, _ = served
    client.call(client.set_command, SetCommand.Request(command="pick the blue cup"))
    reply = client.call(client.set_command, SetCommand.Request(command="now put it on the tray"))
    assert reply.success and reply.action == "place" and reply.expression == "the blue cup", reply
    seg = client.serve_good_frame()
    assert seg.action == "place" and seg.expression == "the blue cup"
    client.call(client.set_command, SetCommand.Request(command="stop"))
    reply = client.call(client.set_command, SetCommand.Request(command="give it to me"))
    assert reply.expression == "the blue cup"  # "it" survives a stop
    client.call(client.set_command, SetCommand.Request(command="pick the blue cup"))


def test_one_shot_segment_service_returns_the_frame_it_used(served):
    client, _ = served
    reply, headers = client.segment_while_publishing(Segment.Request(command="find the red block", timeout_s=10.0))
    assert reply.success, reply
    seg = reply.segmentation
    assert seg.expression == "the red block" and seg.action == "find"
    assert any(seg.header.stamp == h.stamp for h in headers)
    empty = client.call(client.segment, Segment.Request(command="  ", timeout_s=1.0))
    assert not empty.success and empty.message


def test_waiting_one_shot_requests_block_no_other_callback(served):
    """`~/segment` awaits its frame as a coroutine on the node's single executor thread: two requests wait at
    once while another service answers, then each is served by a frame published after that answer."""
    client, _ = served
    futures = [client.segment.call_async(Segment.Request(command=c, timeout_s=60.0))
               for c in ("find the red block", "find the blue block")]
    assert client.call(client.set_command, SetCommand.Request(command="pick the blue cup")).success
    headers = []
    deadline = time.monotonic() + 30
    while not all(f.done() for f in futures) and time.monotonic() < deadline:
        headers.append(client.publish_frame())
        spin_until(client.executor, lambda: all(f.done() for f in futures), 0.3)
    replies = [f.result() for f in futures]
    assert all(r is not None and r.success for r in replies), replies
    assert {r.segmentation.expression for r in replies} == {"the red block", "the blue block"}
    assert all(any(r.segmentation.header.stamp == h.stamp for h in headers) for r in replies)


def test_one_shot_request_without_a_frame_fails_after_its_timeout(served):
    client, _ = served
    reply = client.call(client.segment, Segment.Request(command="find the red block", timeout_s=1.0))
    assert not reply.success and reply.message == "no camera frame within 1.0 s", reply
    client.serve_good_frame()


def test_outputs_besides_segmentation_are_built_only_while_subscribed(served):
    """Nobody subscribes to ~/target_pose at first: the node does not build it (diagnostics list the subscribed
    outputs); once something subscribes, poses follow, stamped with their frame's header."""
    client, _ = served

    def subscribed(status) -> list[str]:
        return dict((kv.key, kv.value) for kv in status.values).get("subscribed_outputs", "").split(", ")

    outputs = client.diag_values(lambda s: "mask" in subscribed(s))["subscribed_outputs"].split(", ")
    assert "segmentation" in outputs and "target_pose" not in outputs
    poses: list[PoseStamped] = []
    client.node.create_subscription(PoseStamped, "/vipa_a/vipa_segment/target_pose", poses.append,
                                    QoSProfile(depth=50, reliability=QoSReliabilityPolicy.RELIABLE))
    client.diag_values(lambda s: "target_pose" in subscribed(s))
    for _ in range(20):
        seg = client.serve_good_frame()
        if seg.instances and seg.instances[0].has_pose:
            break
    assert seg.instances[0].has_pose
    assert spin_until(client.executor, lambda: any(p.header.stamp == seg.header.stamp for p in poses), 10.0)


def test_enable_service_pauses_inference(served):
    client, _ = served
    assert client.call(client.enable, SetBool.Request(data=False)).success
    header = client.publish_frame()
    assert client.wait_for("seg", lambda m: m.header.stamp == header.stamp, timeout=3.0) is None
    assert client.call(client.enable, SetBool.Request(data=True)).success
    client.serve_good_frame()


def test_missing_or_corrupt_weights_leave_the_node_unconfigured(tmp_path, tiny_weights, ros_context):
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(tiny_weights.read_bytes()[:1000])
    for ns, weights in (("/vipa_missing", tmp_path / "nope.safetensors"), ("/vipa_corrupt", corrupt)):
        proc = start(tmp_path, tiny_weights, ns, weights=str(weights))
        client = Client(ros_context, ns)
        try:
            assert client.get_state.wait_for_service(timeout_sec=60), proc.log()
            assert client.settled_state() == "unconfigured", proc.log()
            assert str(weights) in proc.log()
            values = client.diag_values(lambda s: str(weights) in s.message, timeout=10.0)
            assert values["_level"] == b"\x02"
            assert proc.proc.poll() is None
        finally:
            client.close()
            proc.stop()


def test_missing_camera_info_gives_masks_without_poses_until_it_arrives(tmp_path, tiny_weights, ros_context):
    """A fresh node that never got CameraInfo: masks are served, poses are not, diagnostics say why."""
    proc = start(tmp_path, tiny_weights, "/vipa_noinfo", default_command="pick the blue cup")
    client = Client(ros_context, "/vipa_noinfo")
    try:
        client.wait_active(proc)
        seg = None
        for _ in range(20):
            header = client.publish_frame(info=False)
            seg = client.wait_for("seg", lambda m: m.header.stamp == header.stamp, timeout=2.0)
            if seg is not None:
                break
        assert seg is not None, proc.log()
        assert seg.instances and not any(inst.has_pose for inst in seg.instances)
        assert "CameraInfo" in proc.log()
        values = client.diag_values(lambda s: any(kv.key == "camera_info" and kv.value == "missing"
                                                  for kv in s.values))
        assert values["camera_info"] == "missing"
        for _ in range(20):  # CameraInfo arrives (same stamp as the frame): poses follow
            header = client.publish_frame(info=True)
            seg = client.wait_for("seg", lambda m: m.header.stamp == header.stamp and bool(m.instances)
                                  and m.instances[0].has_pose,
                                  timeout=2.0)
            if seg is not None:
                break
        assert seg is not None and seg.instances[0].has_pose, proc.log()
        assert proc.proc.poll() is None
    finally:
        client.close()
        proc.stop()


def test_compressed_transport_survives_corrupt_jpeg(tmp_path, tiny_weights, ros_context):
    import cv2

    proc = start(tmp_path, tiny_weights, "/vipa_c", image_transport="compressed", default_command="the red block")
    client = Client(ros_context, "/vipa_c")
    try:
        client.wait_active(proc)
        rgb, depth = scene()
        header = Image().header
        header.frame_id = "camera_color_optical_frame"
        ok, jpeg = cv2.imencode(".jpg", rgb)
        for _ in range(10):  # the latest-frame slot may drop one; keep sending until the node reports it
            header.stamp = client.stamp()
            client.compressed_pub.publish(CompressedImage(header=header, format="jpeg", data=b"\xff\xd8 bad" * 5))
            if client.wait_for("diag", lambda a: any("cannot decode" in s.message for s in a.status), 1.0):
                break
        values = client.diag_values(lambda s: "cannot decode" in s.message)
        assert values["_level"] == b"\x02"
        for _ in range(20):
            header.stamp = client.stamp()
            client.compressed_pub.publish(CompressedImage(header=header, format="jpeg", data=jpeg.tobytes()))
            if client.wait_for("seg", lambda m: m.header.stamp == header.stamp, timeout=2.0):
                break
        else:
            raise AssertionError("compressed frames not served:\n" + proc.log())
    finally:
        client.close()
        proc.stop()


def test_a_silent_camera_topic_is_reported_with_its_likely_cause(tmp_path, tiny_weights, ros_context):
    """No image for image_timeout_s: diagnostics WARN, saying whether anyone publishes the topic at all (wrong
    remapping, camera down) or publishers exist (QoS or transport trouble); the warning ends with the first image."""
    proc = start(tmp_path, tiny_weights, "/vipa_silent", image_timeout_s=3.0, default_command="pick the cup")
    listener = rclpy.create_node("vipa_test_listener", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(listener)
    seen: list[DiagnosticArray] = []
    listener.create_subscription(DiagnosticArray, "/diagnostics", seen.append, 10)

    def message_with(text: str) -> bool:
        return any(s.name.startswith("/vipa_silent/vipa_segment:") and text in s.message and s.level == s.WARN
                   for arr in seen for s in arr.status)

    client = None
    try:
        assert spin_until(executor, lambda: message_with("nobody publishes it"), 120.0), proc.log()
        assert "no image on '/vipa_silent/image'" in proc.log()
        client = Client(ros_context, "/vipa_silent")  # a publisher on the topic, not publishing yet
        client.wait_active(proc)
        values = client.diag_values(lambda s: "1 publisher(s) exist" in s.message)
        assert values["_level"] == DiagnosticStatus.WARN and values["image_age_s"] == "never"
        client.serve_good_frame()
        values = client.diag_values(lambda s: "no image" not in s.message and s.values
                                    and dict((kv.key, kv.value) for kv in s.values)["image_age_s"] != "never")
        assert float(values["image_age_s"]) < 3.0  # a status from the image's time window, not the next warning
    finally:
        if client is not None:
            client.close()
        executor.shutdown()
        listener.destroy_node()
        proc.stop()


def test_get_state_and_diagnostics_answer_while_the_model_loads(tmp_path, tiny_weights, shipped_vipa_s,
                                                                  ros_context):
    """The node spins one executor thread; autostart loads the model beside it, so while vipa_s loads (seconds
    here, minutes for a TensorRT engine build) get_state answers 'configuring' and diagnostics say so."""
    ns = "/vipa_loading"
    proc = start(tmp_path, tiny_weights, ns, model="vipa_s", weights=str(shipped_vipa_s), diagnostics_period_s=0.2)
    client = Client(ros_context, ns)
    try:
        values = client.diag_values(lambda s: s.message.startswith("configuring: loading the model"), timeout=60.0)
        assert values["_level"] == b"\x00", values
        states, deadline = [], time.monotonic() + 300.0
        while not states or states[-1] != "active":
            states.append(client.state())
            assert time.monotonic() < deadline and proc.proc.poll() is None, (sorted(set(states)), proc.log())
            time.sleep(0.05)
        assert "configuring" in states, states
        assert client.diag_values(lambda s: s.message == "idle: no command", timeout=10.0)
    finally:
        client.close()
        proc.stop()

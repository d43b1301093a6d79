"""sim_camera_node over real DDS: the three camera topics share stamps and frame ids, CameraInfo matches the image,
depth equals the in-process rendering of the same scene (vipa_ros.data.tabletop.live), the latched ground truth
parses and agrees with that rendering, scenes switch by parameter and by service, float depth with noise and
dropout, and the parameter file's /**/vipa_sim_camera section applies to a namespaced node (as launched)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

pytest.importorskip("rclpy", reason="ROS 2 not installed: run `make setup`")
pytest.importorskip("mujoco")

import rclpy  # noqa: E402
from rcl_interfaces.msg import Parameter as ParameterMsg  # noqa: E402
from rcl_interfaces.msg import ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from ros_helpers import NodeProcess, call, spin_until  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from conftest import REPO_ROOT  # noqa: E402
from vipa_ros.nodes.conversions import depth_to_numpy, image_to_numpy  # noqa: E402

pytestmark = [pytest.mark.ros]

W, H = 320, 240
SEED, INDEX = 2024, 207
FRAME = "camera_color_optical_frame"
LATCHED = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def key(header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


class Listener:
    """The test's side: every sim camera topic of namespace `ns`, plus its services."""

    def __init__(self, context, ns: str, name: str = "sim_camera_test") -> None:
        self.node = rclpy.create_node(name, context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.got: dict[str, list] = {k: [] for k in ("image", "depth", "info", "depth_info", "gt")}
        n, s = self.node, qos_profile_sensor_data
        n.create_subscription(Image, f"{ns}/sim_camera/color/image_raw", self.got["image"].append, s)
        n.create_subscription(Image, f"{ns}/sim_camera/depth/image_raw", self.got["depth"].append, s)
        n.create_subscription(CameraInfo, f"{ns}/sim_camera/color/camera_info", self.got["info"].append, s)
        n.create_subscription(CameraInfo, f"{ns}/sim_camera/depth/camera_info", self.got["depth_info"].append, s)
        n.create_subscription(String, f"{ns}/sim_camera/ground_truth", self.got["gt"].append, LATCHED)
        self.set_params = n.create_client(SetParameters, f"{ns}/vipa_sim_camera/set_parameters")
        self.next_scene = n.create_client(Trigger, f"{ns}/vipa_sim_camera/next_scene")

    def wait(self, what: str, count: int = 1, timeout: float = 60.0, predicate=lambda m: True) -> list:
        ok = spin_until(self.executor, lambda: sum(map(predicate, self.got[what])) >= count, timeout)
        assert ok, f"{count} x {what} not received within {timeout} s (got {len(self.got[what])})"
        return [m for m in self.got[what] if predicate(m)]

    def ground_truth(self, predicate=lambda gt: True, timeout: float = 60.0) -> dict:
        msgs = self.wait("gt", 1, timeout, lambda m: predicate(json.loads(m.data)))
        return json.loads(msgs[-1].data)

    def call(self, client, request, timeout: float = 30.0):
        return call(self.executor, client, request, timeout)

    def set_int(self, name: str, value: int):
        p = ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value))
        return self.call(self.set_params, SetParameters.Request(parameters=[p])).results[0]

    def set_double(self, name: str, value: float):
        p = ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value))
        return self.call(self.set_params, SetParameters.Request(parameters=[p])).results[0]

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.fixture(scope="module")
def context():
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx)
    yield ctx
    ctx.try_shutdown()


@pytest.fixture(scope="module")
def live_scene():
    """The same scene rendered in this process (ROS-free path)."""
    from vipa_ros.data.tabletop.live import LiveRenderer

    with LiveRenderer(W, H) as renderer:
        yield renderer.render(SEED, INDEX)


@pytest.fixture(scope="module")
def camera(context, tmp_path_factory):
    proc = NodeProcess("sim_camera_node", "/simcam_a",
                       dict(seed=SEED, scene_index=INDEX, width=W, height=H, rate_hz=10.0),
                       tmp_path_factory.mktemp("simcam") / "simcam_a.log")
    listener = Listener(context, "/simcam_a")
    try:
        listener.wait("image", 3, timeout=90.0)
        yield listener, proc
    finally:
        listener.close()
        proc.stop()
        assert proc.proc.returncode in (0, -2), proc.log()


def test_camera_topics_share_stamps_and_frame_ids(camera):
    listener, proc = camera

    def common() -> set:
        keys = [{key(m.header) for m in listener.got[t]} for t in ("image", "depth", "info", "depth_info")]
        return set.intersection(*keys)

    # best effort may drop a message now and then (more so on a loaded machine), but every frame's messages
    # carry one stamp: several frames must be complete on all four topics
    assert spin_until(listener.executor, lambda: len(common()) >= 3, 60.0), \
        {t: len(v) for t, v in listener.got.items()}
    for topic in ("image", "depth", "info", "depth_info"):
        assert {m.header.frame_id for m in listener.got[topic]} == {FRAME}, topic
    img, depth = listener.got["image"][-1], listener.got["depth"][-1]
    assert (img.encoding, img.width, img.height, img.step) == ("rgb8", W, H, 3 * W)
    assert (depth.encoding, depth.width, depth.height) == ("16UC1", W, H)
    listener.wait("info", 10)
    stamps = sorted({s + ns * 1e-9 for s, ns in (key(m.header) for m in listener.got["info"])})
    period = float(np.percentile(np.diff(stamps), 25))  # robust to dropped messages
    assert 0.05 < period < 0.15, f"rate_hz 10 gives a period of {period:.3f} s"
    assert proc.proc.poll() is None


def test_camera_info_is_consistent_with_the_image(camera, live_scene):
    listener, _ = camera
    info = listener.wait("info")[-1]
    depth_info = listener.wait("depth_info")[-1]
    K = np.array(info.k).reshape(3, 3)
    assert (info.width, info.height) == (W, H)
    assert info.distortion_model == "plumb_bob" and list(info.d) == [0.0] * 5
    assert K[0, 0] > 0 and K[0, 0] == pytest.approx(K[1, 1])  # square pixels
    assert (K[0, 2], K[1, 2]) == pytest.approx(((W - 1) / 2, (H - 1) / 2))
    assert K[0, 1] == 0 and list(K[2]) == [0, 0, 1]
    P = np.array(info.p).reshape(3, 4)
    assert np.allclose(P[:, :3], K) and np.allclose(P[:, 3], 0)
    assert np.allclose(np.array(info.r).reshape(3, 3), np.eye(3))
    assert np.allclose(K, live_scene.K)
    # vertical field of view of MuJoCo's camera: fy = (H / 2) / tan(fovy / 2)
    assert K[1, 1] == pytest.approx((H / 2) / np.tan(np.deg2rad(live_scene.fovy_deg) / 2), rel=1e-4)
    assert list(depth_info.k) == list(info.k) and (depth_info.width, depth_info.height) == (W, H)


def test_depth_and_colour_match_the_live_rendering(camera, live_scene):
    listener, _ = camera
    depth = depth_to_numpy(listener.wait("depth")[-1])
    rgb = image_to_numpy(listener.wait("image")[-1])
    expected = live_scene.depth_image("16UC1")
    assert depth.dtype == np.uint16 and depth.shape == (H, W)
    valid = expected > 0
    assert valid.mean() > 0.5  # the table and the objects fill most of the view
    same = np.abs(depth.astype(np.int32) - expected.astype(np.int32)) <= 1
    assert same.mean() > 0.999, f"only {same.mean():.4%} of depth pixels match the in-process rendering"
    assert np.array_equal(depth == 0, expected == 0) or (np.mean((depth == 0) != (expected == 0)) < 1e-3)
    # millimetres: the rendered table lies 0.3 - 3 m away
    assert 300 < np.median(depth[valid]) < 3000
    assert np.mean(np.all(np.abs(rgb.astype(int) - live_scene.rgb.astype(int)) <= 2, axis=2)) > 0.99


def test_ground_truth_is_latched_parseable_and_agrees_with_the_rendering(camera, live_scene, context):
    from vipa_ros.data.tabletop.live import ground_truth_masks, match_mask

    camera[0].wait("image", 3)
    # subscribes long after the ground truth was published
    late = Listener(context, "/simcam_a", "sim_camera_test_late")
    try:
        gt = late.ground_truth(timeout=20.0)
    finally:
        late.close()
    assert gt["scene"]["seed"] == SEED and gt["scene"]["index"] == INDEX
    assert (gt["width"], gt["height"], gt["frame_id"]) == (W, H, FRAME)
    assert np.allclose(np.reshape(gt["K"], (3, 3)), live_scene.K, atol=1e-5)
    assert [o["name"] for o in gt["objects"]] == [o.name for o in live_scene.objects]
    K = live_scene.K
    masks = ground_truth_masks(gt)
    for o, ref in zip(gt["objects"], live_scene.objects):
        for field in ("category", "colour", "size", "size_m", "bbox", "pose", "expressions", "referable"):
            assert field in o, field
        assert o["pose"]["frame_id"] == FRAME
        assert np.allclose(o["pose"]["position"], ref.position, atol=1e-6)
        assert len(o["pose"]["quaternion_xyzw"]) == 4
        x, y, z = o["pose"]["position"]
        assert z > 0.1
        u, v = K[0, 0] * x / z + K[0, 2], K[1, 1] * y / z + K[1, 2]
        assert (u, v) == pytest.approx(tuple(o["center_px"]), abs=0.01)
        bx, by, bw, bh = o["bbox"]
        assert 0 <= bx and 0 <= by and bx + bw <= W and by + bh <= H and bw > 0 and bh > 0
        assert np.array_equal(masks[o["name"]], live_scene.mask(ref))
        if o["referable"]:
            assert o["expressions"], o["name"]
            assert all(e["raw"] and e["type"] for e in o["expressions"])
        # the helper the e2e tests use: a ground-truth mask matches its own object with IoU 1
        best, iou = match_mask(masks[o["name"]], gt, masks)[0]
        assert best["name"] == o["name"] and iou == pytest.approx(1.0)
    blue_cups = [o for o in gt["objects"] if o["category"] == "mug" and o["colour"] == "blue"]
    assert len(blue_cups) == 1 and blue_cups[0]["referable"], "the demo scene must hold exactly one blue mug"


def test_scene_switches_by_parameter_and_by_service(camera):
    listener, proc = camera
    first = listener.ground_truth(lambda g: g["scene"]["index"] == INDEX)
    old_image = bytes(listener.wait("image")[-1].data)

    result = listener.set_int("scene_index", INDEX + 1)
    assert result.successful, result.reason
    gt = listener.ground_truth(lambda g: g["scene"]["index"] == INDEX + 1)
    assert [o["name"] for o in gt["objects"]] != [o["name"] for o in first["objects"]] \
        or gt["camera_pose_world"] != first["camera_pose_world"]
    valid_from = (gt["valid_from"]["sec"], gt["valid_from"]["nanosec"])
    new = listener.wait("image", 1, predicate=lambda m: key(m.header) >= valid_from)[-1]
    assert bytes(new.data) != old_image

    reply = listener.call(listener.next_scene, Trigger.Request())
    assert reply.success and f"/{INDEX + 2}" in reply.message, reply.message
    listener.ground_truth(lambda g: g["scene"]["index"] == INDEX + 2)

    bad = listener.set_int("width", 0)
    assert not bad.successful and "width" in bad.reason
    assert not listener.set_double("depth_dropout", 1.5).successful

    # a new rate takes effect at once (the timer is replaced from inside its own callback)
    assert listener.set_double("rate_hz", 20.0).successful
    n = len(listener.got["info"])
    listener.wait("info", n + 10, timeout=30.0)
    recent = sorted(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in listener.got["info"][n:])
    assert np.percentile(np.diff(recent), 25) < 0.075
    assert listener.set_double("rate_hz", 10.0).successful
    listener.set_int("scene_index", INDEX)  # back to the scene the other tests compare with
    listener.ground_truth(lambda g: g["scene"]["index"] == INDEX)
    listener.wait("image", 2, predicate=lambda m: bytes(m.data) == old_image)
    assert proc.proc.poll() is None


def test_params_file_section_float_depth_noise_and_dropout(context, tmp_path, live_scene):
    """Started as the launch plan starts it (package params file + a user's file with a /**/vipa_sim_camera
    section, namespaced): 32FC1 metres with NaN = invalid, fresh Gaussian noise and dropout every frame."""
    from vipa_ros.nodes.cli_launch import node_command
    from vipa_ros.nodes.demo import Processes
    from vipa_ros.nodes.launch_plan import NodeSpec

    user = tmp_path / "sim.yaml"
    user.write_text(yaml.safe_dump({"/**/vipa_sim_camera": {"ros__parameters": {
        "width": W, "height": H, "scene_index": INDEX, "seed": SEED, "rate_hz": 10.0, "depth_encoding": "32FC1",
        "depth_noise_std_m": 0.003, "depth_dropout": 0.1, "noise_seed": 1, "ground_truth_masks": False}}}))
    spec = NodeSpec("sim_camera_node", "vipa_sim_camera", "simcam_b",
                    [str(REPO_ROOT / "config" / "segment.yaml"), str(user)])
    procs = Processes(tmp_path)
    procs.start([("vipa_sim_camera", node_command(spec, "info"))])
    listener = Listener(context, "/simcam_b", "sim_camera_test_b")
    try:
        frames = listener.wait("depth", 3, timeout=90.0)
        gt = listener.ground_truth()
        assert "mask_rle" not in gt["objects"][0]
        a, b = depth_to_numpy(frames[-1]), depth_to_numpy(frames[-2])
        assert frames[-1].encoding == "32FC1" and a.dtype == np.float32 and a.shape == (H, W)
        clean = live_scene.depth_m
        valid = clean > 0
        kept = np.isfinite(a) & valid
        assert np.all(np.isnan(a[~valid])), "no-hit pixels must be NaN in 32FC1"
        assert 0.85 < kept.sum() / valid.sum() < 0.95, "depth_dropout 0.1"
        diff = a[kept] - clean[kept]
        assert abs(float(np.median(diff))) < 0.001 and 0.002 < float(np.std(diff)) < 0.004
        both = kept & np.isfinite(b)
        assert not np.array_equal(a[both], b[both]), "noise must be drawn afresh for every frame"
    finally:
        listener.close()
        assert procs.stop(), procs.tail("vipa_sim_camera")


def test_parameter_section_documents_every_parameter():
    from vipa_ros.nodes.sim_camera_node import PARAMETERS

    section = yaml.safe_load((REPO_ROOT / "config" / "segment.yaml").read_text())["/**/vipa_sim_camera"]
    values = section["ros__parameters"]
    assert set(values) == set(PARAMETERS)
    for name, (default, _) in PARAMETERS.items():
        assert values[name] == default, f"{name}: config/segment.yaml says {values[name]!r}, the node {default!r}"

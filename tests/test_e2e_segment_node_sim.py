"""sim_camera_node -> segment_node over real DDS, started exactly as `vipa launch use_sim:=true` starts them (launch
plan, package parameter file, remappings), with a random vipa_tiny checkpoint: segment_node gets the simulated
colour, depth and CameraInfo, its outputs carry the sim frame's header, 3D poses come from the sim depth, the
one-shot ~/segment service answers on a sim frame, and predictions are scored against the sim ground truth.

Random weights say nothing about accuracy. `test_shipped_model_selects_the_demo_objects` does: the shipped
weights (weights/vipa_s.safetensors) must pick the demo's objects.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="ROS 2 not installed: run `make setup`")
pytest.importorskip("mujoco")

import rclpy  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from ros_helpers import spin_until_alive  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from conftest import REPO_ROOT  # noqa: E402
from vipa_ros.msg import Instance, Segmentation  # noqa: E402
from vipa_ros.nodes.demo import Processes, evaluate, instance_mask, objects_described  # noqa: E402
from vipa_ros.nodes.service_call import call_service  # noqa: E402
from vipa_ros.srv import Segment  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FRAME = "camera_color_optical_frame"
PARAMS_FILE = str(REPO_ROOT / "config" / "segment.yaml")


class Pipeline:
    """The launched processes and the test's DDS side (sim frames, ground truth, segment outputs, services)."""

    def __init__(self, ns: str, launch_args: dict[str, str], segment_params: dict, log_dir) -> None:
        from vipa_ros.nodes.cli_launch import node_command
        from vipa_ros.nodes.launch_plan import plan

        specs = plan({"use_sim": "true", "namespace": ns, **launch_args}, PARAMS_FILE)
        assert [s.executable for s in specs] == ["sim_camera_node", "segment_node"]
        if segment_params:
            specs[1].parameters.append(segment_params)  # as later -p overrides (test-only knobs)
        self.procs = Processes(log_dir)
        self.procs.start([(s.name, node_command(s, "info")) for s in specs])
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("e2e_sim_client", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        n, base, seg_ns = self.node, f"/{ns}", f"/{ns}/vipa_segment"
        self.frames: dict[tuple[int, int], object] = {}
        self.gt: list[dict] = []
        self.segs: list[Segmentation] = []
        self.masks: list[Image] = []
        reliable = QoSProfile(depth=20, reliability=QoSReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                             durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        # stamps of the sim frames, from the images and from the (small, rarely dropped) CameraInfo of each frame
        sensor = QoSProfile(depth=50, reliability=qos_profile_sensor_data.reliability)
        for msg_type, topic in ((Image, "color/image_raw"), (CameraInfo, "color/camera_info")):
            n.create_subscription(msg_type, f"{base}/sim_camera/{topic}",
                                  lambda m: self.frames.__setitem__(key(m.header), m.header), sensor)
        n.create_subscription(String, f"{base}/sim_camera/ground_truth", lambda m: self.gt.append(json.loads(m.data)),
                              latched)
        n.create_subscription(Segmentation, f"{seg_ns}/segmentation", self.segs.append, reliable)
        n.create_subscription(Image, f"{seg_ns}/mask", self.masks.append, reliable)
        self.command = n.create_publisher(String, f"{base}/command", 10)
        self.get_state = n.create_client(GetState, f"{seg_ns}/get_state")
        self.segment = n.create_client(Segment, f"{seg_ns}/segment")

    def spin_until(self, condition, timeout: float) -> bool:
        return spin_until_alive(self.executor, self.procs, condition, timeout)

    def call(self, client, request, timeout: float = 60.0, resend_s: float | None = 5.0):
        return call_service(client, request, self.spin_until, timeout, resend_s)

    def wait_active(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.call(self.get_state, GetState.Request(), max(1.0, deadline - time.monotonic())
                              ).current_state.label
            if state == "active":
                return
            self.spin_until(lambda: False, 1.0)
        raise AssertionError(f"vipa_segment is '{state}' after {timeout} s:\n{self.procs.tail('vipa_segment')}")

    def close(self) -> bool:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        return self.procs.stop()


def key(header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, tiny_weights):
    # mask_threshold 0: with random weights every pixel belongs to the target, so a pose (from the sim depth
    # and CameraInfo paired by stamp) always exists; score_threshold 0 keeps that instance
    p = Pipeline("e2e_sim", {"model": "vipa_tiny", "weights": str(tiny_weights), "device": "cpu", "backend": "torch"},
                 {"score_threshold": 0.0, "mask_threshold": 0.0, "min_instance_area_px": 1, "max_instances": 1,
                  "max_rate_hz": 2.0},
                 tmp_path_factory.mktemp("e2e_sim_logs"))
    try:
        assert p.spin_until(lambda: p.frames and p.gt, 120.0), p.procs.tail("vipa_sim_camera")
        p.wait_active()
        yield p
    finally:
        assert p.close(), "child processes did not stop cleanly"


def test_segment_node_serves_sim_frames_with_their_header_and_depth(pipeline):
    p = pipeline
    n_before = len(p.segs)
    p.command.publish(String(data="pick the blue cup"))

    def answers() -> list[Segmentation]:
        return [s for s in p.segs[n_before:] if s.expression == "the blue cup"]

    def matched() -> list[Segmentation]:
        # Segmentations of frames this test received too, with a pose. Best-effort delivery drops frames under
        # load (here: to this test and to segment_node alike), so not every Segmentation qualifies.
        return [s for s in answers() if key(s.header) in p.frames and s.instances and s.instances[0].has_pose]

    assert p.spin_until(lambda: bool(answers()), 120.0), p.procs.tail("vipa_segment")
    assert p.spin_until(lambda: bool(matched()), 90.0), (
        f"no Segmentation with a pose carries the header of a sim frame this test received: "
        f"{[(key(s.header), bool(s.instances) and s.instances[0].has_pose) for s in answers()]} "
        f"frames {sorted(p.frames)[-30:]}\n{p.procs.tail('vipa_segment')}")
    first_frame = min(p.frames)
    for s in answers():
        assert (s.command, s.action, s.header.frame_id) == ("pick the blue cup", "pick", FRAME)
        assert key(s.header) >= first_frame  # stamped by the sim camera's clock, not by segment_node's
    seg = matched()[0]
    assert p.spin_until(lambda: any(key(m.header) == key(seg.header) for m in p.masks), 10.0)
    mask = next(m for m in p.masks if key(m.header) == key(seg.header))
    gt = p.gt[-1]
    assert (mask.width, mask.height, mask.encoding) == (gt["width"], gt["height"], "mono8")
    assert len(seg.instances) == 1
    target = seg.instances[0]
    assert target.pose.header.frame_id == FRAME and key(target.pose.header) == key(seg.header)
    # the whole view as one "object": its centre lies among the objects, as far away as the table
    z = target.pose.pose.position.z
    gt_z = [o["pose"]["position"][2] for o in gt["objects"]]
    assert min(gt_z) - 0.3 < z < max(gt_z) + 1.0, (z, gt_z)
    assert target.valid_points > 1000
    p.command.publish(String(data="stop"))


def test_one_shot_segment_service_returns_a_sim_frame(pipeline):
    p = pipeline
    stamps = []
    for _ in range(8):  # until the frame it used is one this test received as well (best effort)
        reply = p.call(p.segment, Segment.Request(command="find the red block", timeout_s=60.0), 120.0, resend_s=70.0)
        assert reply.success, reply.message
        seg = reply.segmentation
        assert seg.action == "find" and seg.expression == "the red block" and seg.header.frame_id == FRAME
        stamps.append(key(seg.header))
        if p.spin_until(lambda: key(seg.header) in p.frames, 3.0):
            break
    else:
        raise AssertionError(f"no one-shot answer on a received sim frame: {stamps} vs {sorted(p.frames)[-30:]}")
    assert len(set(stamps)) == len(stamps), "every one-shot request is answered on a new frame"


def test_predictions_are_scored_against_the_sim_ground_truth(pipeline):
    """The scoring used by the demo (and by the trained-model test): a prediction equal to an object's true mask
    at its true centre is CORRECT with IoU 1 and 0 cm; a whole-image mask is not."""
    from vipa_ros.data.tabletop.live import ground_truth_masks
    from vipa_ros.nodes.conversions import numpy_to_image

    p = pipeline
    gt = p.gt[-1]
    masks = ground_truth_masks(gt)
    (cup,) = objects_described(gt, "cup", "blue")
    assert cup["referable"]

    def segmentation_with(mask: np.ndarray, position) -> Segmentation:
        ys, xs = np.nonzero(mask)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        inst = Instance(id=1, score=0.9, has_pose=True)
        inst.roi.x_offset, inst.roi.y_offset, inst.roi.width, inst.roi.height = map(int, (x0, y0, x1 - x0, y1 - y0))
        inst.mask = numpy_to_image(mask[y0:y1, x0:x1].astype(np.uint8) * 255, "mono8")
        inst.pose.pose.position.x, inst.pose.pose.position.y, inst.pose.pose.position.z = position
        inst.pose.pose.orientation.w = 1.0
        return Segmentation(command="pick the blue cup", expression="the blue cup", instances=[inst])

    perfect = evaluate(segmentation_with(masks[cup["name"]], cup["pose"]["position"]), gt, cup["name"], masks)
    assert (perfect.verdict, perfect.chosen, perfect.iou, perfect.expected_iou) == ("CORRECT", cup["name"], 1.0, 1.0)
    assert perfect.centre_error_m == pytest.approx(0.0, abs=1e-9)
    assert np.array_equal(instance_mask(segmentation_with(masks[cup["name"]], (0, 0, 1)).instances[0],
                                        gt["height"], gt["width"]), masks[cup["name"]])

    other = next(o for o in gt["objects"] if o["name"] != cup["name"] and o["referable"])
    shifted = np.array(cup["pose"]["position"]) + [0.03, 0.0, 0.04]
    wrong = evaluate(segmentation_with(masks[other["name"]], shifted), gt, cup["name"], masks)
    assert wrong.verdict == "WRONG OBJECT" and wrong.chosen == other["name"] and wrong.expected_iou == 0.0
    assert wrong.centre_error_m == pytest.approx(0.05)

    assert evaluate(Segmentation(expression="x"), gt, cup["name"], masks).verdict == "NO MATCH"

    # the node's real output for the random model: scored, whatever it is
    seg = next(s for s in reversed(p.segs) if s.instances)
    real = evaluate(seg, gt, cup["name"], masks)
    assert real.score is not None and real.iou < 0.5  # a whole-image mask matches no object


def test_demo_commands_come_from_the_ground_truth(pipeline):
    from vipa_ros.nodes.demo import BLUE_CUP, choose_commands, expected_for

    gt = pipeline.gt[-1]
    by_name = {o["name"]: o for o in gt["objects"]}
    commands = choose_commands(gt, 3)
    assert commands[0][0] == BLUE_CUP and by_name[commands[0][1]]["category"] == "mug"
    assert len(commands) == 4 and len({c for c, _ in commands}) == 4
    types = []
    for text, name in commands[1:]:
        exprs = {e["raw"]: e["type"] for e in by_name[name]["expressions"]}
        assert text in exprs and by_name[name]["referable"]
        types.append(exprs[text])
        assert expected_for(text, gt) == name
    assert len(set(types)) == len(types), "one command per sentence type"
    assert expected_for("Pick the blue cup.", gt) == commands[0][1]
    assert expected_for("the purple giraffe", gt) is None


def test_shipped_model_selects_the_demo_objects(tmp_path, shipped_vipa_s):
    """Issue 5's right-object criterion over DDS, with the shipped vipa_s weights: for the demo's commands ("pick
    the blue cup" and one generator expression per sentence type, chosen from the scene's ground truth by
    `choose_commands`, which was fixed before any model was trained), the one-shot ~/segment service's target is
    the expected object; the blue cup's mask also overlaps it with IoU >= 0.5 and its grasp position lies near
    the cup's true centre. This is one scene: the model's accuracy over the whole test split is issue 4's
    `vipa eval` (README, "Status")."""
    from vipa_ros.nodes.demo import BLUE_CUP, choose_commands

    p = Pipeline("e2e_shipped", {"device": "cpu"}, {}, tmp_path)
    try:
        assert p.spin_until(lambda: p.frames and p.gt, 120.0), p.procs.tail("vipa_sim_camera")
        p.wait_active(600.0)
        gt = p.gt[-1]
        outcomes = []
        for command, expected in choose_commands(gt, 3):
            reply = p.call(p.segment, Segment.Request(command=command, timeout_s=120.0), 300.0, resend_s=130.0)
            assert reply.success, reply.message
            outcome = evaluate(reply.segmentation, gt, expected)
            print(f"\n[shipped model] {outcome.to_dict()}")
            outcomes.append(outcome)
        assert len(outcomes) == 4 and all(o.expected for o in outcomes)
        wrong = [(o.command, o.expected, o.chosen, o.verdict) for o in outcomes if o.chosen != o.expected]
        assert not wrong, f"{len(wrong)} of {len(outcomes)} commands selected another object: {wrong}"
        cup = outcomes[0]
        assert cup.command == BLUE_CUP and cup.verdict == "CORRECT", cup.to_dict()
        assert cup.has_pose and cup.centre_error_m < 0.06, cup.to_dict()
    finally:
        assert p.close()

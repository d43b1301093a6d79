"""Issue 6 criterion: "pick the blue cup" spoken into the audio topic reaches segment_node as a command, and the
Segmentation it publishes for the generated scene selects the blue cup.

The three processes are started exactly as `vipa launch use_sim:=true use_speech:=true` starts them (launch plan,
package parameter files, remappings): vipa_sim_camera (MuJoCo scene seed 2024/207 with one blue mug), vipa_speech
(grammar backend) and vipa_segment. The test publishes synthetic speech (espeak-ng) as vipa_ros/Audio on
`<ns>/audio` and listens to `<ns>/vipa_segment/segmentation`.

`test_spoken_command_reaches_segment_node` runs with a random vipa_tiny checkpoint (about 25 s, in the default
suite): it checks the whole chain (speech -> command -> Segmentation of a sim frame with the spoken command),
not accuracy.
`test_spoken_command_selects_the_blue_cup` runs the shipped vipa_s weights (`shipped_vipa_s`) and checks that
the target IS the ground-truth blue cup.
"""
from __future__ import annotations

import json
import shutil
import time

import pytest

pytest.importorskip("rclpy", reason="ROS 2 not installed: run `make setup`")
pytest.importorskip("mujoco")
pytest.importorskip("pocketsphinx", reason="the grammar backend needs pocketsphinx")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng not installed (apt-get install espeak-ng)", allow_module_level=True)

import rclpy  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy  # noqa: E402
from ros_helpers import spin_until_alive  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from conftest import REPO_ROOT  # noqa: E402
from vipa_ros.language.speech.audio import float_to_s16le  # noqa: E402
from vipa_ros.language.speech.tts import synthesize  # noqa: E402
from vipa_ros.msg import Audio, Segmentation  # noqa: E402
from vipa_ros.nodes.demo import Processes, evaluate, objects_described  # noqa: E402
from vipa_ros.nodes.service_call import call_service  # noqa: E402

pytestmark = [pytest.mark.ros]

COMMAND = "pick the blue cup"
PARAMS_FILE = str(REPO_ROOT / "config" / "segment.yaml")


class SpokenPipeline:
    """sim camera + speech + segment processes, and the test's DDS side."""

    def __init__(self, ns: str, launch_args: dict[str, str], segment_params: dict, log_dir) -> None:
        from vipa_ros.nodes.cli_launch import node_command
        from vipa_ros.nodes.launch_plan import plan

        specs = plan({"use_sim": "true", "use_speech": "true", "namespace": ns, **launch_args}, PARAMS_FILE)
        assert [s.executable for s in specs] == ["sim_camera_node", "segment_node", "speech_node"]
        specs[1].parameters.append(segment_params)
        self.procs = Processes(log_dir)
        self.procs.start([(s.name, node_command(s, "info")) for s in specs])
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("e2e_speech_client", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        reliable = QoSProfile(depth=20, reliability=QoSReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                             durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        self.segs: list[Segmentation] = []
        self.commands: list[str] = []
        self.gt: list[dict] = []
        n, base = self.node, f"/{ns}"
        n.create_subscription(Segmentation, f"{base}/vipa_segment/segmentation", self.segs.append, reliable)
        n.create_subscription(String, f"{base}/command", lambda m: self.commands.append(m.data), reliable)
        n.create_subscription(String, f"{base}/sim_camera/ground_truth", lambda m: self.gt.append(json.loads(m.data)),
                              latched)
        self.audio = n.create_publisher(Audio, f"{base}/audio", QoSProfile(depth=10,
                                                                          reliability=QoSReliabilityPolicy.RELIABLE))
        self.states = {name: n.create_client(GetState, f"{base}/{name}/get_state")
                       for name in ("vipa_segment", "vipa_speech")}

    def spin_until(self, condition, timeout: float) -> bool:
        return spin_until_alive(self.executor, self.procs, condition, timeout)

    def wait_active(self, name: str, timeout: float) -> None:
        client = self.states[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spin_until(client.service_is_ready, 5.0):
                if call_service(client, GetState.Request(), self.spin_until, 60.0).current_state.label == "active":
                    return
            self.spin_until(lambda: False, 1.0)
        raise AssertionError(f"{name} is not active after {timeout} s:\n{self.procs.tail(name)}")

    def say(self, text: str) -> Audio:
        msg = Audio(sample_rate=16000, channels=1, encoding="S16LE")
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.data = float_to_s16le(synthesize(text, "espeak_us_m"))
        assert self.spin_until(lambda: self.audio.get_subscription_count() > 0, 30.0)
        self.audio.publish(msg)
        return msg

    def close(self) -> bool:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        return self.procs.stop()


def spoken_segmentation(p: SpokenPipeline, timeout: float) -> Segmentation:
    """Say COMMAND; return the first Segmentation for it (published on a frame after the command arrived)."""
    n = len(p.segs)
    p.say(COMMAND)
    assert p.spin_until(lambda: COMMAND in p.commands, 60.0), (
        f"speech_node sent {p.commands}:\n{p.procs.tail('vipa_speech')}")
    assert p.spin_until(lambda: any(s.command == COMMAND for s in p.segs[n:]), timeout), (
        p.procs.tail("vipa_segment"))
    return next(s for s in p.segs[n:] if s.command == COMMAND)


def test_spoken_command_reaches_segment_node(tmp_path, tiny_weights):
    p = SpokenPipeline("e2e_speech", {"model": "vipa_tiny", "weights": str(tiny_weights), "device": "cpu",
                                      "backend": "torch"},
                       {"score_threshold": 0.0, "min_instance_area_px": 1, "max_rate_hz": 2.0}, tmp_path)
    try:
        p.wait_active("vipa_speech", 120.0)
        p.wait_active("vipa_segment", 300.0)
        assert p.spin_until(lambda: bool(p.gt), 120.0), p.procs.tail("vipa_sim_camera")
        assert not any(s.command == COMMAND for s in p.segs)  # nothing to segment before the command
        seg = spoken_segmentation(p, 120.0)
        assert (seg.action, seg.expression) == ("pick", "the blue cup")
        assert seg.header.frame_id == "camera_color_optical_frame"
        (cup,) = objects_described(p.gt[-1], "cup", "blue")  # the scene has exactly one blue cup to find
        print(f"\n[random weights] {evaluate(seg, p.gt[-1], cup['name']).to_dict()}")
    finally:
        assert p.close(), "child processes did not stop cleanly"


@pytest.mark.slow
def test_spoken_command_selects_the_blue_cup(tmp_path, shipped_vipa_s):
    p = SpokenPipeline("e2e_speech_trained", {"device": "cpu"}, {"max_rate_hz": 2.0}, tmp_path)
    try:
        p.wait_active("vipa_speech", 120.0)
        p.wait_active("vipa_segment", 600.0)
        assert p.spin_until(lambda: bool(p.gt), 120.0), p.procs.tail("vipa_sim_camera")
        seg = spoken_segmentation(p, 300.0)
        gt = p.gt[-1]
        (cup,) = objects_described(gt, "cup", "blue")
        outcome = evaluate(seg, gt, cup["name"])
        print(f"\n[shipped model, spoken command] {outcome.to_dict()}")
        assert outcome.verdict == "CORRECT", outcome.to_dict()
    finally:
        assert p.close()

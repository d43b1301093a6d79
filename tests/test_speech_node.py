"""speech_node over real DDS (its own process): synthetic speech on the `audio` topic becomes a `command`, a
transcript with confidence and diagnostics; bad audio never stops it; the microphone and WAV inputs."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml

pytest.importorskip("rclpy", reason="ROS 2 not installed: run `make setup`")
pytest.importorskip("pocketsphinx", reason="the grammar backend needs pocketsphinx")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng not installed (apt-get install espeak-ng)", allow_module_level=True)

import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, QoSReliabilityPolicy  # noqa: E402
from ros_helpers import NodeProcess, call, spin_until  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from conftest import REPO_ROOT  # noqa: E402
from vipa_ros.language.speech.audio import float_to_s16le, resample, write_wav  # noqa: E402
from vipa_ros.language.speech.tts import synthesize  # noqa: E402
from vipa_ros.msg import Audio  # noqa: E402

pytestmark = [pytest.mark.ros]


def audio_msg(samples: np.ndarray, rate: int = 16000, channels: int = 1, encoding: str = "S16LE") -> Audio:
    msg = Audio(sample_rate=rate, channels=channels, encoding=encoding)
    data = samples.astype("<f4").tobytes() if encoding == "F32LE" else float_to_s16le(samples)
    msg.data = data
    return msg


class Client:
    def __init__(self, context, ns: str) -> None:
        self.node = rclpy.create_node("speech_test_client", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        reliable = QoSProfile(depth=100, reliability=QoSReliabilityPolicy.RELIABLE)
        self.audio = self.node.create_publisher(Audio, f"{ns}/audio", reliable)
        self.commands: list[str] = []
        self.transcripts: list[dict] = []
        self.diags: list[DiagnosticStatus] = []
        self.node.create_subscription(String, f"{ns}/command", lambda m: self.commands.append(m.data), reliable)
        self.node.create_subscription(String, f"{ns}/vipa_speech/transcript",
                                      lambda m: self.transcripts.append(json.loads(m.data)), reliable)
        self.node.create_subscription(
            DiagnosticArray, "/diagnostics",
            lambda m: self.diags.extend(s for s in m.status if s.name.startswith(f"{ns}/vipa_speech:")), 50)
        self.get_state = self.node.create_client(GetState, f"{ns}/vipa_speech/get_state")

    def state(self) -> str:
        return call(self.executor, self.get_state, GetState.Request(), 60.0).current_state.label

    def wait_active(self, proc) -> None:
        assert spin_until(self.executor, lambda: self.audio.get_subscription_count() > 0, 60.0), proc.log()
        assert spin_until(self.executor, lambda: self.state() == "active", 180.0), proc.log()

    def say(self, samples: np.ndarray, timeout: float = 60.0, **kwargs) -> dict:
        """Publish one utterance; return its transcript record once it arrives."""
        n = len(self.transcripts)
        self.audio.publish(audio_msg(samples, **kwargs))
        assert spin_until(self.executor, lambda: len(self.transcripts) > n, timeout), "no transcript"
        return self.transcripts[n]

    def diag(self, predicate, timeout: float = 10.0, since: int | None = None) -> DiagnosticStatus:
        n = len(self.diags) if since is None else since
        assert spin_until(self.executor, lambda: any(predicate(s) for s in self.diags[n:]), timeout), (
            [(s.level, s.message) for s in self.diags[-5:]])
        return next(s for s in self.diags[n:] if predicate(s))

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("speech_node")
    context = rclpy.context.Context()
    rclpy.init(context=context)
    proc = NodeProcess("speech_node", "/speech_a", {"diagnostics_period_s": 0.3}, tmp / "speech_node.log")
    client = Client(context, "/speech_a")
    try:
        client.wait_active(proc)
        yield client, proc
    finally:
        client.close()
        proc.stop()
        context.try_shutdown()


def test_spoken_command_becomes_the_command(speech):
    client, proc = speech
    record = client.say(synthesize("pick the blue cup", "espeak_us_m"))
    assert record["transcript"] == "pick the blue cup" and record["accepted"], (record, proc.log())
    assert record["confidence"] >= 0.5 and record["backend"] == "grammar"
    assert (record["action"], record["expression"]) == ("pick", "the blue cup")
    assert spin_until(client.executor, lambda: client.commands == ["pick the blue cup"], 5.0), client.commands
    status = client.diag(lambda s: {kv.key: kv.value for kv in s.values}.get("accepted") == "1")
    values = {kv.key: kv.value for kv in status.values}
    assert values["backend"] == "grammar" and values["last_command"] == "pick the blue cup"
    assert float(values["latency_recognition_ms"]) > 0


def test_streamed_stereo_float_audio_at_44k1(speech):
    client, proc = speech
    voice = synthesize("stop", "flite_slt")
    x = resample(voice, 16000, 44100)
    stereo = np.stack([x, 0.5 * x], axis=1).reshape(-1)  # interleaved
    n = len(client.transcripts)
    chunk = 2 * 441 * 2  # 20 ms of stereo frames
    for start in range(0, len(stereo), chunk):
        client.audio.publish(audio_msg(stereo[start:start + chunk], 44100, 2, "F32LE"))
    assert spin_until(client.executor, lambda: len(client.transcripts) > n, 60.0), proc.log()
    assert [t["transcript"] for t in client.transcripts[n:]] == ["stop"], client.transcripts[n:]
    assert spin_until(client.executor, lambda: client.commands[-1:] == ["stop"], 5.0)


BAD = {
    "mp3": (Audio(sample_rate=16000, channels=1, encoding="MP3", data=b"\x00\x01" * 800), "unsupported audio encoding"),
    "rate_0": (Audio(sample_rate=0, channels=1, encoding="S16LE", data=b"\x00\x01" * 800), "sample rate 0"),
    "rate_7": (Audio(sample_rate=7, channels=1, encoding="S16LE", data=b"\x00\x01" * 800), "sample rate 7"),
    "nan": (Audio(sample_rate=16000, channels=1, encoding="F32LE",
                  data=np.full(800, np.nan, "<f4").tobytes()), "NaN/inf"),
    "empty": (Audio(sample_rate=16000, channels=1, encoding="S16LE", data=b""), "zero-length"),
    "odd_bytes": (Audio(sample_rate=16000, channels=2, encoding="S16LE", data=b"\x00" * 1001), "whole number"),
    "no_channels": (Audio(sample_rate=16000, channels=0, encoding="S16LE", data=b"\x00" * 1000), "channel count 0"),
}


@pytest.mark.parametrize("bad", list(BAD))
def test_bad_audio_is_reported_and_the_node_keeps_serving(speech, bad):
    client, proc = speech
    msg, expect = BAD[bad]
    client.audio.publish(msg)
    status = client.diag(lambda s: s.level == DiagnosticStatus.ERROR and expect in s.message)
    assert "bad audio on 'audio' ignored" in status.message
    assert proc.proc.poll() is None
    record = client.say(synthesize("point at the second bottle", "espeak_us_m"))
    assert record["transcript"] == "point at the second bottle" and record["accepted"], record


def test_low_confidence_speech_is_reported_not_sent(speech):
    client, proc = speech
    # every accepted transcript so far has its command (it is published right after the transcript)
    assert spin_until(client.executor, lambda: len(client.commands) == sum(t["accepted"] for t in client.transcripts),
                      5.0)
    n_commands, n_diags = len(client.commands), len(client.diags)
    record = client.say(synthesize("the weather is lovely today isn't it", "espeak_us_m"))
    assert not record["accepted"] and record["confidence"] < 0.5, record

    def reports_it(status) -> bool:
        values = {kv.key: kv.value for kv in status.values}
        return "low confidence" in values.get("last_rejected", "") and status.level >= DiagnosticStatus.WARN

    status = client.diag(reports_it, since=n_diags)  # WARN, or ERROR while an earlier bad chunk is recent
    if status.level == DiagnosticStatus.WARN:
        assert status.message.startswith("not sent:")
    client.executor.spin_once(timeout_sec=1.0)
    assert len(client.commands) == n_commands
    assert "not sent as a command" in proc.log()


def test_parameter_file_lists_the_node_defaults():
    from vipa_ros.nodes.speech_node import PARAMETERS

    section = yaml.safe_load((REPO_ROOT / "config" / "speech.yaml").read_text())["/**/vipa_speech"]
    values = section["ros__parameters"]
    assert set(values) == set(PARAMETERS)
    for name, (default, _) in PARAMETERS.items():
        assert values[name] == default, f"{name}: config/speech.yaml says {values[name]!r}, the node {default!r}"


def test_wav_file_input_and_a_missing_microphone(tmp_path, ros_context):
    """wav_file is recognised on activation; use_microphone without a sound device is one clear log line and a
    diagnostics warning, while the audio topic keeps working. The recogniser runs with the shipped acoustic
    adaptation to the synthetic voices."""
    from vipa_ros.language.speech.adaptation import synthetic_voices_adaptation

    adaptation = str(synthetic_voices_adaptation())
    wav = tmp_path / "command.wav"
    speech = np.concatenate([synthesize("find the red lego", "espeak_us_m"), np.zeros(8000, np.float32),
                             synthesize("hand me the small yellow ball", "espeak_us_m")])
    write_wav(wav, resample(speech, 16000, 22050), 22050)
    client = Client(ros_context, "/speech_b")
    proc = NodeProcess("speech_node", "/speech_b", {"wav_file": str(wav), "use_microphone": True,
                                                    "microphone_device": "no-such-device",
                                                    "acoustic_adaptation": adaptation,
                                                    "diagnostics_period_s": 0.3}, tmp_path / "speech_b.log")
    try:
        client.wait_active(proc)
        assert spin_until(client.executor, lambda: len(client.commands) >= 2, 60.0), proc.log()
        assert client.commands == ["find the red lego", "hand me the small yellow ball"]
        log = proc.log()
        assert log.count("no microphone") == 1, log
        status = client.diag(lambda s: any(kv.key == "input_microphone" for kv in s.values))
        values = {kv.key: kv.value for kv in status.values}
        assert values["input_microphone"].startswith("unavailable:")
        assert values["input_wav_file"].startswith(str(wav))
        assert values["acoustic_adaptation"] == adaptation and "adaptation_error" not in values
        record = client.say(synthesize("cancel", "espeak_us_m"))
        assert record["transcript"] == "cancel" and record["accepted"] and record["action"] == "stop"
    finally:
        client.close()
        proc.stop()


def test_a_corrupt_acoustic_adaptation_is_reported_and_left_out(tmp_path, ros_context):
    bad = tmp_path / "adapted"
    bad.mkdir()
    (bad / "means").write_bytes(b"s3\nversion 1.0\nendhdr\n")  # a header and nothing else
    client = Client(ros_context, "/speech_d")
    proc = NodeProcess("speech_node", "/speech_d", {"acoustic_adaptation": str(bad), "diagnostics_period_s": 0.3},
                       tmp_path / "speech_d.log")
    try:
        client.wait_active(proc)
        status = client.diag(lambda s: s.level >= DiagnosticStatus.WARN and "acoustic adaptation" in s.message)
        values = {kv.key: kv.value for kv in status.values}
        assert values["acoustic_adaptation"] == "none" and str(bad / "means") in values["adaptation_error"], values
        assert "not used, recognising with the unadapted model" in proc.log()
        record = client.say(synthesize("pick the blue cup", "espeak_us_m"))
        assert record["transcript"] == "pick the blue cup" and record["accepted"], record
    finally:
        client.close()
        proc.stop()


def test_unknown_recognizer_leaves_the_node_unconfigured_and_says_why(tmp_path, ros_context):
    client = Client(ros_context, "/speech_c")
    proc = NodeProcess("speech_node", "/speech_c", {"vocabulary": str(tmp_path / "missing.yaml"),
                                                    "diagnostics_period_s": 0.3}, tmp_path / "speech_c.log")
    try:
        status = client.diag(lambda s: s.level == DiagnosticStatus.ERROR, timeout=60.0)
        assert "vocabulary file not found" in status.message, status.message
        assert client.state() == "unconfigured" and proc.proc.poll() is None
    finally:
        client.close()
        proc.stop()

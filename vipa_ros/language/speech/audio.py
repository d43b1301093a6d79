"""Audio utilities: raw bytes / arrays of any rate, channel count and sample format -> 16 kHz mono float32.

Everything speech-related in vipa_ros works on ``numpy.float32`` mono audio in [-1, 1] at
:data:`TARGET_RATE` (16 kHz, what pocketsphinx's en-us model and Whisper expect). Invalid input raises
:class:`AudioError` with a message that says what is wrong; callers (the node, the CLI) log it and go on.
"""
from __future__ import annotations

import math
import os
import struct
from fractions import Fraction

import numpy as np

TARGET_RATE = 16000
MIN_RATE = 4000          # below this, speech is not intelligible: reject as a wrong header
MAX_RATE = 384000        # above this, the header is absurd
MAX_CHANNELS = 32
ENCODINGS = ("S16LE", "F32LE")
_ENCODING_ALIASES = {"S16LE": "S16LE", "S16": "S16LE", "INT16": "S16LE", "PCM16": "S16LE",
                     "F32LE": "F32LE", "F32": "F32LE", "FLOAT32": "F32LE"}


class AudioError(ValueError):
    """Audio that cannot be used: wrong encoding, zero length, non-finite samples, absurd rate, bad file."""


def canonical_encoding(encoding: str) -> str:
    """"s16le" / "int16" / "F32LE" ... -> "S16LE" or "F32LE"; AudioError for anything else."""
    key = str(encoding or "").strip().upper().replace("-", "").replace("_", "")
    if key not in _ENCODING_ALIASES:
        raise AudioError(f"unsupported audio encoding '{encoding}' (expected one of {', '.join(ENCODINGS)})")
    return _ENCODING_ALIASES[key]


def check_rate(sample_rate: float) -> int:
    """The rate as an int; AudioError for NaN, non-numbers and rates no microphone produces."""
    if not isinstance(sample_rate, (int, float, np.integer, np.floating)) or not math.isfinite(float(sample_rate)):
        raise AudioError(f"sample rate must be a finite number, got {sample_rate!r}")
    rate = int(round(float(sample_rate)))
    if rate < MIN_RATE or rate > MAX_RATE:
        raise AudioError(f"sample rate {sample_rate} Hz is outside the supported {MIN_RATE}..{MAX_RATE} Hz")
    return rate


def decode_pcm(data: bytes | bytearray | memoryview | np.ndarray, encoding: str, channels: int) -> np.ndarray:
    """Interleaved little-endian PCM bytes -> float32 array of shape (frames, channels) in [-1, 1]."""
    enc = canonical_encoding(encoding)
    channels = int(channels)
    if channels < 1 or channels > MAX_CHANNELS:
        raise AudioError(f"channel count {channels} is outside 1..{MAX_CHANNELS}")
    buf = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    width = 2 if enc == "S16LE" else 4
    if len(buf) == 0:
        raise AudioError("zero-length audio")
    if len(buf) % (width * channels):
        raise AudioError(f"{len(buf)} bytes is not a whole number of {channels}-channel {enc} frames "
                         f"({width * channels} bytes each)")
    if enc == "S16LE":
        samples = np.frombuffer(buf, dtype="<i2").astype(np.float32) / 32768.0
    else:
        samples = np.frombuffer(buf, dtype="<f4").astype(np.float32)
    return samples.reshape(-1, channels)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(frames,) or (frames, channels) -> (frames,) float32, channels averaged."""
    arr = np.asarray(samples)
    if arr.ndim == 1:
        return arr.astype(np.float32, copy=False)
    if arr.ndim != 2:
        raise AudioError(f"audio must be 1-D or (frames, channels), got shape {arr.shape}")
    return arr.astype(np.float32, copy=False).mean(axis=1, dtype=np.float32)


def check_finite(samples: np.ndarray, clip: bool = True) -> np.ndarray:
    """AudioError on NaN/inf samples; values beyond [-1, 1] (hot float audio) are clipped when ``clip``."""
    if samples.size == 0:
        raise AudioError("zero-length audio")
    if not np.isfinite(samples).all():
        bad = int(np.count_nonzero(~np.isfinite(samples)))
        raise AudioError(f"audio has {bad} NaN/inf samples of {samples.size}")
    return np.clip(samples, -1.0, 1.0) if clip else samples


def resample(samples: np.ndarray, rate_in: int, rate_out: int = TARGET_RATE) -> np.ndarray:
    """Band-limited polyphase resampling (scipy.signal.resample_poly) of a 1-D float signal."""
    rate_in, rate_out = int(rate_in), int(rate_out)
    x = np.asarray(samples, dtype=np.float32)
    if rate_in == rate_out or x.size == 0:
        return x
    ratio = Fraction(rate_out, rate_in).limit_denominator(1000)
    from scipy.signal import resample_poly

    y = resample_poly(x.astype(np.float64), ratio.numerator, ratio.denominator)
    return y.astype(np.float32)


def to_16k_mono(samples: np.ndarray, sample_rate: float, target_rate: int = TARGET_RATE) -> np.ndarray:
    """Any float/int array (frames,) or (frames, channels) at any rate -> float32 mono at ``target_rate``.

    Integer arrays are scaled by their type's range (int16 / 32768, int32 / 2**31, uint8 centred at 128).
    """
    arr = np.asarray(samples)
    if arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        if arr.dtype.kind == "u":
            arr = (arr.astype(np.float32) - (info.max + 1) / 2) / ((info.max + 1) / 2)
        else:
            arr = arr.astype(np.float32) / float(-info.min)
    elif arr.dtype.kind != "f":
        raise AudioError(f"unsupported sample dtype {arr.dtype}")
    rate = check_rate(sample_rate)
    mono = check_finite(to_mono(arr))
    return resample(mono, rate, target_rate)


def decode_chunk(data: bytes | bytearray | memoryview | np.ndarray, sample_rate: float, channels: int,
                 encoding: str) -> tuple[np.ndarray, int]:
    """Bytes of an audio message (vipa_ros/Audio layout) -> (mono float32 at its own rate, rate).

    Everything is checked (rate, channel count, encoding, whole frames, finite samples): AudioError says what
    is wrong. Resampling is left to the caller, which may keep filter state across chunks.
    """
    rate = check_rate(sample_rate)
    return check_finite(to_mono(decode_pcm(data, encoding, channels))), rate


def pcm_to_16k_mono(data: bytes | bytearray | memoryview | np.ndarray, sample_rate: float, channels: int,
                    encoding: str, target_rate: int = TARGET_RATE) -> np.ndarray:
    """One self-contained audio message -> 16 kHz mono float32. AudioError if bad."""
    mono, rate = decode_chunk(data, sample_rate, channels, encoding)
    return resample(mono, rate, target_rate)


class StreamResampler:
    """Resamples a stream chunk by chunk (for the node): chunks at ``rate_in`` -> float32 at ``rate_out``.

    Polyphase filtering per chunk would click at chunk edges, so input is buffered and resampled in blocks
    with ``pad`` samples of overlap context on both sides; the output is continuous up to float rounding.
    """

    def __init__(self, rate_in: int, rate_out: int = TARGET_RATE, block_s: float = 0.1, pad_s: float = 0.02):
        self.rate_in, self.rate_out = int(rate_in), int(rate_out)
        ratio = Fraction(self.rate_out, self.rate_in).limit_denominator(1000)
        self._up, self._down = ratio.numerator, ratio.denominator
        # block and pad sizes are whole multiples of `down` so output samples align exactly
        self._block = max(self._down, int(block_s * self.rate_in) // self._down * self._down)
        self._pad = max(self._down, int(pad_s * self.rate_in) // self._down * self._down)
        self._buf = np.zeros(self._pad, np.float32)  # left context (silence at the start)
        self._start = self._pad                        # first sample of buf not yet resampled

    def push(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if self._up == self._down:
            return x
        self._buf = np.concatenate([self._buf, x])
        out = []
        while len(self._buf) - self._start >= self._block + self._pad:
            seg = self._buf[self._start - self._pad: self._start + self._block + self._pad]
            y = resample(seg, self.rate_in, self.rate_out)
            a = self._pad * self._up // self._down
            out.append(y[a: a + self._block * self._up // self._down])
            self._start += self._block
        keep = self._start - self._pad
        if keep > 0:
            self._buf, self._start = self._buf[keep:], self._start - keep
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def flush(self) -> np.ndarray:
        """The rest of the stream (zero-padded on the right)."""
        if self._up == self._down:
            return np.zeros(0, np.float32)
        rest = len(self._buf) - self._start
        if rest <= 0:
            return np.zeros(0, np.float32)
        y = self.push(np.zeros(self._block + self._pad, np.float32))
        return y[: int(round(rest * self._up / self._down))]


# --- WAV files -------------------------------------------------------------------------------------------
_WAVE_FORMAT_PCM, _WAVE_FORMAT_FLOAT, _WAVE_FORMAT_EXTENSIBLE = 1, 3, 0xFFFE


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a RIFF/WAVE file -> (float32 samples of shape (frames, channels), sample rate).

    PCM 8/16/24/32-bit and IEEE float 32/64-bit, plain or WAVE_FORMAT_EXTENSIBLE. AudioError on anything else.
    """
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as exc:
        raise AudioError(f"cannot read WAV file {path}: {exc.strerror or exc}") from exc
    if len(blob) < 12 or blob[:4] not in (b"RIFF", b"RIFX") or blob[8:12] != b"WAVE":
        raise AudioError(f"{path}: not a RIFF/WAVE file")
    if blob[:4] == b"RIFX":
        raise AudioError(f"{path}: big-endian RIFX WAV is not supported")
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(blob):
        cid, size = blob[pos:pos + 4], struct.unpack("<I", blob[pos + 4:pos + 8])[0]
        body = blob[pos + 8: pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            data = body  # a truncated data chunk (size beyond EOF, as streaming writers leave it) is read as is
        pos += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16 or data is None:
        raise AudioError(f"{path}: WAV without fmt/data chunks")
    tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]
    if channels < 1 or channels > MAX_CHANNELS:
        raise AudioError(f"{path}: {channels} channels")
    width = bits // 8
    if width < 1 or align != width * channels:
        raise AudioError(f"{path}: inconsistent WAV header ({bits} bits, {channels} channels, block {align})")
    n = len(data) // align
    raw = data[: n * align]
    if tag == _WAVE_FORMAT_PCM and width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif tag == _WAVE_FORMAT_PCM and width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif tag == _WAVE_FORMAT_PCM and width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    elif tag == _WAVE_FORMAT_PCM and width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    elif tag == _WAVE_FORMAT_FLOAT and width in (4, 8):
        x = np.frombuffer(raw, "<f4" if width == 4 else "<f8").astype(np.float32)
    else:
        raise AudioError(f"{path}: unsupported WAV format tag {tag} with {bits} bits")
    return x.reshape(-1, channels), int(rate)


def read_wav_16k_mono(path: str | os.PathLike[str]) -> np.ndarray:
    """A WAV file as 16 kHz mono float32 (any rate, channel count, sample format)."""
    samples, rate = read_wav(path)
    if samples.size == 0:
        raise AudioError(f"{path}: WAV file has no samples")
    return to_16k_mono(samples, rate)


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int = TARGET_RATE) -> None:
    """Write float samples in [-1, 1] ((frames,) or (frames, channels)) as 16-bit PCM WAV."""
    x = np.asarray(samples, np.float32)
    if x.ndim == 1:
        x = x[:, None]
    pcm = (np.clip(x, -1.0, 1.0) * 32767.0).round().astype("<i2")
    channels = x.shape[1]
    data = pcm.tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, int(sample_rate), int(sample_rate) * 2 * channels,
                                    2 * channels, 16)
    header += b"data" + struct.pack("<I", len(data))
    with open(path, "wb") as f:
        f.write(header + data)


def float_to_s16le(samples: np.ndarray) -> bytes:
    """float32 [-1, 1] -> S16LE bytes (for publishing audio messages)."""
    return (np.clip(np.asarray(samples, np.float32), -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()

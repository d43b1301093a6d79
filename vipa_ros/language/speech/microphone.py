"""Microphone capture with `sounddevice` (PortAudio), optional: robots without a sound card use the audio topic.

``open_microphone(callback)`` starts a stream calling ``callback(samples, rate)`` with mono float32 chunks from
PortAudio's thread. Every way it can be unavailable (package not installed, PortAudio library missing -- the
`sounddevice` import itself raises OSError then --, no input device, device busy) becomes one
:class:`MicrophoneUnavailable` whose message says which.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np


class MicrophoneUnavailable(RuntimeError):
    """No usable microphone: the message says why (for one log line)."""


def _sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError as exc:
        raise MicrophoneUnavailable("the 'sounddevice' package is not installed (pip install sounddevice)") from exc
    except OSError as exc:  # sounddevice raises OSError at import when libportaudio is missing
        raise MicrophoneUnavailable(f"sounddevice cannot load PortAudio ({exc}; Debian: apt-get install "
                                    "libportaudio2)") from exc
    return sounddevice


def open_microphone(callback: Callable[[np.ndarray, int], None], device: str = "", sample_rate: int = 16000,
                    block_s: float = 0.05) -> Any:
    """Start capturing from ``device`` ("" = the default input); returns the running stream (call ``close()``).

    ``sample_rate`` 0 uses the device's native rate; the callback gets the rate with every chunk, so the caller
    resamples. Raises :class:`MicrophoneUnavailable`.
    """
    sd = _sounddevice()
    dev: int | str | None = None
    if device:
        dev = int(device) if device.isdigit() else device
    try:
        info = sd.query_devices(dev, "input")
        rate = int(sample_rate or info["default_samplerate"])
        stream = sd.InputStream(device=dev, channels=1, samplerate=rate, dtype="float32",
                                blocksize=max(1, int(rate * block_s)),
                                callback=lambda data, frames, t, status: callback(data[:, 0].copy(), rate))
        stream.start()
    except (sd.PortAudioError, ValueError) as exc:
        raise MicrophoneUnavailable(f"cannot open input device {device or '(default)'}: {exc}") from exc
    return stream

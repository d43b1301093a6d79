"""Synthetic speech for tests and demos: espeak-ng and flite voices rendered to 16 kHz mono float32.

Only the Debian ``espeak-ng`` and ``flite`` programs are used (no Python TTS package, nothing downloaded);
the WAV they write is read and resampled with :mod:`.audio`. ``sox`` is not needed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np

from .audio import AudioError, read_wav, to_16k_mono


@dataclass(frozen=True)
class Voice:
    name: str
    engine: str          # espeak-ng | flite
    voice: str           # engine's voice name
    speed_wpm: int = 0   # espeak-ng words per minute (0: engine default)
    pitch: int = -1      # espeak-ng pitch 0..99 (-1: default)

    def available(self) -> bool:
        return shutil.which(self.engine) is not None


# Three clearly different synthetic speakers: two espeak-ng voices at different speeds (the default male
# US voice at 160 words/min, the "f2" female variant at 140) and flite's "slt" (female US, statistical
# parametric synthesis: the most natural-sounding of the three).
VOICES: dict[str, Voice] = {
    "espeak_us_m": Voice("espeak_us_m", "espeak-ng", "en-us", speed_wpm=160),
    "espeak_us_f": Voice("espeak_us_f", "espeak-ng", "en-us+f2", speed_wpm=140),
    "flite_slt": Voice("flite_slt", "flite", "slt"),
}


def synthesize(text: str, voice: Voice | str = "espeak_us_m", lead_silence_s: float = 0.3,
               tail_silence_s: float = 0.3) -> np.ndarray:
    """Speak ``text`` with a synthetic voice -> 16 kHz mono float32, with silence before and after."""
    v = VOICES[voice] if isinstance(voice, str) else voice
    exe = shutil.which(v.engine)
    if exe is None:
        raise FileNotFoundError(f"{v.engine} is not installed (Debian: apt-get install {v.engine})")
    fd, path = tempfile.mkstemp(suffix=".wav", prefix="vipa_tts_")
    os.close(fd)
    try:
        if v.engine == "espeak-ng":
            cmd = [exe, "-v", v.voice, "-w", path]
            if v.speed_wpm:
                cmd += ["-s", str(v.speed_wpm)]
            if v.pitch >= 0:
                cmd += ["-p", str(v.pitch)]
            cmd.append(text)
        elif v.engine == "flite":
            cmd = [exe, "-voice", v.voice, "-t", text, "-o", path]
        else:
            raise ValueError(f"unknown TTS engine '{v.engine}'")
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        samples, rate = read_wav(path)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    if samples.size == 0:
        raise AudioError(f"{v.engine} produced no audio for {text!r}")
    audio = to_16k_mono(samples, rate)
    lead = np.zeros(int(lead_silence_s * 16000), np.float32)
    tail = np.zeros(int(tail_silence_s * 16000), np.float32)
    return np.concatenate([lead, audio, tail])

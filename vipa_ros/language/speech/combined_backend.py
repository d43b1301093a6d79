"""Combined backend: pocketsphinx proposes grammar sentences, Whisper proposes more and picks among them.

Why: pocketsphinx decoding the command grammar is fast and only ever outputs commands, but its en-us acoustic
model confuses some word pairs of the vocabulary (wide/white, shove/show ...); the right sentence is then usually
among its next few hypotheses. Whisper (tiny.en) hears those words better but writes free text. So, per utterance:

1. candidates: the grammar backend's transcript and the next sentences of its n-best list
   (:data:`GRAMMAR_CANDIDATES` in all), plus the grammar sentences closest to Whisper's own greedy transcripts
   (:mod:`.sentence_snap`): one decoded from the usual 30 s padded input, one from the input trimmed to the
   utterance (they differ, and each found commands the other missed);
2. each candidate's score = the sum of Whisper's token log-probabilities of the candidate given the audio
   (teacher-forced, ``align()`` on the trimmed encoder output) + :data:`POCKETSPHINX_WEIGHT` x the candidate's
   pocketsphinx path score (natural log; candidates outside the n-best get its lowest score);
3. the best-scoring candidate is the transcript.

The two settings (3 grammar candidates, weight 100) were chosen on a development set of 60 other commands
spoken by the three test voices and three more (300 utterances), never on the test set: 84.3 % exact for the
grammar backend there, 91.7 % combined (87.7 % without the Whisper snaps, 91.0 % with the padded-input snap
only). The confidence is the grammar backend's (its grammar-vs-phone-loop ratio for its own best hypothesis,
:mod:`.pocketsphinx_backend`): the choice among candidates fixes words, it does not change whether the audio
was a command at all, so non-command speech is rejected exactly as by the grammar backend.

Cost: one more grammar decode (~0.2 s) and two Whisper encodes and greedy decodes (~1 s on 2 CPU cores): about
1.5-2 s per utterance against ~0.36 s for the grammar backend alone.
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np

from ..vocabulary import Vocabulary
from .recognizer import BackendUnavailable, RecognitionResult, Recognizer
from .sentence_snap import SentenceSnapper

GRAMMAR_CANDIDATES = 3          # pocketsphinx's best hypothesis + the next 2 of its n-best list
POCKETSPHINX_WEIGHT = 100.0     # x pocketsphinx log score (natural log) added to Whisper's log-probability
NBEST_SIZE = 12                 # n-best sentences read (their lowest score stands in for the snapped candidates)
NBEST_PATHS = 60                # lattice paths read to find them (many paths differ only in fillers/silences)
MAX_TOKENS = 60                 # Whisper's greedy transcript; commands are ~15 tokens
_LOG_BASE = math.log(1.0001)    # pocketsphinx's logmath base: its scores x this = natural log


class CombinedRecognizer(Recognizer):
    name = "combined"

    def __init__(self, vocabulary: Vocabulary, model_path: str | None = None, cpu_threads: int = 2,
                 logger: logging.Logger | None = None, adaptation: str | None = None) -> None:
        from .pocketsphinx_backend import GrammarRecognizer
        from .whisper_backend import WhisperRecognizer

        t0 = time.perf_counter()
        self.vocabulary = vocabulary
        # an acoustic adaptation changes the pocketsphinx scores this backend's weights were chosen with
        self.grammar = GrammarRecognizer(vocabulary, logger=logger, adaptation=adaptation)
        self.whisper = WhisperRecognizer(vocabulary, model_path=model_path, cpu_threads=cpu_threads, logger=logger)
        try:
            from faster_whisper.audio import pad_or_trim
            from faster_whisper.tokenizer import Tokenizer
            import ctranslate2
        except ImportError as exc:  # pragma: no cover - WhisperRecognizer already imported faster_whisper
            raise BackendUnavailable("speech backend 'combined' needs faster-whisper and ctranslate2") from exc
        self._ct2 = ctranslate2
        self._pad_or_trim = pad_or_trim
        model = self.whisper.model
        self._tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                                    language="en")
        # the whisper backend's word snapper gives the sound-alike substitution costs
        self.snapper = SentenceSnapper(self.grammar.grammar.fsg, self.whisper.snapper)
        self.load_ms = (time.perf_counter() - t0) * 1e3

    def info(self) -> dict[str, str]:
        return {"backend": self.name,
                "engine": "pocketsphinx grammar n-best + faster-whisper tiny.en rescoring",
                "model": self.whisper.model_path, "grammar_words": str(len(self.grammar.grammar.words)),
                "load_ms": f"{self.load_ms:.0f}",
                **{k: v for k, v in self.grammar.info().items() if "adaptation" in k}}

    # -- Whisper pieces ------------------------------------------------------------------------------------
    def _greedy(self, encoded) -> str:
        """Whisper's own transcript (greedy, no timestamps) of an encoder output."""
        tok = self._tokenizer
        out = self.whisper.model.model.generate(encoded, [list(tok.sot_sequence) + [tok.no_timestamps]],
                                                beam_size=1, max_length=MAX_TOKENS)
        return tok.decode([t for t in out[0].sequences_ids[0] if t < tok.eot])

    def _log_probs(self, encoded, sentences: list[str]) -> list[float]:
        """Sum of Whisper's token log-probabilities of each sentence given the audio (one batched call)."""
        tok = self._tokenizer
        tokens = [tok.encode(" " + s) for s in sentences]
        e = np.array(encoded)
        batch = self._ct2.StorageView.from_array(np.ascontiguousarray(np.repeat(e, len(tokens), 0)))
        # num_frames: the encoder output has half as many frames as its input features
        results = self.whisper.model.model.align(batch, tok.sot_sequence, tokens, e.shape[1] * 2)
        return [float(np.log(np.maximum(np.asarray(r.text_token_probs, np.float64), 1e-30)).sum())
                for r in results]

    # -- recognition ---------------------------------------------------------------------------------------
    def recognize(self, audio: np.ndarray) -> RecognitionResult:
        t0 = time.perf_counter()
        x = np.asarray(audio, np.float32).ravel()
        first = self.grammar.recognize(x)
        nbest = dict(self.grammar.nbest(x, NBEST_SIZE, NBEST_PATHS))
        grammar_candidates = [s for s in dict.fromkeys([first.transcript, *nbest]) if s][:GRAMMAR_CANDIDATES]
        t1 = time.perf_counter()

        model = self.whisper.model
        features = model.feature_extractor(x)
        heard_padded = self._greedy(model.encode(self._pad_or_trim(features)))
        # trimmed to the utterance (an even number of frames: the encoder halves them); faster than the padded
        # input, and the input every candidate is scored on
        encoded = model.encode(features[:, : (features.shape[1] // 2) * 2])
        heard_trimmed = self._greedy(encoded)
        t2 = time.perf_counter()
        snapped = [self.grammar.grammar.canonical(self.snapper.snap(text)[0])
                   for text in (heard_padded, heard_trimmed)]
        candidates = list(dict.fromkeys(grammar_candidates + [s for s in snapped if s]))
        t3 = time.perf_counter()

        transcript, scores = "", []
        if candidates:
            floor = min(nbest.values()) if nbest else 0.0
            whisper_lp = self._log_probs(encoded, candidates)
            scores = [lp + POCKETSPHINX_WEIGHT * _LOG_BASE * nbest.get(c, floor)
                      for c, lp in zip(candidates, whisper_lp)]
            transcript = candidates[int(np.argmax(scores))]  # first of equals: pocketsphinx's order
        t4 = time.perf_counter()
        return RecognitionResult(
            transcript=transcript, confidence=first.confidence, backend=self.name,
            timings_ms={"grammar": (t1 - t0) * 1e3, "whisper": (t2 - t1) * 1e3, "snap": (t3 - t2) * 1e3,
                        "rescore": (t4 - t3) * 1e3, "total": (t4 - t0) * 1e3},
            audio_s=len(x) / 16000.0, raw=heard_padded.strip(),
            details={"grammar": first.transcript, "grammar_details": first.details,
                     "whisper_trimmed": heard_trimmed.strip(),
                     "candidates": {c: round(s, 2) for c, s in zip(candidates, scores)}})

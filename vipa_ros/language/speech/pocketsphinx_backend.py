"""Grammar backend: pocketsphinx (en-us acoustic model inside the wheel) decoding the command grammar generated
from the vocabulary (:mod:`.grammar`).

Decoding is constrained to commands the parser understands, which makes it accurate and fast on a CPU; the
price is that *anything* heard is forced onto the closest command. The confidence says how well that command
explains the audio: the same audio is also decoded by an unconstrained phone loop (the best any phone sequence
can do), and the per-frame log-likelihood ratio of the grammar's path to the phone loop's goes through a
logistic function. Speech the grammar covers scores close to the phone loop (confidence near 1); other speech
or noise, forced onto a command, scores far below it. The centre of that function was set on synthetic speech
(the test voices saying the test commands, out-of-grammar sentences and noise): at the node's default threshold
of 0.5, about 90 % of correctly recognised commands pass and about 90 % of out-of-grammar sentences are
rejected. Short commands score lowest (little speech to average over): stop phrases are therefore sent whatever
their confidence (:class:`.pipeline.SpeechPipeline`, ``always_send_stop``). Steady noise is what the ratio
misses (both searches explain it equally badly): the confidence is scaled down for sound whose loudness does
not rise and fall like speech (:func:`.vad.speech_likeness`) and by how little of the time the grammar gives to
words the phone loop hears as phones.

``adaptation``: an acoustic adaptation of the model to a speaker or microphone (``vipa speech-adapt``,
:mod:`.adaptation`), loaded into both decoders; one that cannot be loaded is logged and left out, and
``info()["adaptation_error"]`` says why.
"""
from __future__ import annotations

import itertools
import logging
import math
import os
import tempfile
import time

import numpy as np

from ..vocabulary import Vocabulary, normalize
from .g2p import load_cmudict
from .grammar import Grammar, Priors, build_grammar, default_dictionary_path, write_grammar
from .recognizer import BackendUnavailable, RecognitionResult, Recognizer
from .vad import speech_likeness

# Added to every utterance: the acoustic model was trained on recordings with a noise floor, and digital
# silence (synthetic speech, muted inputs) throws its feature normalisation off. At -50 dBFS, below a
# microphone's own noise, it changes little for real recordings; on a third of the synthetic test set exact
# transcripts went from 50 % (noise at 1e-4) to 83 % (3e-3) and back to 50 % (1.2e-2).
NOISE_FLOOR = 3e-3
# Logistic mapping of the grammar-vs-phone-loop log-likelihood ratio (pocketsphinx log units per frame).
LLR_CENTRE, LLR_SCALE = -11.0, 2.0
# Silence kept before and after the speech: the acoustic model's normalisation needs some (0.1 s gave 81 %
# exact transcripts, 0.3 s 87 %), and the confidence is a per-frame average, so every utterance gets the same.
MARGIN_S = 0.3
SPEECH_DB_BELOW_PEAK = 40.0  # frames within this of the loudest one are speech (for the margins only)
# Speech has phones for most of the time the grammar gives to words (0.8-0.9); noise has none.
MIN_PHONE_COVERAGE = 0.5
_SILENCE = ("<", "[", "+")  # silence and filler entries of the grammar and phone-loop segmentations


def with_margins(audio: np.ndarray, margin_s: float = MARGIN_S, rate: int = 16000) -> np.ndarray:
    """``audio`` cropped or zero-padded to exactly ``margin_s`` of non-speech before and after the speech."""
    frame = rate // 50
    n = len(audio) // frame
    if n == 0:
        return audio
    energy = 10.0 * np.log10(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    speech = np.nonzero(energy > max(energy.max() - SPEECH_DB_BELOW_PEAK, -70.0))[0]
    if speech.size == 0:
        return audio
    start, end = speech[0] * frame, (speech[-1] + 1) * frame
    m = int(margin_s * rate)
    core = audio[max(0, start - m): end + m]
    before, after = max(0, m - start), max(0, end + m - len(audio))
    return np.concatenate([np.zeros(before, np.float32), core, np.zeros(after, np.float32)])


def _decoder_input(x: np.ndarray) -> bytes:
    """16-bit PCM for the decoders: ``x`` (margins already applied) plus the noise floor, seeded by the length so
    that the same audio always gives the same result."""
    x = x + np.random.default_rng(len(x)).normal(0.0, NOISE_FLOOR, x.shape).astype(np.float32)
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _import_pocketsphinx():
    try:
        import pocketsphinx
    except ImportError as exc:
        raise BackendUnavailable("speech backend 'grammar' needs the 'pocketsphinx' package "
                                 "(pip install pocketsphinx)") from exc
    model = os.path.join(pocketsphinx.get_model_path(), "en-us", "en-us")
    if not os.path.isdir(model):
        raise BackendUnavailable(f"pocketsphinx is installed without its en-us acoustic model ({model})")
    return pocketsphinx, model


class GrammarRecognizer(Recognizer):
    name = "grammar"

    def __init__(self, vocabulary: Vocabulary, priors: Priors | None = None, use_espeak_g2p: bool = True,
                 logger: logging.Logger | None = None, adaptation: str | os.PathLike[str] | None = None) -> None:
        ps, model = _import_pocketsphinx()
        self.log = logger or logging.getLogger("vipa_ros.speech")
        self.vocabulary = vocabulary
        t0 = time.perf_counter()
        self.grammar: Grammar = build_grammar(vocabulary, load_cmudict(default_dictionary_path()),
                                              use_espeak=use_espeak_g2p, priors=priors)
        if self.grammar.missing:
            self.log.warning("speech grammar: no pronunciation for %d vocabulary word(s), phrases with them "
                             "cannot be spoken: %s", len(self.grammar.missing), ", ".join(self.grammar.missing))
        if self.grammar.generated:
            self.log.info("speech grammar: generated pronunciations: %s", ", ".join(
                f"{w} [{p}] ({how})" for w, (p, how) in sorted(self.grammar.generated.items())))
        self._files = tempfile.TemporaryDirectory(prefix="vipa_grammar_")
        write_grammar(self.grammar, self._files.name)
        directory = self._files.name
        common = {"hmm": model, "logfn": os.devnull, "samprate": 16000,
                  # lattice rescoring (bestpath) made transcripts worse on the test set and took 5x longer
                  "bestpath": False}
        self.adaptation = ""         # the acoustic adaptation in use
        self.adaptation_error = ""   # why the one asked for is not used
        adapted: dict[str, str | None] = {}
        if adaptation:
            from .adaptation import adaptation_config

            try:
                adapted.update(adaptation_config(adaptation, model))
                self.adaptation = str(adaptation)
            except (OSError, ValueError) as exc:
                self._adaptation_failed(adaptation, exc)
        try:
            try:
                self._load_decoders(ps, directory, {**common, **adapted})
            except (RuntimeError, ValueError) as exc:
                if not self.adaptation:
                    raise
                self._adaptation_failed(self.adaptation, f"pocketsphinx could not load it ({exc})")
                self._load_decoders(ps, directory, common)
        except (RuntimeError, ValueError) as exc:
            raise RuntimeError(f"pocketsphinx could not load the generated grammar in {directory}: {exc}") from exc
        self._logmath = self.decoder.get_logmath()
        self.load_ms = (time.perf_counter() - t0) * 1e3

    def _load_decoders(self, ps, directory: str, config: dict) -> None:
        self.decoder = ps.Decoder(ps.Config(dict=os.path.join(directory, "commands.dict"),
                                            fsg=os.path.join(directory, "commands.fsg"), **config))
        self.phone_loop = ps.Decoder(ps.Config(
            allphone=os.path.join(ps.get_model_path(), "en-us", "en-us-phone.lm.bin"), **config))

    def _adaptation_failed(self, path, why) -> None:
        self.adaptation = ""
        self.adaptation_error = f"acoustic adaptation '{path}' not used, recognising with the unadapted model: {why}"
        self.log.error("speech: %s", self.adaptation_error)

    def info(self) -> dict[str, str]:
        g = self.grammar.fsg
        out = {"backend": self.name, "engine": "pocketsphinx en-us, grammar from the vocabulary",
               "grammar_words": str(len(self.grammar.words)), "grammar_states": str(g.n_states),
               "missing_words": ",".join(self.grammar.missing), "load_ms": f"{self.load_ms:.0f}",
               "acoustic_adaptation": self.adaptation or "none"}
        if self.adaptation_error:
            out["adaptation_error"] = self.adaptation_error
        return out

    def _decode(self, decoder, pcm: bytes) -> tuple[str, float | None, int]:
        """(hypothesis, its log score, frames given to words rather than silence or noise)."""
        decoder.start_utt()
        decoder.process_raw(pcm, no_search=False, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        if hyp is None:
            return "", None, 0
        words = sum(s.end_frame - s.start_frame + 1 for s in decoder.seg()
                    if s.start_frame >= 0 and not s.word.startswith(_SILENCE) and s.word != "SIL")
        return hyp.hypstr, float(self._logmath.log(hyp.score)), words

    def recognize(self, audio: np.ndarray) -> RecognitionResult:
        t0 = time.perf_counter()
        x = with_margins(np.asarray(audio, np.float32).ravel())
        likeness = speech_likeness(x)
        pcm = _decoder_input(x)
        raw, score, word_frames = self._decode(self.decoder, pcm)
        frames = max(int(self.decoder.n_frames()), 1)
        t1 = time.perf_counter()
        transcript = self.grammar.canonical(normalize(raw))
        llr = coverage = None
        confidence = 0.0
        if transcript and score is not None:
            _, phone_score, phone_frames = self._decode(self.phone_loop, pcm)
            if phone_score is not None:
                llr = (score - phone_score) / frames
                coverage = phone_frames / max(word_frames, 1)
                confidence = 1.0 / (1.0 + math.exp(-(llr - LLR_CENTRE) / LLR_SCALE))
                confidence *= min(1.0, coverage / MIN_PHONE_COVERAGE) * likeness
        t2 = time.perf_counter()
        return RecognitionResult(
            transcript=transcript, confidence=confidence, backend=self.name,
            timings_ms={"decode": (t1 - t0) * 1e3, "confidence": (t2 - t1) * 1e3, "total": (t2 - t0) * 1e3},
            audio_s=len(x) / 16000.0, raw=raw,
            details={"llr_per_frame": None if llr is None else round(llr, 2), "frames": frames,
                     "phone_coverage": None if coverage is None else round(coverage, 2),
                     "speech_likeness": round(likeness, 2)})

    def nbest(self, audio: np.ndarray, size: int = 12, max_paths: int = 60) -> list[tuple[str, float]]:
        """Up to ``size`` different grammar sentences (canonical spelling) for ``audio``, best first, with their
        pocketsphinx log scores (log base 1.0001, as :meth:`recognize`'s decoder reports them), from the first
        ``max_paths`` paths of the lattice. Decodes the audio again: called right after :meth:`recognize` on the
        same audio (as :mod:`.combined_backend` does), the decoder's live cepstral-mean normalisation then
        starts from this utterance's own mean, which is how the combined backend's settings were chosen."""
        self._decode(self.decoder, _decoder_input(with_margins(np.asarray(audio, np.float32).ravel())))
        out: dict[str, float] = {}
        for hyp in itertools.islice(self.decoder.nbest(), max_paths):
            sentence = self.grammar.canonical(normalize(hyp.hypstr))
            if sentence and sentence not in out:
                out[sentence] = float(self._logmath.log(hyp.score))
                if len(out) >= size:
                    break
        return list(out.items())

"""`vipa speech-eval`: recognition rate of the speech backends on the synthetic spoken-command test set.

The test set (:func:`.testset.command_set`) is spoken by every synthetic voice (:data:`.tts.VOICES`), each
utterance goes through the recogniser alone (no VAD: the rate is the recogniser's), and a Markdown table
reports per backend and voice: utterances, exact transcripts, exact *and* confident enough to be sent as a
command, wrong transcripts that would be sent, the share of out-of-grammar sentences
(:data:`.testset.OUT_OF_GRAMMAR`) that would *not* be sent, and the median recognition latency, with the
hardware it ran on. tests/test_speech_recognition.py
asserts the grammar, whisper and combined backends' rates with these same functions.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Iterable

import numpy as np

from .adaptation import synthetic_voices_adaptation
from .recognizer import Recognizer, create_recognizer
from .testset import OUT_OF_GRAMMAR, command_set
from .tts import VOICES, synthesize


@dataclass
class VoiceScore:
    backend: str
    voice: str
    n: int = 0
    exact: int = 0
    exact_accepted: int = 0            # exact and confidence >= threshold: sent as the right command
    wrong_accepted: int = 0            # a wrong transcript that would have been sent
    other_n: int = 0                   # out-of-grammar sentences
    other_rejected: int = 0            # ... not sent as a command
    latencies_ms: list[float] = field(default_factory=list)
    misses: list[tuple[str, str, float]] = field(default_factory=list)  # (said, heard, confidence)

    @property
    def exact_rate(self) -> float:
        return self.exact / self.n if self.n else 0.0

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0


def spoken_testset(voices: Iterable[str] | None = None, n: int = 66,
                   sentences: Iterable[str] | None = None) -> dict[str, list[tuple[str, np.ndarray]]]:
    """voice -> [(sentence, 16 kHz mono audio)] for the first ``n`` test commands (or ``sentences``)."""
    texts = list(sentences) if sentences is not None else command_set(n=n)
    return {v: [(c, synthesize(c, v)) for c in texts] for v in (voices or VOICES)}


def score(recognizer: Recognizer, voice: str, samples: list[tuple[str, np.ndarray]], threshold: float = 0.5,
          other: list[tuple[str, np.ndarray]] = ()) -> VoiceScore:
    """Exact transcripts of ``samples``; how many of the out-of-grammar ``other`` would not be sent."""
    out = VoiceScore(recognizer.name, voice)
    for _, audio in other:
        result = recognizer.recognize(audio)
        out.other_n += 1
        out.other_rejected += not (result.transcript and result.confidence >= threshold)
    for said, audio in samples:
        t0 = time.perf_counter()
        result = recognizer.recognize(audio)
        out.latencies_ms.append((time.perf_counter() - t0) * 1e3)
        out.n += 1
        sent = result.confidence >= threshold
        if result.transcript == said:
            out.exact += 1
            out.exact_accepted += sent
        else:
            out.wrong_accepted += sent
            out.misses.append((said, result.transcript, round(result.confidence, 3)))
    return out


def hardware() -> str:
    """CPU model and core count of this machine, e.g. "AMD EPYC, 2 cores"."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def markdown_table(scores: list[VoiceScore], threshold: float, adaptation: str = "") -> str:
    def pct(a: int, b: int) -> str:
        return f"{100 * a / b:.1f}" if b else "-"

    lines = ["| backend | voice | n | exact % | exact and sent % | wrong sent % | other speech not sent % "
             "| median latency ms |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for s in scores:
        lines.append(f"| {s.backend} | {s.voice} | {s.n} | {pct(s.exact, s.n)} | {pct(s.exact_accepted, s.n)} | "
                     f"{pct(s.wrong_accepted, s.n)} | {pct(s.other_rejected, s.other_n)} | {s.median_ms:.0f} |")
    by_backend: dict[str, list[VoiceScore]] = {}
    for s in scores:
        by_backend.setdefault(s.backend, []).append(s)
    for backend, rows in by_backend.items():
        n, exact = sum(r.n for r in rows), sum(r.exact for r in rows)
        sent, wrong = sum(r.exact_accepted for r in rows), sum(r.wrong_accepted for r in rows)
        other_n, other = sum(r.other_n for r in rows), sum(r.other_rejected for r in rows)
        latency = statistics.median([x for r in rows for x in r.latencies_ms]) if n else 0.0
        lines.append(f"| **{backend}** | all | {n} | **{pct(exact, n)}** | {pct(sent, n)} | {pct(wrong, n)} | "
                     f"{pct(other, other_n)} | {latency:.0f} |")
    lines.append("")
    lines.append(f"{datetime.date.today().isoformat()}, {hardware()}; confidence_threshold {threshold}; "
                 "\"sent\": the node would publish it as a command." + (f" Acoustic adaptation: {adaptation}."
                                                                          if adaptation else ""))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backends", default="grammar,whisper", help="comma-separated: grammar, whisper, combined")
    parser.add_argument("--voices", default=",".join(VOICES), help=f"comma-separated, of: {', '.join(VOICES)}")
    parser.add_argument("-n", type=int, default=66, help="test commands per voice")
    parser.add_argument("--threshold", type=float, default=0.5, help="confidence_threshold of the node")
    parser.add_argument("--no-other", action="store_true", help="skip the out-of-grammar sentences")
    parser.add_argument("--misses", action="store_true", help="list every wrong transcript")
    parser.add_argument("--json", help="also write the scores to this JSON file")
    parser.add_argument("--adaptation", default="", metavar="PATH",
                        help="acoustic adaptation of the grammar and combined backends (`vipa speech-adapt`), e.g. "
                             "config/speech_adaptation/synthetic_voices; 'synthetic' is short for that one")


def run(args: argparse.Namespace) -> int:
    voices = [v for v in args.voices.split(",") if v]
    unknown = [v for v in voices if v not in VOICES]
    if unknown:
        raise SystemExit(f"unknown voice(s) {', '.join(unknown)}; known: {', '.join(VOICES)}")
    adaptation = args.adaptation
    if adaptation == "synthetic":
        adaptation = str(synthetic_voices_adaptation())
    print(f"synthesising {args.n} commands x {len(voices)} voices ...", flush=True)
    testset = spoken_testset(voices, args.n)
    other = spoken_testset(voices, sentences=() if args.no_other else OUT_OF_GRAMMAR)
    scores = []
    for backend in [b for b in args.backends.split(",") if b]:
        recognizer = create_recognizer(backend, adaptation=adaptation)
        if "adaptation_error" in recognizer.info():
            raise SystemExit(recognizer.info()["adaptation_error"])
        for voice in voices:
            scores.append(score(recognizer, voice, testset[voice], args.threshold, other[voice]))
            print(f"  {backend} {voice}: {scores[-1].exact}/{scores[-1].n} exact", flush=True)
    print()
    print(markdown_table(scores, args.threshold, adaptation))
    if args.misses:
        for s in scores:
            for said, heard, conf in s.misses:
                print(f"  {s.backend:8s} {s.voice:12s} said {said!r:60s} heard {heard!r} ({conf:.2f})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"hardware": hardware(), "threshold": args.threshold, "adaptation": adaptation,
                       "scores": [asdict(s) for s in scores]}, f, indent=1)
    return 0

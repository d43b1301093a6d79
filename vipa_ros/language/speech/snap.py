"""Snap free-form recogniser output onto the vocabulary: "pick the gray mag" -> "pick the grey mug".

A word that is not in the vocabulary is replaced by the most similar vocabulary word when the similarity is at
least ``cutoff``; similarity is the better of spelling similarity (difflib ratio) and, where both words are in
the pronouncing dictionary, pronunciation similarity (1 - phone edit distance / length). Words that match
nothing stay as they are (the parser passes unknown words to the model) and lower the confidence. Written
forms are spelled out ("2nd" -> "second") and homophones take their canonical spelling ("gray" -> "grey").
"""
from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from ..vocabulary import PhraseIndex, normalize

WRITTEN = {"1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth", "6th": "sixth",
           "7th": "seventh", "8th": "eighth", "9th": "ninth", "10th": "tenth", "ok": "okay", "o.k": "okay",
           "colour": "color"}
# Words a speech recogniser writes that are never worth snapping (too short to compare reliably)
_MIN_SNAP_LEN = 3


def _edit_distance(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def _strip_stress(phones: str) -> list[str]:
    return [p.rstrip("012") for p in phones.split()]


@dataclass
class SnapResult:
    text: str
    snapped: list[tuple[str, str, float]] = field(default_factory=list)  # (heard, vocabulary word, similarity)
    unknown: list[str] = field(default_factory=list)                     # words left as they were
    fit: float = 1.0                                                     # 0..1, how well the words fit


class VocabularySnapper:
    def __init__(self, words: Iterable[str], pronunciations: Mapping[str, list[str]] | None = None,
                 homophones: Mapping[str, str] | None = None, cutoff: float = 0.6) -> None:
        self.words = list(dict.fromkeys(w for w in words if w))
        self.vocab = set(self.words)
        self.pron = pronunciations or {}
        self.homophones = dict(homophones or {})
        self.cutoff = float(cutoff)

    def similarity(self, heard: str, word: str) -> float:
        """0..1: pronunciation similarity when both words are in the dictionary (spelling counts less
        then: "grey"/"gray" sound the same, "the"/"tube" only look alike), else spelling similarity."""
        if heard == word:
            return 1.0
        return _similarity(heard, word, self.pron)

    @functools.lru_cache(maxsize=4096)
    def best(self, heard: str) -> tuple[str, float]:
        best, score = "", 0.0
        for w in self.words:
            if abs(len(w) - len(heard)) > max(3, len(heard)):
                continue
            s = self.similarity(heard, w)
            if s > score or (s == score and best and len(w) < len(best)):
                best, score = w, s
        return best, score

    def snap(self, text: str) -> SnapResult:
        words = normalize(text).split()
        out, snapped, unknown, fits = [], [], [], []
        for w in words:
            w = WRITTEN.get(w, w)
            if w in self.vocab:
                out.append(w)
                fits.append(1.0)
                continue
            if len(w) >= _MIN_SNAP_LEN:
                best, score = self.best(w)
                if best and score >= self.cutoff:
                    out.append(best)
                    snapped.append((w, best, round(score, 3)))
                    fits.append(score)
                    continue
            out.append(w)
            unknown.append(w)
            fits.append(0.3)
        text_out = " ".join(out)
        text_out = replace_phrases(text_out, self.homophones)
        fit = min(fits) if fits else 0.0
        return SnapResult(text_out, snapped, unknown, fit)


@functools.lru_cache(maxsize=65536)
def _letters(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _similarity(heard: str, word: str, pron: Mapping[str, list[str]]) -> float:
    letters = _letters(heard, word)
    a, b = pron.get(heard), pron.get(word)
    if not (a and b):
        return letters
    sound = 0.0
    for pa in a[:2]:
        for pb in b[:2]:
            x, y = _strip_stress(pa), _strip_stress(pb)
            sound = max(sound, 1.0 - _edit_distance(x, y) / max(len(x), len(y), 1))
    return max(sound, letters - 0.25)


def replace_phrases(text: str, table: Mapping[str, str]) -> str:
    """Longest-match replacement of whole phrases: one spelling per sound ("gray" -> "grey")."""
    if not table:
        return text
    index = PhraseIndex(table.items())
    words, out, i = text.split(), [], 0
    while i < len(words):
        value, n = index.match(words, i)
        if n:
            out.append(value)
            i += n
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)

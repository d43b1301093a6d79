"""Pronunciations for words missing from the pocketsphinx dictionary.

pocketsphinx 5 ships no grapheme-to-phoneme model, so missing words are handled in this order:

1. espeak-ng's own letter-to-sound rules (``espeak-ng -q --ipa``; the Debian package or any espeak-ng on PATH),
   its IPA mapped onto the CMU/ARPAbet phone set of the en-us acoustic model ("jenga" -> JH EH NG G AH);
2. without espeak-ng: compounds of dictionary words ("leftmost" = "left" + "most");
3. otherwise the word is left out of the grammar and the caller lists it in one warning.
"""
from __future__ import annotations

import functools
import shutil
import subprocess
import unicodedata
from typing import Callable, Iterable, Mapping

# IPA (as espeak-ng writes it for en-us / en-gb) -> ARPAbet. Longest symbols are matched first.
_IPA_TO_ARPABET: dict[str, str] = {
    # diphthongs and r-coloured vowels
    "aɪə": "AY ER", "aʊə": "AW ER", "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "əʊ": "OW", "ɔɪ": "OY",
    "ɪə": "IH R", "eə": "EH R", "ɛə": "EH R", "ʊə": "UH R", "ɑːɹ": "AA R", "ɔːɹ": "AO R", "ɜːɹ": "ER",
    "ɝ": "ER", "ɚ": "ER", "ɜː": "ER", "ɜ": "ER", "iə": "IY AH",
    # vowels
    "ɑː": "AA", "ɑ": "AA", "ɒ": "AA", "æ": "AE", "a": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɔː": "AO",
    "ɔ": "AO", "ɛ": "EH", "e": "EH", "ɪ": "IH", "ᵻ": "IH", "iː": "IY", "i": "IY", "o": "OW", "ʊ": "UH",
    "uː": "UW", "u": "UW",
    # consonants
    "tʃ": "CH", "dʒ": "JH", "b": "B", "d": "D", "ð": "DH", "f": "F", "ɡ": "G", "g": "G", "h": "HH",
    "k": "K", "l": "L", "ɫ": "L", "m": "M", "n": "N", "ŋ": "NG", "p": "P", "ɹ": "R", "r": "R", "ɾ": "T",
    "s": "S", "ʃ": "SH", "t": "T", "θ": "TH", "v": "V", "w": "W", "j": "Y", "z": "Z", "ʒ": "ZH", "ʔ": "T",
    "x": "K", "ç": "HH", "ɬ": "L", "ʍ": "W",
}
_IGNORED = set("ˈˌː.ˑ‿͡-' ")  # stress, length, syllable and linking marks
_LONGEST = max(len(k) for k in _IPA_TO_ARPABET)


def ipa_to_arpabet(ipa: str) -> list[str] | None:
    """espeak-ng IPA of one word -> ARPAbet phones, None when a symbol has no mapping."""
    text = unicodedata.normalize("NFD", ipa)
    text = "".join(c for c in text if not unicodedata.combining(c) or c == "\u0361")  # syllabic marks etc.
    phones: list[str] = []
    i = 0
    while i < len(text):
        if text[i] in _IGNORED or text[i].isspace():
            i += 1
            continue
        for n in range(min(_LONGEST, len(text) - i), 0, -1):
            mapped = _IPA_TO_ARPABET.get(text[i:i + n])
            if mapped is None:
                continue
            phones += mapped.split()
            i += n
            break
        else:
            return None
    return phones or None


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


@functools.lru_cache(maxsize=4096)
def espeak_g2p(word: str, voice: str = "en-us") -> tuple[str, ...] | None:
    """ARPAbet phones of ``word`` from espeak-ng's letter-to-sound rules; None without espeak-ng or mapping."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-q", "--ipa", "-v", voice, word], capture_output=True, text=True,
                             timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    phones = ipa_to_arpabet(out.strip())
    return tuple(phones) if phones else None


def compound_pronunciation(word: str, lookup: Callable[[str], list[str] | None],
                           min_part: int = 3) -> list[str] | None:
    """Pronunciation of ``word`` as two or three dictionary words ("leftmost" -> "left"+"most")."""
    best: list[str] | None = None
    for i in range(min_part, len(word) - min_part + 1):
        head, tail = word[:i], word[i:]
        a = lookup(head)
        if not a:
            continue
        b = lookup(tail)
        if b is None and len(tail) >= 2 * min_part:
            b = compound_pronunciation(tail, lookup, min_part)
            b = [b[0]] if b else None
        if b:
            candidate = [f"{a[0]} {b[0]}"]
            # prefer the split with the longest first word ("nevermind": never|mind over ne|vermind)
            best = candidate
    return best


class Pronouncer:
    """Pronunciations (ARPAbet strings, first = preferred) from a CMU-format dictionary plus the fall-backs."""

    def __init__(self, dictionary: Mapping[str, list[str]], use_espeak: bool = True) -> None:
        self.dictionary = dictionary
        self.use_espeak = use_espeak
        self.generated: dict[str, tuple[str, str]] = {}  # word -> (phones, how: compound | espeak-ng)

    def _lookup(self, word: str) -> list[str] | None:
        return self.dictionary.get(word)

    def pronounce(self, word: str) -> list[str] | None:
        found = self._lookup(word)
        if found:
            return list(found)
        if word in self.generated:
            return [self.generated[word][0]]
        if self.use_espeak:
            phones = espeak_g2p(word)
            if phones:
                self.generated[word] = (" ".join(phones), "espeak-ng")
                return [" ".join(phones)]
        compound = compound_pronunciation(word, self._lookup) if word.isalpha() else None
        if compound:
            self.generated[word] = (compound[0], "compound")
            return compound
        return None

    def pronounce_all(self, words: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
        """(word -> pronunciations for every word that has one, sorted list of words without any)."""
        out, missing = {}, []
        for w in words:
            p = self.pronounce(w)
            if p:
                out[w] = p
            else:
                missing.append(w)
        return out, sorted(missing)


def load_cmudict(path: str) -> dict[str, list[str]]:
    """A CMU-format dictionary ("word PH ONES", alternates as "word(2) ...") -> word -> [phones, ...]."""
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2 or line.startswith(";;;"):
                continue
            word = parts[0]
            if word.endswith(")") and "(" in word:
                word = word[: word.index("(")]
            out.setdefault(word, []).append(" ".join(parts[1:]))
    return out

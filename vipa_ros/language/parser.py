"""Text command parser: "could you grab the red mug on the left please" -> action "pick", expression
"the red mug on the left". ROS-free; the vocabulary is data (config/vocabulary.yaml).

Rules, in order:
  1. Input is capped (``max_chars``, 256 by default) at a word boundary -- very long input is cut, never
     rejected, and ``truncated`` says so -- then normalised: NFKC, lowercase, punctuation to spaces,
     whitespace collapsed (:func:`vipa_ros.language.vocabulary.normalize`). Non-English or nonsense words
     pass through untouched, for the model to judge.
  2. Fillers / politeness ("could you", "please", "i want you to", "now", "thanks") are stripped from the
     start and the end, repeatedly; "please" and "kindly" wherever they are.
  3. A leading negation ("don't ...") or stop phrase ("stop", "cancel", "never mind") is a stop: is_stop,
     action "stop", no expression. Stop is only recognised at the start, so "the bus stop sign" is not one.
  4. The longest action phrase at the start gives the canonical action ("pick up" -> pick, "hand me" ->
     give, "look at" -> find). Without one, the action is "" and the whole normalised utterance is the
     expression: a bare referring expression ("the mug left of the bowl") is the common case.
  5. After the action: a second command ("... and put it on the tray") goes to ``remainder``; a trailing
     verb particle ("pick the cup up") is dropped; for place / push / give a trailing destination ("on the
     tray", "to me") goes to ``destination``; an object that is only a pronoun ("put it down") gives an
     empty expression with ``uses_previous_target``.
  6. The rest is the expression, otherwise intact ("the red mug on the left").

Leading article: the expression is *not* given one ("pick red mug" -> "red mug"). Referring-expression
models are trained on human phrasing with and without articles (RefCOCO has both), and inserting words would
only change the text the model sees (and the text-feature cache key) without adding information.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from .vocabulary import STOP, Vocabulary, load_vocabulary, normalize

# Work on at most this many times max_chars raw characters: bounds the cost of normalising a huge input.
_RAW_FACTOR = 8
# English function words a phrase cannot end with; trailing-filler stripping never leaves one at the end.
_DANGLING = frozenset({"the", "a", "an", "of", "to", "on", "in", "at", "with", "from", "by", "for", "into", "onto",
                       "and", "or", "my", "your", "its", "their", "our", "his", "her"})


@dataclass
class ParsedCommand:
    """Result of parsing one utterance. ``action`` is canonical ("pick", "place", ... or "" when unknown)."""

    action: str
    expression: str               # text for the segmentation model ("" for stop / pronoun-only / empty)
    raw: str                      # the input as given
    is_stop: bool = False         # clear the active command
    error: str = ""               # why nothing can be done with it (empty input, only filler words)
    truncated: bool = False       # the input was longer than max_chars and was cut at a word boundary
    normalized: str = ""          # the normalised (and possibly truncated) utterance
    destination: str = ""         # place / push / give target phrase, with its preposition ("on the tray")
    uses_previous_target: bool = False  # the object was a pronoun ("put it down"): act on the last target
    remainder: str = ""           # a second command that followed ("put it on the tray")
    mentions: dict[str, list[str]] = field(default_factory=dict)  # colours, categories, ... in the expression

    @property
    def ok(self) -> bool:
        return not self.error

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class CommandParser:
    """Parses utterances with one vocabulary. Thread-safe (no mutable state after construction)."""

    def __init__(self, vocabulary: Vocabulary | None = None, max_chars: int | None = None) -> None:
        self.vocabulary = vocabulary if vocabulary is not None else load_vocabulary()
        self.max_chars = int(max_chars if max_chars is not None else self.vocabulary.max_chars)

    # -- steps --------------------------------------------------------------------------------------------
    def _normalise(self, raw: str) -> tuple[str, bool]:
        limit = self.max_chars
        text = raw[: _RAW_FACTOR * limit]
        truncated = len(raw) > len(text)
        norm = normalize(text)
        if len(norm) > limit:
            cut = norm.rfind(" ", 0, limit + 1)
            norm = norm[: cut if cut > 0 else limit].rstrip()
            truncated = True
        return norm, truncated

    def _strip_fillers(self, words: list[str]) -> list[str]:
        v = self.vocabulary
        anywhere = v.index("anywhere")
        out, i = [], 0
        while i < len(words):  # "please" / "kindly" wherever they are
            _, n = anywhere.match(words, i)
            if n:
                i += n
            else:
                out.append(words[i])
                i += 1
        fillers = v.index("fillers")
        changed = True
        while changed and out:
            changed = False
            _, n = fillers.match(out, 0)
            if n:
                out, changed = out[n:], True
            for n in fillers.lengths_at_end(out):
                # do not strip what would leave a dangling word: "on the right now" keeps "right"
                if len(out) == n or out[len(out) - n - 1] not in _DANGLING:
                    out, changed = out[: len(out) - n], True
                    break
        return out

    def _split_second_command(self, words: list[str]) -> tuple[list[str], list[str]]:
        v = self.vocabulary
        conj, actions = v.index("conjunctions"), v.index("actions")
        for i in range(1, len(words)):
            _, n = conj.match(words, i)
            if n and actions.match(self._strip_fillers(words[i + n:]), 0)[1]:
                return words[:i], words[i + n:]
        return words, []

    def _split_destination(self, action: str, words: list[str]) -> tuple[list[str], list[str]]:
        preps = self.vocabulary.index("destinations").get(action)
        if preps is None:
            return words, []
        # words inside a longer relation ("to" in "next to") cannot start a destination
        inside = {k for start, n, _ in self.vocabulary.index("relations").find_all(words)
                  for k in range(start + 1, start + n)}
        for i in range(len(words) - 1, 0, -1):  # the last preposition with a non-empty object before it
            _, n = preps.match(words, i)
            if n and i + n < len(words) and i not in inside:
                return words[:i], words[i:]
        return words, []

    def mentions(self, expression: str) -> dict[str, list[str]]:
        """Vocabulary terms in an expression (categories canonical), in order: for grammar and ranking."""
        words = expression.split()
        v = self.vocabulary
        out: dict[str, list[str]] = {}
        for key in ("colours", "sizes", "ordinals", "categories", "relations"):
            found = [value for _, _, value in v.index(key).find_all(words)]
            if found:
                out[key] = found
        return out

    # -- entry point --------------------------------------------------------------------------------------
    def parse(self, text: Any) -> ParsedCommand:
        """Parse one utterance (str; bytes are decoded as UTF-8; None counts as empty). Never raises."""
        if text is None:
            raw = ""
        elif isinstance(text, (bytes, bytearray)):
            raw = bytes(text).decode("utf-8", errors="replace")
        else:
            raw = str(text)
        norm, truncated = self._normalise(raw)
        result = ParsedCommand(action="", expression="", raw=raw, truncated=truncated, normalized=norm)
        if not norm:
            result.error = "empty command" if not raw.strip() else "command has no words"
            return result
        v = self.vocabulary
        words = self._strip_fillers(norm.split())
        if not words:
            result.error = f"nothing to do in '{norm}'"
            return result
        if v.index("negations").match(words, 0)[1]:
            result.action, result.is_stop = STOP, True
            return result
        action, n = v.index("actions").match(words, 0)
        if action is None:  # unknown phrasing: the model gets the utterance itself
            result.expression = " ".join(words)
            result.mentions = self.mentions(result.expression)
            return result
        result.action = action
        if action == STOP:
            result.is_stop = True
            return result
        obj, rest = self._split_second_command(words[n:])
        result.remainder = " ".join(rest)
        obj = self._strip_fillers(obj)
        _, n = v.index("particles").match_end(obj)  # "pick the cup up"
        if n and n < len(obj):
            obj = obj[: len(obj) - n]
        obj, dest = self._split_destination(action, obj)
        result.destination = " ".join(self._strip_fillers(dest)) if dest else ""
        obj = self._strip_fillers(obj)
        if obj and v.index("particles").match(obj, 0)[1] == len(obj):
            obj = []  # "put down" after "put", "pick up" handled by the action; a lone particle is no object
        pronoun, n = v.index("pronouns").match(obj, 0)
        if obj and n == len(obj):
            obj, result.uses_previous_target = [], True
        result.expression = " ".join(obj)
        result.mentions = self.mentions(result.expression)
        return result


@functools.lru_cache(maxsize=1)
def default_parser() -> CommandParser:
    """A parser with config/vocabulary.yaml (built once)."""
    return CommandParser()


def parse_command(text: Any, vocabulary: Vocabulary | None = None) -> ParsedCommand:
    """Parse one command with the default vocabulary (or ``vocabulary``). Never raises."""
    parser = default_parser() if vocabulary is None else CommandParser(vocabulary)
    return parser.parse(text)

"""The command vocabulary (config/vocabulary.yaml) as a dataclass, plus phrase matching on word lists.

The same data drives the text command parser now and a speech-recognition grammar later, so it is exposed
as plain lists and dicts (``Vocabulary.actions``, ``.colours``, ``.categories`` ...) and ``phrases()``.
Every phrase is normalised exactly like user input (:func:`normalize`), so the YAML may use any case.
"""
from __future__ import annotations

import functools
import os
import pathlib
import unicodedata
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Mapping

import yaml

STOP = "stop"
DEFAULT_MAX_CHARS = 256

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})


def normalize(text: str) -> str:
    """Lowercase words separated by single spaces: NFKC, casefold, punctuation -> space.

    Letters and digits of any script survive (non-English input passes through); an apostrophe or hyphen
    survives inside a word ("where's", "t-shirt"); everything else (punctuation, symbols, emoji, control
    characters) becomes a space.
    """
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    chars = [c if (c.isalnum() or c in "'-") else " " for c in text]
    words = ("".join(chars)).split()
    return " ".join(w for w in (w.strip("'-") for w in words) if w)


def _words(phrase: str) -> tuple[str, ...]:
    return tuple(normalize(phrase).split())


class PhraseIndex:
    """Longest-match lookup of multi-word phrases in a word list (phrase -> value)."""

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self._table: dict[tuple[str, ...], str] = {}
        self.longest = 0
        for phrase, value in entries:
            self.add(phrase, value)

    def add(self, phrase: str, value: str) -> None:
        key = _words(phrase)
        if not key:
            raise ValueError(f"empty phrase for {value!r}")
        existing = self._table.get(key)
        if existing is not None and existing != value:
            raise ValueError(f"phrase {' '.join(key)!r} is listed for both {existing!r} and {value!r}")
        self._table[key] = value
        self.longest = max(self.longest, len(key))

    def match(self, words: list[str] | tuple[str, ...], start: int = 0) -> tuple[str | None, int]:
        """(value, number of words) of the longest phrase starting at ``words[start]``; (None, 0) if none."""
        for n in range(min(self.longest, len(words) - start), 0, -1):
            value = self._table.get(tuple(words[start:start + n]))
            if value is not None:
                return value, n
        return None, 0

    def match_end(self, words: list[str] | tuple[str, ...]) -> tuple[str | None, int]:
        """Like :meth:`match` for a phrase ending at the last word."""
        for n in range(min(self.longest, len(words)), 0, -1):
            value = self._table.get(tuple(words[len(words) - n:]))
            if value is not None:
                return value, n
        return None, 0

    def lengths_at_end(self, words: list[str] | tuple[str, ...]) -> list[int]:
        """Word counts of every phrase ending at the last word, longest first."""
        return [n for n in range(min(self.longest, len(words)), 0, -1) if tuple(words[len(words) - n:]) in self._table]

    def find_all(self, words: list[str] | tuple[str, ...]) -> list[tuple[int, int, str]]:
        """Non-overlapping (start, length, value) matches, scanning left to right, longest first."""
        out, i = [], 0
        while i < len(words):
            value, n = self.match(words, i)
            if value is None:
                i += 1
            else:
                out.append((i, n, value))
                i += n
        return out

    def __contains__(self, phrase: str) -> bool:
        return _words(phrase) in self._table


def _str_list(data: Mapping[str, Any], key: str, default: Iterable[str] = ()) -> list[str]:
    value = data.get(key, list(default))
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ValueError(f"vocabulary '{key}' must be a list of phrases, got {value!r}")
    booleans = [v for v in value if isinstance(v, bool)]
    if booleans:  # YAML 1.1 reads on/off/yes/no unquoted as booleans
        raise ValueError(f"vocabulary '{key}' has {booleans}: quote words like \"on\", \"no\", \"yes\", \"off\"")
    return [normalize(str(v)) for v in value if normalize(str(v))]


def _str_map(data: Mapping[str, Any], key: str) -> dict[str, list[str]]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"vocabulary '{key}' must map names to lists of phrases, got {type(value).__name__}")
    out: dict[str, list[str]] = {}
    for name, phrases in value.items():
        canon = normalize(str(name))
        if not canon:
            raise ValueError(f"vocabulary '{key}' has an empty name")
        out[canon] = _str_list({"p": phrases}, "p")
        if canon not in out[canon]:
            out[canon].insert(0, canon)  # the canonical name is always one of its phrases
    return out


def _plurals(phrase: str) -> list[str]:
    words = phrase.split()
    last = words[-1]
    forms = {last + "s", last + "es"}
    if last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        forms.add(last[:-1] + "ies")
    return [" ".join(words[:-1] + [f]) for f in sorted(forms)]


@dataclass(frozen=True)
class Vocabulary:
    """What the parser (and a speech grammar) understands. Load with :func:`load_vocabulary`."""

    actions: dict[str, list[str]]                      # canonical action -> phrases ("pick": ["pick", "grab", ...])
    fillers: list[str] = field(default_factory=list)   # stripped at the start / end of an utterance
    fillers_anywhere: list[str] = field(default_factory=list)  # stripped everywhere ("please")
    negations: list[str] = field(default_factory=list)  # a command starting with one is a stop
    pronouns: list[str] = field(default_factory=list)   # "it", "that one": refer to the previous target
    destinations: dict[str, list[str]] = field(default_factory=dict)  # action -> destination prepositions
    particles: list[str] = field(default_factory=list)  # "up" in "pick the cup up"
    conjunctions: list[str] = field(default_factory=list)  # "and then" before a second command
    colours: list[str] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)  # canonical category -> names
    relations: list[str] = field(default_factory=list)
    ordinals: list[str] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)
    max_chars: int = DEFAULT_MAX_CHARS
    source: str = ""                                    # file it was loaded from ("" when built in code)

    def __post_init__(self) -> None:
        if STOP not in self.actions:
            raise ValueError(f"the vocabulary must define the '{STOP}' action")
        if int(self.max_chars) < 16:
            raise ValueError(f"max_chars must be >= 16, got {self.max_chars}")
        # build the indexes once; PhraseIndex raises on a phrase listed for two actions / categories
        idx = {
            "actions": PhraseIndex((p, a) for a, ps in self.actions.items() for p in ps),
            "fillers": PhraseIndex((p, p) for p in self.fillers),
            "anywhere": PhraseIndex((p, p) for p in self.fillers_anywhere),
            "negations": PhraseIndex((p, p) for p in self.negations),
            "pronouns": PhraseIndex((p, p) for p in self.pronouns),
            "particles": PhraseIndex((p, p) for p in self.particles),
            "conjunctions": PhraseIndex((p, p) for p in self.conjunctions),
            "colours": PhraseIndex((p, p) for p in self.colours),
            "relations": PhraseIndex((p, p) for p in self.relations),
            "ordinals": PhraseIndex((p, p) for p in self.ordinals),
            "sizes": PhraseIndex((p, p) for p in self.sizes),
        }
        cats = PhraseIndex()
        for cat, names in self.categories.items():
            for name in names:
                cats.add(name, cat)
        for cat, names in self.categories.items():  # plurals, unless that form is another category's name
            for name in names:
                for plural in _plurals(name):
                    if plural not in cats:
                        cats.add(plural, cat)
        idx["categories"] = cats
        idx["destinations"] = {a: PhraseIndex((p, p) for p in ps) for a, ps in self.destinations.items()}
        object.__setattr__(self, "_index", idx)

    def index(self, name: str) -> Any:
        """The :class:`PhraseIndex` of a section ("actions", "fillers", "colours", ...)."""
        return self._index[name]  # type: ignore[attr-defined]

    def action_of(self, phrase: str) -> str | None:
        """Canonical action of a whole phrase ("grab" -> "pick"), None if it is not an action phrase."""
        words = normalize(phrase).split()
        value, n = self.index("actions").match(words)
        return value if n == len(words) and words else None

    def category_of(self, phrase: str) -> str | None:
        """Canonical category of a whole name ("cup" -> "mug", "boxes" -> "cube"), None if unknown."""
        words = normalize(phrase).split()
        value, n = self.index("categories").match(words)
        return value if n == len(words) and words else None

    def phrases(self) -> list[str]:
        """Every phrase in the vocabulary, sorted and unique: the word list of a speech grammar."""
        out: set[str] = set()
        for ps in list(self.actions.values()) + list(self.categories.values()) + list(self.destinations.values()):
            out.update(ps)
        for section in (self.fillers, self.fillers_anywhere, self.negations, self.pronouns, self.particles,
                        self.conjunctions, self.colours, self.relations, self.ordinals, self.sizes):
            out.update(section)
        return sorted(out)

    def to_dict(self) -> dict[str, Any]:
        """The vocabulary as plain YAML-able data (the same layout as config/vocabulary.yaml)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "") -> "Vocabulary":
        """From the parsed YAML layout; raises ValueError with the offending key on malformed data."""
        if not isinstance(data, Mapping):
            raise ValueError(f"vocabulary must be a mapping, got {type(data).__name__}")
        return cls(
            actions=_str_map(data, "actions"), fillers=_str_list(data, "fillers"),
            fillers_anywhere=_str_list(data, "fillers_anywhere"), negations=_str_list(data, "negations"),
            pronouns=_str_list(data, "pronouns"), destinations=_str_map_plain(data, "destinations"),
            particles=_str_list(data, "particles"), conjunctions=_str_list(data, "conjunctions"),
            colours=_str_list(data, "colours"), categories=_str_map(data, "categories"),
            relations=_str_list(data, "relations"), ordinals=_str_list(data, "ordinals"),
            sizes=_str_list(data, "sizes"), max_chars=int(data.get("max_chars", DEFAULT_MAX_CHARS)), source=source)


def _str_map_plain(data: Mapping[str, Any], key: str) -> dict[str, list[str]]:
    """Like _str_map, without adding the key as a phrase (destinations: action -> prepositions)."""
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"vocabulary '{key}' must map names to lists of phrases, got {type(value).__name__}")
    return {normalize(str(k)): _str_list({"p": v}, "p") for k, v in value.items()}


def default_vocabulary_path() -> pathlib.Path:
    """config/vocabulary.yaml of this installation (see :mod:`vipa_ros.resources`)."""
    from vipa_ros.resources import config_path

    return config_path("vocabulary.yaml")


def load_vocabulary(path: str | os.PathLike[str] | None = None) -> Vocabulary:
    """Load a vocabulary YAML (default: config/vocabulary.yaml). Cached per path and modification time."""
    p = pathlib.Path(path) if path is not None else default_vocabulary_path()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise FileNotFoundError(f"vocabulary file not found: {p}") from exc
    return _load_cached(str(p.resolve()), mtime)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime: int) -> Vocabulary:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from exc
    try:
        return Vocabulary.from_dict(data or {}, source=path)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc

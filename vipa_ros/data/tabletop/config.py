"""The tabletop generator's configuration (config/tabletop.yaml): loading, validation and derived look-ups."""
from __future__ import annotations

import copy
import hashlib
import json
import pathlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from vipa_ros.resources import config_path

SIZE_CLASSES = ("small", "large")


def default_config_path() -> pathlib.Path:
    return config_path("tabletop.yaml")


@dataclass
class TabletopConfig:
    """Parsed configuration. `raw` keeps the YAML content (it is copied into every generated dataset)."""

    raw: dict[str, Any]
    categories: dict[str, dict[str, Any]] = field(init=False)
    colours: dict[str, dict[str, Any]] = field(init=False)
    noun_categories: dict[str, frozenset[str]] = field(init=False)
    heldout_combos: frozenset[tuple[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        raw = self.raw
        for key in ("categories", "colours", "sizes", "templates", "expressions", "camera", "scene", "splits"):
            if key not in raw:
                raise ValueError(f"tabletop config: missing section '{key}'")
        self.categories = raw["categories"]
        self.colours = raw["colours"]
        ids = [c["id"] for c in self.categories.values()]
        if len(set(ids)) != len(ids):
            raise ValueError("tabletop config: category ids must be unique")
        for name, cat in self.categories.items():
            allowed = cat.get("colours", "all")
            if allowed != "all":
                unknown = set(allowed) - set(self.colours)
                if unknown:
                    raise ValueError(f"tabletop config: category {name} names unknown colours {sorted(unknown)}")
        for size in SIZE_CLASSES:
            if size not in raw["sizes"]:
                raise ValueError(f"tabletop config: sizes.{size} missing")
        nouns: dict[str, set[str]] = {}
        for name, cat in self.categories.items():
            for noun in cat["nouns"]:
                nouns.setdefault(noun, set()).add(name)
        for noun in raw.get("generic_nouns", []):
            nouns.setdefault(noun, set()).update(self.categories)
        self.noun_categories = {n: frozenset(c) for n, c in nouns.items()}
        combos = set()
        for cat, colour in raw.get("heldout", {}).get("combos", []):
            if cat not in self.categories or colour not in self.colours:
                raise ValueError(f"tabletop config: held-out combo ({cat}, {colour}) names an unknown category/colour")
            combos.add((cat, colour))
        self.heldout_combos = frozenset(combos)
        fractions = raw["splits"]
        if abs(sum(fractions.values()) - 1.0) > 1e-6:
            raise ValueError("tabletop config: split fractions must sum to 1")

    # -- look-ups ---------------------------------------------------------------------------------------------
    def category_colours(self, category: str) -> list[str]:
        allowed = self.categories[category].get("colours", "all")
        return list(self.colours) if allowed == "all" else list(allowed)

    def category_id(self, category: str) -> int:
        return int(self.categories[category]["id"])

    def specific_nouns(self, category: str) -> list[str]:
        return list(self.categories[category]["nouns"])

    def generic_nouns(self) -> list[str]:
        return list(self.raw.get("generic_nouns", []))

    def colour_words(self, colour: str) -> list[str]:
        return list(self.colours[colour].get("words", [colour]))

    def size_words(self, size: str) -> list[str]:
        return list(self.raw["sizes"][size].get("words", [size]))

    @property
    def expressions(self) -> dict[str, Any]:
        return self.raw["expressions"]

    @property
    def relations(self) -> dict[str, Any]:
        return self.raw["expressions"]["relations"]

    @property
    def templates(self) -> dict[str, list[dict[str, Any]]]:
        return self.raw["templates"]

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True).encode()).hexdigest()

    def with_overrides(self, **sections: Any) -> "TabletopConfig":
        """A copy with top-level sections replaced/merged (dicts merge one level deep)."""
        raw = copy.deepcopy(self.raw)
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key].update(value)
            else:
                raw[key] = value
        return TabletopConfig(raw)


def load_config(path: str | pathlib.Path | None = None) -> TabletopConfig:
    """Load config/tabletop.yaml (or another file with the same schema)."""
    path = pathlib.Path(path) if path else default_config_path()
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    return TabletopConfig(raw)

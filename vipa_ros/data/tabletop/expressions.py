"""Referring expressions for tabletop objects: enumerate expression programs, keep the unambiguous ones, pick a
varied few per target and phrase them with templates (config `templates`).

A program is a small JSON-able dict the resolver (semantics.resolve) evaluates:
    {"target": {"noun": "mug", "colour": "red", "size": None},
     "op": None | "relation" | "extremal" | "ordinal",
     "relation": "left_of", "anchors": [{"id": 7, "desc": {...}}],       # op == "relation"
     "extremal": "leftmost",                                               # op == "extremal"
     "ordinal": {"k": 2, "from": "left"}}                                  # op == "ordinal"
Sentence types: category (noun only), colour, size, spatial (relations, leftmost/nearest...), ordinal,
combination (two or more of colour/size/spatial/ordinal), command (any of these phrased as a robot command);
`components` lists every ingredient.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vipa_ros.data.tabletop.config import TabletopConfig
from vipa_ros.data.tabletop.semantics import (BINARY_RELATIONS, UNARY_SPATIAL, Relations, SceneObject,
                                              is_unambiguous, matches)

SENTENCE_TYPES = ("category", "colour", "size", "spatial", "ordinal", "combination", "command")
_PUNCT = re.compile(r"[^a-z0-9' ]+")


@dataclass
class Expression:
    raw: str
    sent: str
    tokens: list[str]
    type: str
    components: list[str]
    program: dict[str, Any]
    template_ids: list[str]
    unseen_template: bool
    anchor_ids: list[int] = field(default_factory=list)


def normalize(raw: str) -> str:
    """RefCOCO-style `sent`: lower case, punctuation removed, single spaces."""
    return " ".join(_PUNCT.sub(" ", raw.lower()).split())


def components_of(program: dict[str, Any]) -> list[str]:
    comps = []
    if program["target"].get("colour"):
        comps.append("colour")
    if program["target"].get("size"):
        comps.append("size")
    if program.get("op") in ("relation", "extremal"):
        comps.append("spatial")
    if program.get("op") == "ordinal":
        comps.append("ordinal")
    return comps


def type_of(components: list[str]) -> str:
    if not components:
        return "category"
    if len(components) == 1:
        return components[0]
    return "combination"


class ExpressionGenerator:
    def __init__(self, cfg: TabletopConfig):
        self.cfg = cfg
        self.ex = cfg.expressions
        self.rel = Relations(cfg.relations)
        self.nouns = cfg.noun_categories
        # nouns of each category grouped by what they denote (one draw per group keeps enumeration small)
        self.noun_groups: dict[str, list[list[str]]] = {}
        for cat in cfg.categories:
            groups: dict[frozenset, list[str]] = {}
            for noun in cfg.specific_nouns(cat) + cfg.generic_nouns():
                groups.setdefault(self.nouns[noun], []).append(noun)
            self.noun_groups[cat] = list(groups.values())
        self.generic = set(cfg.generic_nouns())

    # -- enumeration --------------------------------------------------------------------------------------------
    def _descriptors(self, rng: np.random.Generator, obj: SceneObject) -> list[dict[str, Any]]:
        out = []
        for group in self.noun_groups[obj.category]:
            noun = group[int(rng.integers(len(group)))]
            for colour in (None, obj.colour):
                for size in (None, obj.size):
                    if noun in self.generic and (size or not colour):
                        continue  # not "the object"; sizes are relative to a category, so not "the small one"
                    if size and len(self.nouns[noun]) > 1:
                        continue  # "the small block" when "block" names cubes, lego bricks and jenga blocks
                    out.append({"noun": noun, "colour": colour, "size": size})
        return out

    def _unique_descriptor(self, rng: np.random.Generator, obj: SceneObject,
                           objects: list[SceneObject]) -> dict[str, Any] | None:
        """Shortest description selecting only `obj` (for anchors)."""
        descs = [d for d in self._descriptors(rng, obj) if d["noun"] not in self.generic]
        descs.sort(key=lambda d: (bool(d["colour"]) + bool(d["size"]), rng.random()))
        for d in descs:
            if [o.id for o in objects if matches(d, o, self.nouns)] == [obj.id]:
                return d
        return None

    def programs(self, rng: np.random.Generator, target: SceneObject, objects: list[SceneObject],
                 anchors: list[SceneObject]) -> list[dict[str, Any]]:
        """Every unambiguous program for `target` (anchors: objects visible enough to be referred to)."""
        out: list[dict[str, Any]] = []

        def keep(program: dict[str, Any]) -> None:
            if is_unambiguous(program, target.id, objects, self.nouns, self.rel):
                out.append(program)

        descs = self._descriptors(rng, target)
        anchor_desc = {}
        for a in anchors:
            if a.id != target.id:
                d = self._unique_descriptor(rng, a, objects)
                if d is not None:
                    anchor_desc[a.id] = (a, d)
        redundant_p = float(self.ex.get("redundant_relation_prob", 0.0))
        for desc in descs:
            matched = [o for o in objects if matches(desc, o, self.nouns)]
            if len(matched) == 1:
                keep({"target": desc, "op": None})
            if len(matched) >= 2:
                for name in UNARY_SPATIAL:
                    keep({"target": desc, "op": "extremal", "extremal": name})
            if len(matched) >= 3:
                for k in (2, 3):
                    if k < len(matched):
                        for side in ("left", "right"):
                            keep({"target": desc, "op": "ordinal", "ordinal": {"k": k, "from": side}})
            if desc["noun"] in self.generic:
                continue  # "the red one left of the bowl" reads badly; generic nouns only in plain phrases
            if len(matched) == 1 and rng.random() >= redundant_p:
                continue
            for aid, (_, adesc) in anchor_desc.items():
                for name in BINARY_RELATIONS:
                    keep({"target": desc, "op": "relation", "relation": name,
                          "anchors": [{"id": aid, "desc": adesc}]})
            ids = list(anchor_desc)
            for i in range(len(ids)):
                for j in range(i + 1, len(ids)):
                    a, b = anchor_desc[ids[i]], anchor_desc[ids[j]]
                    if self.rel.between(target, a[0], b[0]) is True:
                        pair = [a, b] if rng.random() < 0.5 else [b, a]
                        keep({"target": desc, "op": "relation", "relation": "between",
                              "anchors": [{"id": x[0].id, "desc": x[1]} for x in pair]})
        return out

    # -- selection --------------------------------------------------------------------------------------------
    def select(self, rng: np.random.Generator, programs: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
        """Up to k programs, preferring distinct sentence types (weighted by config `type_weights`)."""
        by_type: dict[str, list[dict[str, Any]]] = {}
        for p in programs:
            by_type.setdefault(type_of(components_of(p)), []).append(p)
        weights = self.ex.get("type_weights", {})
        types = list(by_type)
        chosen: list[dict[str, Any]] = []
        while types and len(chosen) < k:
            w = np.array([float(weights.get(t, 1.0)) for t in types])
            t = types.pop(int(rng.choice(len(types), p=w / w.sum())))
            pool = by_type[t]
            chosen.append(pool.pop(int(rng.integers(len(pool)))))
        rest = [p for pool in by_type.values() for p in pool]
        while rest and len(chosen) < k:
            chosen.append(rest.pop(int(rng.integers(len(rest)))))
        return chosen

    # -- phrasing ---------------------------------------------------------------------------------------------
    def _template(self, rng: np.random.Generator, group: str, allow_heldout: bool, heldout_p: float,
                  have: set[str] | None = None) -> dict[str, Any]:
        options = [t for t in self.cfg.templates[group] if not set(t.get("needs", [])) - (have or set())]
        seen = [t for t in options if not t.get("heldout")]
        held = [t for t in options if t.get("heldout")]
        pool = held if (allow_heldout and held and rng.random() < heldout_p) or not seen else seen
        return pool[int(rng.integers(len(pool)))]

    def _words(self, rng: np.random.Generator, desc: dict[str, Any]) -> dict[str, str]:
        def pick(words: list[str]) -> str:
            return words[int(rng.integers(len(words)))]
        return {"noun": desc["noun"],
                "colour": pick(self.cfg.colour_words(desc["colour"])) if desc.get("colour") else "",
                "size": pick(self.cfg.size_words(desc["size"])) if desc.get("size") else ""}

    @staticmethod
    def _fill(text: str, **values: str) -> str:
        return " ".join(text.format(**values).split())

    def realize(self, rng: np.random.Generator, program: dict[str, Any], test_split: bool) -> Expression:
        heldout_p = float(self.cfg.raw.get("heldout", {}).get("template_prob", 0.0)) if test_split else 0.0
        used: list[dict[str, Any]] = []
        w = self._words(rng, program["target"])
        body = self._fill("{size} {colour} {noun}", **w)
        op = program.get("op")

        def the_np(desc: dict[str, Any]) -> str:
            return self._fill("the {size} {colour} {noun}", **self._words(rng, desc))

        if op is None:
            have = {"colour"} if w["colour"] else set()
            t = self._template(rng, "np", test_split, heldout_p, have)
            used.append(t)
            ref = self._fill(t["text"], **w)
        elif op == "relation":
            name = program["relation"]
            t = self._template(rng, name, test_split, heldout_p)
            used.append(t)
            anchors = [the_np(a["desc"]) for a in program["anchors"]]
            ref = self._fill(t["text"], np="the " + body, anchor=anchors[0],
                             anchor2=anchors[1] if len(anchors) > 1 else "")
        elif op == "extremal":
            t = self._template(rng, program["extremal"], test_split, heldout_p)
            used.append(t)
            ref = self._fill(t["text"], np="the " + body, body=body)
        elif op == "ordinal":
            side = program["ordinal"]["from"]
            t = self._template(rng, f"ordinal_{side}", test_split, heldout_p)
            used.append(t)
            ordinal = self.cfg.raw["ordinals"][int(program["ordinal"]["k"])]
            ref = self._fill(t["text"], body=body, ord=ordinal)
        else:
            raise ValueError(op)

        comps = components_of(program)
        question = False
        if rng.random() < float(self.ex.get("command_prob", 0.0)):
            t = self._template(rng, "command", test_split, heldout_p)
            used.append(t)
            question = bool(t.get("question"))
            raw = self._fill(t["text"], ref=ref)
            comps = comps + ["command"]
            stype = "command"
        else:
            raw = ref
            if raw.startswith("the ") and rng.random() < float(self.ex.get("terse_prob", 0.0)):
                raw = raw[4:]  # RefCOCO-style terse phrase
            stype = type_of(comps)
        # raw text: sometimes capitalised with punctuation, like typed or transcribed commands
        if stype == "command" and rng.random() < 0.6:
            raw = raw[0].upper() + raw[1:] + ("?" if question else ".")
        elif rng.random() < 0.2:
            raw = raw[0].upper() + raw[1:]
        sent = normalize(raw)
        return Expression(
            raw=raw, sent=sent, tokens=sent.split(), type=stype, components=comps, program=copy.deepcopy(program),
            template_ids=[t["id"] for t in used], unseen_template=any(bool(t.get("heldout")) for t in used),
            anchor_ids=[a["id"] for a in program.get("anchors", [])])

    def generate(self, rng: np.random.Generator, objects: list[SceneObject], test_split: bool,
                 image_pixels: int) -> dict[int, list[Expression]]:
        """Expressions per target object id. Targets: visible ratio and area above the config thresholds."""
        min_area = float(self.ex["min_target_area"]) * image_pixels
        targets = [o for o in objects if o.visible_ratio >= float(self.ex["min_visible_ratio"])
                   and o.visible_px >= min_area]
        anchors = [o for o in objects if o.visible_ratio >= float(self.ex["anchor_min_visible_ratio"])
                   and o.visible_px >= min_area]
        out: dict[int, list[Expression]] = {}
        k = int(self.ex["max_per_object"])
        for target in targets:
            progs = self.programs(rng, target, objects, anchors)
            chosen = self.select(rng, progs, k)
            exprs, seen = [], set()
            for p in chosen:
                e = self.realize(rng, p, test_split)
                if e.sent not in seen:
                    seen.add(e.sent)
                    exprs.append(e)
            if exprs:
                out[target.id] = exprs
        return out

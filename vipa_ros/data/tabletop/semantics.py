"""What a referring expression selects in a scene: attribute matching, three-valued spatial relations and a
resolver for expression programs.

Every relation returns True (clearly holds), False (clearly fails) or None (borderline). An expression is
unambiguous only when the target is the one object for which it clearly holds and it clearly fails for every other
object, so borderline cases ("is the cup left of the bowl or behind it?") are never emitted.

The resolver needs only what instances.json stores per annotation (see `SceneObject.from_annotation`), so emitted
expressions can be re-checked from the written dataset alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Truth = bool | None

UNARY_SPATIAL = ("leftmost", "rightmost", "nearest", "farthest")
BINARY_RELATIONS = ("left_of", "right_of", "behind", "in_front_of", "next_to")
TERNARY_RELATIONS = ("between",)


@dataclass
class SceneObject:
    id: int                    # annotation id (or instance index while generating)
    category: str
    colour: str
    size: str
    u: float                   # projected centre, image x (pixels)
    v: float                   # projected centre, image y (pixels)
    width_px: float            # width of the unoccluded projection (pixels)
    fwd: float                 # table-plane distance ahead of the camera (m)
    lat: float                 # table-plane offset to the camera's right (m)
    distance: float            # camera-to-centre distance (m)
    xy: np.ndarray             # world table-plane position (m)
    radius: float              # footprint radius (m)
    visible_px: int
    visible_ratio: float

    @classmethod
    def from_annotation(cls, ann: dict[str, Any]) -> "SceneObject":
        a = ann["attributes"]
        box = a["proj_box"]
        return cls(id=int(ann["id"]), category=a["category"], colour=a["colour"], size=a["size"],
                   u=float(a["center_px"][0]), v=float(a["center_px"][1]), width_px=float(box[2] - box[0]),
                   fwd=float(a["fwd_m"]),
                   lat=float(a["lat_m"]), distance=float(np.linalg.norm(ann["pose_cam"]["position"])),
                   xy=np.asarray(ann["pose_world"]["position"][:2], dtype=np.float64),
                   radius=float(a["footprint_radius_m"]), visible_px=int(a["visible_px"]),
                   visible_ratio=float(a["visible_ratio"]))


def t_and(values) -> Truth:
    out: Truth = True
    for v in values:
        if v is False:
            return False
        if v is None:
            out = None
    return out


class Relations:
    """Three-valued spatial predicates with the margins of config `expressions.relations`."""

    def __init__(self, params: dict[str, Any]):
        self.p = params

    def left_of(self, a: SceneObject, b: SceneObject) -> Truth:
        """a is further left than b in the image (horizontal order: leftmost, ordinals)."""
        du = b.u - a.u
        s = a.width_px + b.width_px
        if du > self.p["lateral_true"] * s:
            return True
        if du < self.p["lateral_false"] * s:
            return False
        return None

    def right_of(self, a: SceneObject, b: SceneObject) -> Truth:
        return self.left_of(b, a)

    def beside_left(self, a: SceneObject, b: SceneObject) -> Truth:
        """"a left of b": further left, and offset more sideways than up/down in the image."""
        t = self.left_of(a, b)
        if t is True and (b.u - a.u) <= self.p.get("lateral_dominance", 0.0) * abs(b.v - a.v):
            return None
        return t

    def beside_right(self, a: SceneObject, b: SceneObject) -> Truth:
        return self.beside_left(b, a)

    def _depth_threshold(self, a: SceneObject, b: SceneObject) -> float:
        return max(self.p["depth_true_m"], self.p["depth_true_rel"] * (a.radius + b.radius))

    def closer(self, a: SceneObject, b: SceneObject) -> Truth:
        """a is nearer to the camera than b (along the table and in straight-line distance)."""
        d_fwd = b.fwd - a.fwd
        d_dist = b.distance - a.distance
        thr = self._depth_threshold(a, b)
        if d_fwd > thr and d_dist > 0.5 * thr:
            return True
        if d_fwd < 0 and d_dist < 0:
            return False
        return None

    def behind(self, a: SceneObject, b: SceneObject) -> Truth:
        d = a.fwd - b.fwd
        lat = abs(a.lat - b.lat)
        r = a.radius + b.radius
        if d > self._depth_threshold(a, b) and lat < self.p["behind_lateral_true"] * r:
            return True
        if d < 0 or lat > self.p["behind_lateral_false"] * r:
            return False
        return None

    def in_front_of(self, a: SceneObject, b: SceneObject) -> Truth:
        return self.behind(b, a)

    def next_to(self, a: SceneObject, b: SceneObject) -> Truth:
        gap = float(np.linalg.norm(a.xy - b.xy)) - a.radius - b.radius
        if gap < self.p["next_to_true_m"]:
            return True
        if gap > self.p["next_to_false_m"]:
            return False
        return None

    def between(self, a: SceneObject, b: SceneObject, c: SceneObject) -> Truth:
        seg = c.xy - b.xy
        length = float(np.linalg.norm(seg))
        if length < 1e-6 or length > self.p["between_max_span_m"]:
            return False
        rel = a.xy - b.xy
        t = float(rel @ seg) / length ** 2
        perp = abs(float(rel[0] * seg[1] - rel[1] * seg[0])) / length
        lo, hi = self.p["between_t_true"]
        flo, fhi = self.p["between_t_false"]
        if lo < t < hi and perp < self.p["between_perp_true"] * length:
            return True
        if t < flo or t > fhi or perp > self.p["between_perp_false"] * length:
            return False
        return None

    def binary(self, name: str, a: SceneObject, anchors: list[SceneObject]) -> Truth:
        if name == "between":
            return self.between(a, anchors[0], anchors[1])
        if name == "left_of":
            return self.beside_left(a, anchors[0])
        if name == "right_of":
            return self.beside_right(a, anchors[0])
        return getattr(self, name)(a, anchors[0])

    def extremal(self, name: str, a: SceneObject, others: list[SceneObject]) -> Truth:
        cmp = {"leftmost": self.left_of, "rightmost": self.right_of, "nearest": self.closer,
               "farthest": lambda x, y: self.closer(y, x)}[name]
        return t_and(cmp(a, o) for o in others)

    def ordinal(self, k: int, side: str, a: SceneObject, others: list[SceneObject]) -> Truth:
        """a is the k-th object (1-based) counting from `side` ('left' or 'right')."""
        before = self.left_of if side == "left" else self.right_of
        n_before = n_after = n_unknown = 0
        for o in others:
            if before(o, a) is True:
                n_before += 1
            elif before(a, o) is True:
                n_after += 1
            else:
                n_unknown += 1
        if n_unknown == 0:
            return n_before == k - 1
        if n_before <= k - 1 <= n_before + n_unknown:
            return None
        return False


def matches(desc: dict[str, Any], obj: SceneObject, noun_categories: dict[str, frozenset[str]]) -> bool:
    if obj.category not in noun_categories.get(desc["noun"], frozenset()):
        return False
    if desc.get("colour") and desc["colour"] != obj.colour:
        return False
    if desc.get("size") and desc["size"] != obj.size:
        return False
    return True


def resolve(program: dict[str, Any], objects: list[SceneObject], noun_categories: dict[str, frozenset[str]],
            relations: Relations) -> tuple[set[int], set[int]]:
    """(ids the expression clearly selects, ids it possibly selects). Anchors must each be the only object their
    own description matches; otherwise nothing is clearly selected and everything described is possible."""
    matched = [o for o in objects if matches(program["target"], o, noun_categories)]
    op = program.get("op")
    if op is None:
        ids = {o.id for o in matched}
        return ids, ids
    if op == "relation":
        by_id = {o.id: o for o in objects}
        anchors = []
        for anchor in program["anchors"]:
            hits = [o.id for o in objects if matches(anchor["desc"], o, noun_categories)]
            if hits != [anchor["id"]]:
                ids = {o.id for o in matched}
                return set(), ids
            anchors.append(by_id[anchor["id"]])
        anchor_ids = {a.id for a in anchors}
        truths = {o.id: relations.binary(program["relation"], o, anchors) for o in matched if o.id not in anchor_ids}
    elif op == "extremal":
        truths = {o.id: relations.extremal(program["extremal"], o, [x for x in matched if x.id != o.id])
                  for o in matched}
    elif op == "ordinal":
        k, side = int(program["ordinal"]["k"]), program["ordinal"]["from"]
        truths = {o.id: relations.ordinal(k, side, o, [x for x in matched if x.id != o.id]) for o in matched}
    else:
        raise ValueError(f"unknown program op {op}")
    definite = {i for i, t in truths.items() if t is True}
    possible = {i for i, t in truths.items() if t is not False}
    return definite, possible


def is_unambiguous(program: dict[str, Any], target_id: int, objects: list[SceneObject],
                   noun_categories: dict[str, frozenset[str]], relations: Relations) -> bool:
    definite, possible = resolve(program, objects, noun_categories, relations)
    return definite == {target_id} and possible == {target_id}

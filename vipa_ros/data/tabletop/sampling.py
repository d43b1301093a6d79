"""Random tabletop scenes: objects (category, colour, size, resting pose, non-overlapping placement), table and room
appearance, lights and a robot head / wrist camera pose. Everything is drawn from one numpy Generator, so a scene
is a pure function of (config, seed, scene index, split)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vipa_ros.data.tabletop.catalogue import CategoryModel
from vipa_ros.data.tabletop.config import TabletopConfig
from vipa_ros.data.tabletop.transforms import intrinsics, look_at, project, rot_z, world_to_camera

# A resting object may sink this far below or float this far above the table (metres): none, it touches exactly.
REST_EPS = 0.0005


@dataclass
class ObjectSpec:
    index: int                 # 1-based instance index within the scene
    category: str
    colour: str
    rgb: tuple[float, float, float]
    size: str                  # size class: "small" or "large"
    scale: float
    R: np.ndarray              # world orientation of the object frame
    position: np.ndarray       # world position of the object frame origin (bounding-box centre)
    extents: np.ndarray        # bounding-box extents (m) along the object axes
    footprint_radius: float    # radius of the object's footprint about `position` (xy)
    heldout_combo: bool


@dataclass
class CameraSpec:
    position: np.ndarray
    R_wc: np.ndarray           # optical frame axes (columns) in world coordinates
    fovy: float
    width: int
    height: int

    @property
    def K(self) -> np.ndarray:
        return intrinsics(self.fovy, self.width, self.height)


@dataclass
class SceneSpec:
    index: int
    split: str
    seed: int
    objects: list[ObjectSpec]
    camera: CameraSpec
    table: dict
    room: dict
    lights: list[dict]
    headlight: dict
    skybox: dict = field(default_factory=dict)


def _u(rng: np.random.Generator, lo_hi) -> float:
    lo, hi = lo_hi
    return float(rng.uniform(lo, hi))


def _ri(rng: np.random.Generator, lo_hi) -> int:
    lo, hi = lo_hi
    return int(rng.integers(lo, hi + 1))


def sample_objects(rng: np.random.Generator, cfg: TabletopConfig, catalogue: dict[str, CategoryModel],
                   split: str) -> list[dict]:
    """Category, colour and size of every object (before placement)."""
    sc = cfg.raw["scene"]
    names = sorted(catalogue)
    n_obj = _ri(rng, sc["num_objects"])
    n_cat = min(_ri(rng, sc["num_categories"]), len(names), n_obj)
    cats = list(rng.choice(names, size=n_cat, replace=False))
    max_inst = {c: int(cfg.categories[c].get("max_instances", 4)) for c in cats}
    counts = {c: 1 for c in cats}
    for _ in range(n_obj - n_cat):
        open_cats = [c for c in cats if counts[c] < max_inst[c]]
        if not open_cats:
            break
        counts[open_cats[int(rng.integers(len(open_cats)))]] += 1
    palette = list(rng.choice(sorted(cfg.colours), size=_ri(rng, sc["palette_size"]), replace=False))
    heldout = cfg.raw.get("heldout", {})
    is_test = split == "test"
    sizes = list(sc["size_probs"])
    size_p = np.array([sc["size_probs"][s] for s in sizes], dtype=np.float64)
    size_p /= size_p.sum()
    out = []
    for c in cats:
        allowed = catalogue[c].colours
        held = [col for col in allowed if (c, col) in cfg.heldout_combos]
        seen = [col for col in allowed if (c, col) not in cfg.heldout_combos]
        in_palette = [col for col in seen if col in palette] or seen
        for _ in range(counts[c]):
            if is_test and held and rng.random() < float(heldout.get("combo_prob", 0.5)):
                colour = held[int(rng.integers(len(held)))]
            else:
                colour = in_palette[int(rng.integers(len(in_palette)))]
            size = sizes[int(rng.choice(len(sizes), p=size_p))]
            out.append({"category": c, "colour": colour, "size": size,
                        "scale": _u(rng, cfg.raw["sizes"][size]["scale"]),
                        "heldout_combo": (c, colour) in cfg.heldout_combos})
    return out


def _colour_rgb(rng: np.random.Generator, cfg: TabletopConfig, colour: str) -> tuple[float, float, float]:
    base = np.asarray(cfg.colours[colour]["rgb"], dtype=np.float64)
    jitter = float(cfg.raw.get("colour_jitter", 0.0))
    rgb = np.clip(base + rng.uniform(-jitter, jitter, 3), 0.0, 1.0)
    return tuple(float(v) for v in rgb)


def place_objects(rng: np.random.Generator, cfg: TabletopConfig, catalogue: dict[str, CategoryModel],
                  drafts: list[dict]) -> tuple[list[ObjectSpec], dict]:
    """Rest each object on the table top (z = 0) at a random non-overlapping position and yaw."""
    sc = cfg.raw["scene"]
    region = np.array([_u(rng, sc["region_x"]) / 2, _u(rng, sc["region_y"]) / 2])
    offset = rng.uniform(-sc["region_offset"], sc["region_offset"], 2)
    prepared = []
    for d in drafts:
        model = catalogue[d["category"]]
        k = int(rng.choice(len(model.poses), p=[p for _, p in model.poses]))
        R = rot_z(rng.uniform(0, 2 * np.pi)) @ model.poses[k][0]
        pts = (model.points * d["scale"]) @ R.T
        z = -pts[:, 2].min() + REST_EPS
        radius = float(np.linalg.norm(pts[:, :2], axis=1).max())
        prepared.append((d, model, R, z, radius))
    prepared.sort(key=lambda item: -item[4])  # big objects first
    placed: list[tuple[np.ndarray, float]] = []
    objects: list[ObjectSpec] = []
    gap = float(sc["min_gap"])
    for d, model, R, z, radius in prepared:
        lim = np.maximum(region - radius * 0.5, 0.02)
        for _ in range(int(sc["placement_tries"])):
            xy = offset + rng.uniform(-lim, lim)
            if all(np.linalg.norm(xy - p) >= radius + r + gap for p, r in placed):
                break
        else:
            continue  # no room: drop the object
        placed.append((xy, radius))
        objects.append(ObjectSpec(
            index=0, category=d["category"], colour=d["colour"], rgb=_colour_rgb(rng, cfg, d["colour"]),
            size=d["size"], scale=d["scale"], R=R, position=np.array([xy[0], xy[1], z]),
            extents=model.extents * d["scale"], footprint_radius=radius, heldout_combo=d["heldout_combo"]))
    order = rng.permutation(len(objects))  # instance indices carry no size/order information
    objects = [objects[i] for i in order]
    for i, o in enumerate(objects, start=1):
        o.index = i
    half = np.abs(offset) + region
    for xy, r in placed:  # the table must hold every footprint
        half = np.maximum(half, np.abs(xy) + r)
    return objects, {"centre": offset, "half_extent": half}


def sample_camera(rng: np.random.Generator, cfg: TabletopConfig, centre: np.ndarray, width: int,
                  height: int) -> CameraSpec:
    cc = cfg.raw["camera"]
    target = np.array([centre[0], centre[1], 0.03]) + np.r_[rng.uniform(-1, 1, 2) * cc["target_jitter"], 0.0]
    dist = _u(rng, cc["distance"])
    elev = np.deg2rad(_u(rng, cc["elevation"]))
    azim = np.deg2rad(_u(rng, cc["azimuth"]))
    pos = target + dist * np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)])
    R_wc = look_at(pos, target, roll=np.deg2rad(_u(rng, cc["roll"])))
    return CameraSpec(position=pos, R_wc=R_wc, fovy=_u(rng, cc["fovy"]), width=width, height=height)


def count_in_view(camera: CameraSpec, objects: list[ObjectSpec], margin: float = 0.05) -> int:
    """Objects whose centre projects inside the image (a cheap pre-check before rendering)."""
    if not objects:
        return 0
    pc = world_to_camera(np.stack([o.position for o in objects]), camera.R_wc, camera.position)
    uv = project(pc, camera.K)
    w, h = camera.width, camera.height
    inside = (pc[:, 2] > 0.05) & (uv[:, 0] > margin * w) & (uv[:, 0] < (1 - margin) * w) \
        & (uv[:, 1] > margin * h) & (uv[:, 1] < (1 - margin) * h)
    return int(inside.sum())


def sample_appearance(rng: np.random.Generator, cfg: TabletopConfig, area: dict) -> tuple[dict, dict, list, dict,
                                                                                           dict]:
    tc, rc, lc = cfg.raw["table"], cfg.raw["room"], cfg.raw["lighting"]
    half = area["half_extent"]
    table = {
        "half_x": max(_u(rng, tc["half_x"]), float(half[0]) + 0.05),
        "half_y": max(_u(rng, tc["half_y"]), float(half[1]) + 0.05),
        "thickness": float(tc["thickness"]), "height": float(tc["height"]),
        "texrepeat": _u(rng, tc["texrepeat"]),
    }
    if rng.random() < float(tc["plain_prob"]) or not tc.get("textures"):
        rgb = np.asarray(tc["plain_rgb"][int(rng.integers(len(tc["plain_rgb"])))]) + rng.uniform(-0.03, 0.03, 3)
        table["rgb"] = [float(v) for v in np.clip(rgb, 0, 1)]
        table["texture"] = None
    else:
        table["texture"] = list(tc["textures"][int(rng.integers(len(tc["textures"])))])
        table["rgb"] = [float(v) for v in rng.uniform(0.85, 1.0, 3)]
    room = {
        "floor_texture": list(rc["floor_textures"][int(rng.integers(len(rc["floor_textures"])))]),
        "wall_texture": list(rc["wall_textures"][int(rng.integers(len(rc["wall_textures"])))]),
        "wall_distance": _u(rng, rc["wall_distance"]),
        "yaw": float(rng.uniform(0, 2 * np.pi)),
    }
    lights = []
    for i in range(_ri(rng, lc["num_lights"])):
        a = rng.uniform(0, 2 * np.pi)
        r = rng.uniform(0, lc["light_offset"])
        pos = np.array([r * np.cos(a), r * np.sin(a), _u(rng, lc["light_height"])])
        tint = 1.0 + rng.uniform(-lc["tint"], lc["tint"], 3)
        diffuse = _u(rng, lc["light_diffuse"]) * tint / (1 if i == 0 else 2.0)
        lights.append({"pos": pos, "dir": -pos / np.linalg.norm(pos), "diffuse": np.clip(diffuse, 0, 1),
                       "directional": bool(rng.random() < 0.4), "castshadow": bool(lc["shadows"] and i == 0)})
    headlight = {"ambient": _u(rng, lc["headlight_ambient"]), "diffuse": _u(rng, lc["headlight_diffuse"])}
    top = rng.uniform(0.6, 0.95)
    skybox = {"rgb1": [float(top)] * 3, "rgb2": [float(top * 0.6)] * 3}
    return table, room, lights, headlight, skybox


def sample_scene(cfg: TabletopConfig, catalogue: dict[str, CategoryModel], seed: int, index: int, split: str,
                 width: int, height: int) -> SceneSpec:
    """One random scene; deterministic in (seed, index, split)."""
    rng = np.random.default_rng([int(seed), int(index), 0x7AB1E])
    drafts = sample_objects(rng, cfg, catalogue, split)
    objects, area = place_objects(rng, cfg, catalogue, drafts)
    need = min(int(cfg.raw["camera"].get("min_visible_objects", 1)), len(objects))
    camera = None
    for _ in range(30):
        camera = sample_camera(rng, cfg, area["centre"], width, height)
        if count_in_view(camera, objects) >= need:
            break
    table, room, lights, headlight, skybox = sample_appearance(rng, cfg, area)
    return SceneSpec(index=index, split=split, seed=seed, objects=objects, camera=camera, table=table, room=room,
                     lights=lights, headlight=headlight, skybox=skybox)

"""Object catalogue: each category's canonical geometry (upright, centred, nominal size), poses and materials.

Object frame convention (used for every pose written to disk): origin at the centre of the object's axis-aligned
bounding box in its canonical upright orientation, +z up, axes fixed to the object. `size_m` are the bounding-box
extents along those axes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from vipa_ros.data.tabletop.assets import (MissingAsset, asset_path, euler_xyz_matrix, lathe_mesh, load_mesh,
                                           obj_bytes)
from vipa_ros.data.tabletop.config import TabletopConfig

log = logging.getLogger(__name__)


@dataclass
class CategoryModel:
    name: str
    id: int
    primitive: str | None            # "box", "sphere", "cylinder" or None for meshes
    extents: np.ndarray              # nominal bounding-box extents (m), canonical frame
    points: np.ndarray               # surface points (canonical frame, nominal size) for footprints and projections
    mesh_file: str | None            # asset name of the canonical mesh (OBJ bytes in `mesh_data`)
    mesh_data: bytes | None
    poses: list[tuple[np.ndarray, float]]  # resting rotations and probabilities
    nouns: list[str]
    colours: list[str]
    specular: float
    shininess: float
    source: str                      # where the geometry comes from (for the dataset README)


def _primitive_points(kind: str, half: np.ndarray) -> np.ndarray:
    if kind == "box":
        corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
        return corners * half
    if kind == "sphere":
        n = 400
        i = np.arange(n) + 0.5
        phi = np.arccos(1 - 2 * i / n)
        theta = np.pi * (1 + 5 ** 0.5) * i
        pts = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=1)
        return pts * half
    if kind == "cylinder":
        a = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        ring = np.stack([np.cos(a), np.sin(a)], axis=1) * half[0]
        top = np.concatenate([ring, np.full((64, 1), half[2])], axis=1)
        return np.concatenate([top, top * np.array([1, 1, -1])], axis=0)
    raise ValueError(f"unknown primitive {kind}")


def _build(name: str, cat: dict, cfg: TabletopConfig) -> CategoryModel:
    source = cat["source"]
    extent = float(cat["extent"])
    if "primitive" in source:
        kind = source["primitive"]
        proportions = np.asarray(source.get("size", [1, 1, 1]), dtype=np.float64)
        extents = proportions / proportions.max() * extent
        points = _primitive_points(kind, extents / 2)
        mesh_file = mesh_data = None
        origin = f"MuJoCo primitive {kind}"
    else:
        if "mesh" in source:
            package, relpath = source["mesh"]
            verts, faces = load_mesh(asset_path(package, relpath))
            origin = f"{package}/{relpath}"
        elif "lathe" in source:
            verts, faces = lathe_mesh([tuple(p) for p in source["lathe"]])
            origin = "generated lathe profile"
        else:
            raise ValueError(f"category {name}: unknown source {source}")
        verts = verts * np.asarray(source.get("scale", [1, 1, 1]), dtype=np.float64)
        verts = verts @ euler_xyz_matrix(cat.get("rotate", [0, 0, 0])).T
        lo, hi = verts.min(0), verts.max(0)
        verts = verts - (lo + hi) / 2
        verts = verts * (extent / (hi - lo).max())
        extents = verts.max(0) - verts.min(0)
        # the OBJ is centred on its bounding box, so the body frame is the object frame
        mesh_file = f"{name}.obj"
        mesh_data = obj_bytes(verts, faces)
        kind = None
        step = max(1, len(verts) // 600)
        points = verts[::step]
        points = np.concatenate([points, verts[np.argmin(verts, 0)], verts[np.argmax(verts, 0)]])
    poses = [(euler_xyz_matrix(p["rot"]), float(p["p"])) for p in cat.get("poses", [{"rot": [0, 0, 0], "p": 1.0}])]
    total = sum(p for _, p in poses)
    poses = [(r, p / total) for r, p in poses]
    material = cat.get("material", {})
    return CategoryModel(
        name=name, id=int(cat["id"]), primitive=kind, extents=extents, points=points, mesh_file=mesh_file,
        mesh_data=mesh_data, poses=poses, nouns=list(cat["nouns"]), colours=cfg.category_colours(name),
        specular=float(material.get("specular", 0.3)), shininess=float(material.get("shininess", 0.5)),
        source=origin)


def build_catalogue(cfg: TabletopConfig, strict: bool = False) -> dict[str, CategoryModel]:
    """All categories whose assets are installed. Missing assets raise when `strict`, else the category is skipped
    with a warning (the dataset README lists the categories actually used)."""
    out: dict[str, CategoryModel] = {}
    for name, cat in cfg.categories.items():
        try:
            out[name] = _build(name, cat, cfg)
        except MissingAsset as err:
            if strict:
                raise
            log.warning("tabletop: skipping category %s: %s", name, err)
    if not out:
        raise MissingAsset("no tabletop category could be built (are pybullet and robosuite installed?)")
    return out

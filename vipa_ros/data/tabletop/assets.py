"""Asset files for the tabletop scenes: locating package data, reading OBJ/STL meshes, generated lathe meshes.

Meshes come from the `pybullet_data` package (mug, duck, tray, lego, jenga) and the `robosuite` package's asset
folder (bottle, can, cereal box, milk carton, lemon, bread, textures). Only their data files are read: the packages'
Python code is never imported (`importlib.util.find_spec` locates a package without executing it).
"""
from __future__ import annotations

import functools
import importlib.util
import pathlib
import struct

import numpy as np


class MissingAsset(FileNotFoundError):
    """A mesh or texture file (or the package that ships it) is not installed."""


@functools.lru_cache(maxsize=None)
def package_dir(package: str) -> pathlib.Path:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingAsset(f"package '{package}' is not installed (pip install {package.replace('_data', '')})")
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def asset_path(package: str, relpath: str) -> pathlib.Path:
    path = package_dir(package) / relpath
    if not path.is_file():
        raise MissingAsset(f"{relpath} not found in package '{package}' ({path})")
    return path


@functools.lru_cache(maxsize=None)
def read_asset_bytes(package: str, relpath: str) -> bytes:
    return asset_path(package, relpath).read_bytes()


# -- mesh files ------------------------------------------------------------------------------------------------
def load_obj(path: str | pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N x 3) and triangles (M x 3) of a Wavefront OBJ file (polygons are fan-triangulated)."""
    verts: list[list[float]] = []
    faces: list[list[int]] = []
    with open(path, encoding="utf-8", errors="ignore") as f:
        for line in f:
            if line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("f "):
                idx = []
                for token in line.split()[1:]:
                    i = int(token.split("/")[0])
                    idx.append(i - 1 if i > 0 else len(verts) + i)
                for k in range(1, len(idx) - 1):
                    faces.append([idx[0], idx[k], idx[k + 1]])
    return np.asarray(verts, dtype=np.float64), np.asarray(faces, dtype=np.int64)


def load_stl(path: str | pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of a binary or ASCII STL file (duplicate vertices merged)."""
    data = pathlib.Path(path).read_bytes()
    n = struct.unpack("<I", data[80:84])[0] if len(data) >= 84 else 0
    if len(data) == 84 + 50 * n:
        rec = np.frombuffer(data[84:84 + 50 * n], dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]))
        tri = rec["v"].reshape(-1, 3).astype(np.float64)
    else:  # ASCII
        tri = np.array([[float(x) for x in line.split()[1:4]] for line in data.decode(errors="ignore").splitlines()
                        if line.strip().startswith("vertex")], dtype=np.float64)
    verts, inverse = np.unique(np.round(tri, 7), axis=0, return_inverse=True)
    return verts, inverse.reshape(-1, 3).astype(np.int64)


def load_mesh(path: str | pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    path = pathlib.Path(path)
    if path.suffix.lower() == ".obj":
        return load_obj(path)
    if path.suffix.lower() == ".stl":
        return load_stl(path)
    raise ValueError(f"unsupported mesh format: {path}")


def lathe_mesh(profile: list[tuple[float, float]], segments: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Closed surface of revolution about +z from a (radius, height) profile; r = 0 points become poles."""
    verts: list[tuple[float, float, float]] = []
    rings: list[list[int]] = []
    angles = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    for r, z in profile:
        if r <= 1e-9:
            verts.append((0.0, 0.0, z))
            rings.append([len(verts) - 1] * segments)
        else:
            start = len(verts)
            verts.extend((r * np.cos(a), r * np.sin(a), z) for a in angles)
            rings.append(list(range(start, start + segments)))
    faces: list[tuple[int, int, int]] = []
    for ring_a, ring_b in zip(rings[:-1], rings[1:]):
        for j in range(segments):
            a0, a1 = ring_a[j], ring_a[(j + 1) % segments]
            b0, b1 = ring_b[j], ring_b[(j + 1) % segments]
            if a0 != a1:
                faces.append((a0, a1, b1))
            if b0 != b1:
                faces.append((a0, b1, b0))
    return np.asarray(verts, dtype=np.float64), np.asarray(faces, dtype=np.int64)


def obj_bytes(verts: np.ndarray, faces: np.ndarray) -> bytes:
    """Minimal OBJ text (vertices + triangles) for MuJoCo's asset dictionary."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    return ("\n".join(lines) + "\n").encode()


def euler_xyz_matrix(deg: list[float] | tuple[float, ...]) -> np.ndarray:
    """Rotation matrix of extrinsic rotations about X, then Y, then Z (degrees): R = Rz @ Ry @ Rx."""
    rx, ry, rz = np.deg2rad(np.asarray(deg, dtype=np.float64))
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    mx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    my = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    mz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return mz @ my @ mx


@functools.lru_cache(maxsize=None)
def texture_bytes(package: str, relpath: str, max_size: int = 512) -> bytes:
    """A texture image as PNG bytes, downscaled so its longer side is at most `max_size` (faster to decode and to
    upload to the GPU for every scene; the table never fills more than a few hundred pixels per texture repeat)."""
    import cv2

    data = read_asset_bytes(package, relpath)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise MissingAsset(f"cannot decode texture {package}/{relpath}")
    scale = max_size / max(img.shape[:2])
    if scale < 1.0:
        img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    assert ok
    return buf.tobytes()

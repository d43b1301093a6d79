"""Analytic RGB-D ground truth: ray-cast depth and instance ids of simple shapes with numpy.

Used by the geometry tests and benchmarks (no renderer, no GPU): a pinhole camera at the origin of the optical
frame looks along +z; every shape is given in that frame. ``look_at`` and ``Shape.transformed`` build
tabletop scenes from world-frame poses. Depth is the z coordinate of the first hit (REP-118 semantics).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from .intrinsics import CameraIntrinsics

_INF = np.inf


def _solve_quadratic(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both roots of a x^2 + b x + c = 0 (inf where there is none)."""
    disc = b * b - 4 * a * c
    ok = (disc >= 0) & (np.abs(a) > 1e-15)
    sq = np.sqrt(np.where(ok, disc, 0.0))
    a_safe = np.where(ok, a, 1.0)
    r1 = np.where(ok, (-b - sq) / (2 * a_safe), _INF)
    r2 = np.where(ok, (-b + sq) / (2 * a_safe), _INF)
    return r1, r2


def _closest(*candidates: np.ndarray) -> np.ndarray:
    s = np.stack(candidates)
    s = np.where(s > 1e-9, s, _INF)
    return s.min(axis=0)


@dataclass(frozen=True)
class Shape:
    """Base: a solid with a pose (``centre``, ``rotation`` columns = local axes) in the camera optical frame."""

    centre: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))

    def transformed(self, T: np.ndarray) -> "Shape":
        """The same shape after the rigid 4x4 transform ``T`` (e.g. world -> camera)."""
        T = np.asarray(T, dtype=np.float64)
        return replace(self, centre=T[:3, :3] @ np.asarray(self.centre, float) + T[:3, 3],
                       rotation=T[:3, :3] @ np.asarray(self.rotation, float))

    def _local_rays(self, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R = np.asarray(self.rotation, float)
        o = -R.T @ np.asarray(self.centre, float)
        return o, dirs @ R  # (R^T d) for every row

    def intersect(self, dirs: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def bounding_radius(self) -> float:
        """Radius of a sphere around ``centre`` holding the shape (inf: unbounded); used to cull rays."""
        return _INF

    def extent_along(self, u: np.ndarray) -> float:  # pragma: no cover - abstract
        """Width of the solid along unit vector ``u`` (its support-function width)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Sphere(Shape):
    radius: float = 0.03

    def intersect(self, dirs: np.ndarray) -> np.ndarray:
        c = np.asarray(self.centre, float)
        a = np.einsum("ij,ij->i", dirs, dirs)
        b = -2.0 * dirs @ c
        r1, _ = _solve_quadratic(a, b, np.full_like(a, c @ c - self.radius ** 2))
        return _closest(r1)

    def extent_along(self, u: np.ndarray) -> float:
        return 2.0 * self.radius

    def bounding_radius(self) -> float:
        return self.radius


@dataclass(frozen=True)
class Box(Shape):
    size: tuple[float, float, float] = (0.1, 0.05, 0.05)  # full edge lengths along local x, y, z

    def intersect(self, dirs: np.ndarray) -> np.ndarray:
        o, d = self._local_rays(dirs)
        h = np.asarray(self.size, float) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / d
            t1 = (-h - o) * inv
            t2 = (h - o) * inv
        t1 = np.nan_to_num(t1, nan=-_INF)
        t2 = np.nan_to_num(t2, nan=_INF)
        tmin = np.minimum(t1, t2).max(axis=1)
        tmax = np.maximum(t1, t2).min(axis=1)
        hit = (tmax >= tmin) & (tmax > 0)
        return np.where(hit, np.where(tmin > 0, tmin, _INF), _INF)

    def extent_along(self, u: np.ndarray) -> float:
        return float(np.sum(np.abs(np.asarray(self.rotation).T @ u) * np.asarray(self.size)))

    def bounding_radius(self) -> float:
        return 0.5 * float(np.linalg.norm(self.size))


@dataclass(frozen=True)
class Cylinder(Shape):
    """Solid cylinder along local z. With ``wall`` > 0 it is an open-top cup: concave, for failure-mode studies."""

    radius: float = 0.03
    height: float = 0.1
    wall: float = 0.0

    def intersect(self, dirs: np.ndarray) -> np.ndarray:
        o, d = self._local_rays(dirs)
        hh = self.height / 2

        def side(rad: float, zlo: float) -> list[np.ndarray]:
            a = d[:, 0] ** 2 + d[:, 1] ** 2
            b = 2 * (o[0] * d[:, 0] + o[1] * d[:, 1])
            r1, r2 = _solve_quadratic(a, b, np.full_like(a, o[0] ** 2 + o[1] ** 2 - rad ** 2))
            out = []
            for r in (r1, r2):
                z = o[2] + np.where(np.isfinite(r), r, 0.0) * d[:, 2]
                out.append(np.where(np.isfinite(r) & (z >= zlo) & (z <= hh), r, _INF))
            return out

        def disc(zc: float, rlo: float, rhi: float) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                s = (zc - o[2]) / d[:, 2]
            s = np.where(np.isfinite(s), s, _INF)
            sf = np.where(np.isfinite(s), s, 0.0)
            r2 = (o[0] + sf * d[:, 0]) ** 2 + (o[1] + sf * d[:, 1]) ** 2
            return np.where((r2 <= rhi ** 2) & (r2 >= rlo ** 2), s, _INF)

        cands = side(self.radius, -hh) + [disc(-hh, 0.0, self.radius)]
        if self.wall > 0:
            rin = self.radius - self.wall
            cands += [disc(hh, rin, self.radius), disc(-hh + self.wall, 0.0, rin)] + side(rin, -hh + self.wall)
        else:
            cands.append(disc(hh, 0.0, self.radius))
        return _closest(*cands)

    def extent_along(self, u: np.ndarray) -> float:
        a = np.asarray(self.rotation)[:, 2]
        c = abs(float(a @ u))
        return 2 * self.radius * np.sqrt(max(0.0, 1 - c * c)) + self.height * c

    def bounding_radius(self) -> float:
        return float(np.hypot(self.radius, self.height / 2))


@dataclass(frozen=True)
class Plane(Shape):
    """Infinite plane through ``centre`` with normal = local z (``rotation[:, 2]``): a table or a wall."""

    def intersect(self, dirs: np.ndarray) -> np.ndarray:
        n = np.asarray(self.rotation, float)[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (n @ np.asarray(self.centre, float)) / (dirs @ n)
        return np.where(np.isfinite(s) & (s > 0), s, _INF)

    def extent_along(self, u: np.ndarray) -> float:
        return _INF


def render(intrinsics: CameraIntrinsics, shapes: Sequence[Shape]) -> tuple[np.ndarray, np.ndarray]:
    """Ray-cast ``shapes`` through every pixel centre.

    Returns ``(depth, ids)``: HxW float32 z-depth in metres (NaN where nothing is hit) and HxW int32 index of
    the visible shape (-1 for none). ``mask = ids == k`` is the perfect instance mask of ``shapes[k]``.
    """
    h, w = intrinsics.height, intrinsics.width
    if h <= 0 or w <= 0:
        raise ValueError("render needs intrinsics with a width and height")
    depth = np.full((h, w), np.inf)
    ids = np.full((h, w), -1, dtype=np.int32)
    for k, shape in enumerate(shapes):
        r0, r1, c0, c1 = _pixel_bounds(intrinsics, shape)
        if r0 >= r1 or c0 >= c1:
            continue
        v, u = np.mgrid[r0:r1, c0:c1]
        s = shape.intersect(intrinsics.rays(u.ravel(), v.ravel())).reshape(r1 - r0, c1 - c0)
        d, i = depth[r0:r1, c0:c1], ids[r0:r1, c0:c1]  # views: written in place
        closer = s < d
        d[closer] = s[closer]
        i[closer] = k
    depth[~np.isfinite(depth)] = np.nan
    return depth.astype(np.float32), ids


def _pixel_bounds(intrinsics: CameraIntrinsics, shape: Shape) -> tuple[int, int, int, int]:
    """Conservative pixel box (r0, r1, c0, c1) that can see ``shape`` (its bounding sphere's x/z, y/z range)."""
    h, w = intrinsics.height, intrinsics.width
    rad = shape.bounding_radius()
    c = np.asarray(shape.centre, float)
    if not np.isfinite(rad) or c[2] - rad <= 1e-6:
        return 0, h, 0, w
    zs = (c[2] - rad, c[2] + rad)
    us = [intrinsics.fx * x / z + intrinsics.cx for x in (c[0] - rad, c[0] + rad) for z in zs]
    vs = [intrinsics.fy * y / z + intrinsics.cy for y in (c[1] - rad, c[1] + rad) for z in zs]
    return (max(0, int(np.floor(min(vs))) - 1), min(h, int(np.ceil(max(vs))) + 2),
            max(0, int(np.floor(min(us))) - 1), min(w, int(np.ceil(max(us))) + 2))


def look_at(eye: Sequence[float], target: Sequence[float], up: Sequence[float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """4x4 world -> camera-optical transform of a camera at ``eye`` looking at ``target`` (world z up).

    Optical frame: z forward, x right, y down (REP-103), so the world ``up`` appears towards -y in the image.
    """
    eye, target, up = (np.asarray(a, dtype=np.float64) for a in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:  # looking straight along up: any right vector will do, pick world +x's image
        x = np.cross(z, np.array([0.0, -1.0, 0.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R_wc = np.stack([x, y, z], axis=1)  # camera axes in world coordinates
    T = np.eye(4)
    T[:3, :3] = R_wc.T
    T[:3, 3] = -R_wc.T @ eye
    return T


def orbit_view(centre: Sequence[float], elevation_deg: float, azimuth_deg: float = 90.0, distance: float = 0.6,
               look_offset: Sequence[float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """World -> camera transform of a camera ``distance`` from ``centre`` at the given elevation above the table
    and azimuth around it (degrees), aimed at ``centre + look_offset``."""
    c = np.asarray(centre, dtype=np.float64)
    el, az = np.radians(elevation_deg), np.radians(azimuth_deg)
    eye = c + distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    return look_at(eye, c + np.asarray(look_offset, dtype=np.float64))


def sensor_noise(depth: np.ndarray, seed: int, sigma: float = 0.0015, spikes: float = 0.0,
                 dropouts: float = 0.0) -> np.ndarray:
    """Depth (float metres) with RGB-D sensor-like errors: Gaussian noise of ``sigma`` at 0.6 m growing with z^2,
    a fraction ``spikes`` of flying pixels (0.2-2 m) and a fraction ``dropouts`` of missing pixels (NaN)."""
    rng = np.random.default_rng(seed)
    out = depth + rng.normal(0.0, sigma, depth.shape) * (depth / 0.6) ** 2
    spike = rng.random(depth.shape) < spikes
    out[spike] = rng.uniform(0.2, 2.0, spike.sum())
    out[rng.random(depth.shape) < dropouts] = np.nan
    return out.astype(np.float32)


def rot_z(angle: float) -> np.ndarray:
    """Rotation about z by ``angle`` radians (yaw of an object on a table)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rot_x(angle: float) -> np.ndarray:
    """Rotation about x by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])

"""Robust 3D points of a segmented object: mask erosion, depth-outlier rejection, minimum support.

Why each step:
  * Erosion: pixels on a mask boundary often carry "flying pixels" whose depth blends object and background,
    and depth registered to colour is frequently off by a pixel, so the boundary ring may sample the table
    behind. Dropping ``mask_erode_px`` pixels of boundary removes both. A thin or tiny object can vanish under
    erosion, so we fall back to the un-eroded mask then (and when erosion leaves too few valid depths).
  * Depth outliers (Tukey fences on z): what is left of the background, or a second surface seen through a
    gap, sits at a clearly different range than the bulk of the object.
  * 3D distance to the median point (upper Tukey fence): catches outliers whose range is plausible but which
    lie off to the side (mask bleeding onto a neighbour at the same distance).
Both use quartile-based robust scale so they adapt to the object's size and to skewed depth distributions,
with an absolute floor so a flat, camera-facing object (IQR ~ 0) does not lose its noisy-but-valid points.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .crop import Crop, disc
from .intrinsics import CameraIntrinsics
from .products import median, percentiles


@dataclass
class TargetPoints:
    """Filtered object points plus the bookkeeping a caller needs to explain a failure."""

    points: np.ndarray                 # Nx3 float64, metres, camera optical frame
    pixels: np.ndarray                 # Nx2 int (row, col) of each point
    mask_pixels: int = 0               # pixels in the input mask
    depth_pixels: int = 0              # pixels of the (eroded) sampling mask with a finite depth
    eroded: bool = False               # True when the eroded mask was used
    reason: str = ""                   # why there are too few points ("" when usable)
    rejected: dict[str, int] = field(default_factory=dict)  # points removed per filter
    rejected_pixels: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=int))  # (row, col) of those

    @property
    def count(self) -> int:
        return int(self.points.shape[0])

    @property
    def ok(self) -> bool:
        return not self.reason


def erode_mask(mask: np.ndarray, erode_px: int) -> np.ndarray:
    """Mask eroded by ``erode_px`` pixels with a disc (isotropic, so diagonals are not eroded more)."""
    if erode_px <= 0:
        return mask.copy()
    # BORDER_CONSTANT 1: the image edge is not an object boundary, so do not eat into objects cut by it
    return cv2.erode(mask.astype(np.uint8), disc(int(erode_px)), borderType=cv2.BORDER_CONSTANT,
                     borderValue=1).astype(bool)


def reject_outliers(points: np.ndarray, k: float = 3.0, floor_m: float = 0.01) -> tuple[np.ndarray, dict[str, int]]:
    """Boolean inlier mask of Nx3 points: Tukey fences on z, then an upper fence on the 3D distance to the
    median point.

    Tukey's fences (quartiles +- ``k`` interquartile ranges; k = 3 is Tukey's "far out") rather than a
    symmetric median +- k MAD band: an object seen obliquely has a skewed depth distribution (a large top
    face near the camera, a thin strip of side reaching far back), and a MAD band cuts that genuine tail off.
    ``floor_m`` (metres) is the least margin kept beyond the quartiles, so sensor noise on a flat,
    camera-facing object (IQR ~ 0) is not rejected.
    """
    n = points.shape[0]
    keep = np.ones(n, dtype=bool)
    if n < 5:
        return keep, {"depth": 0, "distance": 0}
    z = points[:, 2]
    q1, q3 = percentiles(z, [25.0, 75.0])
    lo, hi = q1 - k * (q3 - q1), q3 + k * (q3 - q1)  # Tukey's fences
    keep &= (z >= min(lo, q1 - floor_m)) & (z <= max(hi, q3 + floor_m))
    n_depth = int(n - keep.sum())
    if keep.sum() >= 5:
        p = points[keep] if n_depth else points
        d = p - median(p, axis=0)
        dist = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2])  # np.linalg.norm, faster
        q1, q3 = percentiles(dist, [25.0, 75.0])
        far = dist > max(q3 + k * (q3 - q1), q3 + floor_m)
        keep[np.flatnonzero(keep)[far]] = False
    return keep, {"depth": n_depth, "distance": int(n - keep.sum()) - n_depth}


def select_target_points(mask: np.ndarray, depth_m: np.ndarray, intrinsics: CameraIntrinsics,
                         mask_erode_px: int = 2, min_valid_points: int = 30,
                         outlier_k: float = 3.0, outlier_floor_m: float = 0.01) -> TargetPoints:
    """Robust 3D points of the object in ``mask`` (HxW bool) from ``depth_m`` (HxW metres, NaN invalid).

    Returns a :class:`TargetPoints`; ``reason`` is non-empty when fewer than ``min_valid_points`` survive.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != depth_m.shape:
        raise ValueError(f"mask shape {mask.shape} != depth shape {depth_m.shape}")
    crop = Crop.around(mask, int(mask_erode_px) + 1)  # the erosion reaches mask_erode_px beyond the mask
    return target_points_in_crop(crop.of(mask), crop.of(depth_m), intrinsics, crop, mask_erode_px,
                                 min_valid_points, outlier_k, outlier_floor_m)


def target_points_in_crop(mask: np.ndarray, depth_m: np.ndarray, intrinsics: CameraIntrinsics, crop: Crop,
                          mask_erode_px: int = 2, min_valid_points: int = 30, outlier_k: float = 3.0,
                          outlier_floor_m: float = 0.01) -> TargetPoints:
    """:func:`select_target_points` on the ``crop`` of the image that ``mask`` and ``depth_m`` are.

    The crop must hold the whole mask and reach ``mask_erode_px`` pixels beyond it (or the image border), so
    the erosion sees what it would see on the whole image; pixels are returned in image coordinates.
    """
    n_mask = int(np.count_nonzero(mask))
    empty = np.zeros((0, 3)), np.zeros((0, 2), dtype=int)
    if n_mask == 0:
        return TargetPoints(*empty, reason="empty mask")
    finite = np.isfinite(depth_m)
    n_full = int(np.count_nonzero(mask & finite))
    if n_full == 0:
        return TargetPoints(*empty, mask_pixels=n_mask,
                            reason=f"no valid depth in the mask ({n_mask} px; all depth invalid or outside "
                                   f"[min_depth, max_depth])")
    need = max(int(min_valid_points), 1)
    sample = erode_mask(mask, mask_erode_px)
    eroded = mask_erode_px > 0
    if eroded and int(np.count_nonzero(sample & finite)) < min(need, n_full):
        # erosion emptied the mask (or left fewer valid depths than required): thin/small object, use it all
        sample, eroded = mask, False
    sel = sample & finite
    rows, cols = np.nonzero(sel)
    rows, cols = rows + crop.r0, cols + crop.c0  # image coordinates (row-major order is kept)
    pts = intrinsics.backproject(cols, rows, depth_m[sel])
    keep, rejected = reject_outliers(pts, outlier_k, outlier_floor_m)
    pix = np.stack([rows, cols], axis=1)
    if keep.all():  # nothing rejected (common): spare the copies
        tp = TargetPoints(pts, pix, n_mask, int(rows.size), eroded, rejected=rejected, rejected_pixels=pix[:0])
    else:
        tp = TargetPoints(pts[keep], pix[keep], n_mask, int(rows.size), eroded, rejected=rejected,
                          rejected_pixels=pix[~keep])
    if tp.count < need:
        tp.reason = (f"only {tp.count} valid depth points on the object (min_valid_points={need}; "
                     f"{n_mask} mask px, {n_full} with depth)")
    return tp

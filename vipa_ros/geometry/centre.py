"""Where is the object's centre? Correcting for the half of the object the camera cannot see.

A depth camera sees only the near side of an object, so the mean of the visible points lies in front of the
centre: for a ball sampled per pixel it is 2R/3 in front, 20 mm for a 6 cm ball. We want the centre of the
object's extent, the point a grasp should close around. It is estimated along the viewing ray ``z``:

1. **Support plane** (top-down views). When the surface around the object is one plane facing the camera
   within SUPPORT_MAX_ANGLE_DEG of the ray, the object is taken to stand on it: the centre lies straight
   below the middle of the object's top at half the top's height above the plane. Only the top is visible
   in such a view, so nothing else measures the height (a can seen from above looks like a coin).

2. **Central symmetry of the outline** (oblique views). Boxes, balls, cylinders, cans, bottles, blocks and
   most fruit are centrally symmetric: the reflection 2C - P of every surface point P through the centre C
   is a surface point. Where the object has zero thickness along the ray -- its outline, seen edge-on -- the
   reflection of an outline point is again an outline point. The range at each outline pixel is
   extrapolated from a local plane fit to the valid depth next to it (the outline pixels' own depth is
   eroded away or mixed with the background), outline points are paired with the outline point their
   reflection projects onto, and C is iterated until it sits at the pairs' midpoints (a high percentile of
   the midpoint ranges, as pairs across a face seen edge-on have their midpoint in front of C).
   Exact for sharp outlines (box and cylinder edges) up to noise.

3. **Footprint prior** (clamps 2). On a rounded rim the surface turns away from the camera as it reaches
   the outline, so the plane extrapolation under-estimates the outline range and (2) the centre range. The
   object is therefore assumed at least as deep along the ray as its smaller outline width (exact for a
   ball, a cylinder seen from its side, a cube face-on), and at most MAX_DEPTH_RATIO times its outline
   diagonal (a guard against a pairing that latched onto the wrong outline parts). When (2) falls outside
   these bounds, or found no pairs, the centre goes on the ray through the silhouette centroid at
   ``t_front + clamp(...) / 2``, with ``t_front`` the nearest visible range.

Widths are measured on the mask outline lifted onto the plane through the centre perpendicular to the ray
(not on the eroded depth points), so they do not shrink with erosion or missing depth.

Known limits (synthetic sweeps, 288 tabletop views of 9 shapes at 0.6 m, VGA: 96-97 % within 5 mm, median
0.8 mm, with or without 1.5 mm noise and 2 % spikes): flat objects seen obliquely are really shallower than
their smaller width, so the prior pushes them up to ~5 mm too deep; long objects seen almost end-on (a
20 cm box pointing at the camera) can expose a side face only a pixel or two wide, whose outline range the
extrapolation then takes from the wrong face (up to ~20 mm); objects cut by the image border are biased
towards their visible part (the pose says ``truncated``); concave and irregular objects (bowls, a mug's
handle, a duck) break the symmetry model and are only as good as the bounds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .intrinsics import CameraIntrinsics

# A range more than this many pixel widths from its 5x5 median is a spike (dropped before the plane fits).
SPIKE_TOL_PX = 8.0
# Largest surface slope (range change per lateral metre, ~72 degrees) allowed when extrapolating to the
# outline, so a grazing rim cannot run away.
MAX_SLOPE = 3.0
# A reflected outline point must land within this many pixels of an outline pixel to form a pair.
MIRROR_TOL_PX = 3.0
# Percentile of the pair-midpoint ranges taken as the centre range (the maximum would chase noise).
PAIR_PERCENTILE = 90.0
# Starting ranges of the symmetric pairing (it can settle on a wrong pairing; the best-supported one wins),
# and how close (pixel widths, >= 2 mm) a pair's midpoint must be to a centre to support it.
N_STARTS = 5
AGREE_PX = 3.0
# Upper bound on the depth along the ray, in units of the outline's diagonal (a sanity guard).
MAX_DEPTH_RATIO = 2.0
# Support plane cue: largest angle between the viewing ray and the plane normal (top-down views), width of
# the sampled ring (pixels), and the band (metres) below the highest point that counts as the top.
SUPPORT_MAX_ANGLE_DEG = 25.0
SUPPORT_RING_PX = 6
SUPPORT_TOP_TOL = 0.003
# Tallest object accepted as standing on the plane, in units of its outline diagonal (a tall bottle seen
# from above is ~3.5x its diameter; taller means it is held or stands on something unseen).
SUPPORT_MAX_HEIGHT_RATIO = 4.0


@dataclass
class CentreEstimate:
    position: np.ndarray  # 3D centre, camera optical frame
    t_front: float        # nearest visible range along the initial ray (metres)
    source: str           # "support" | "symmetry" | "footprint_min" | "footprint_max"


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def nanmedian_windows(img: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int, min_support: int
                      ) -> np.ndarray:
    """Median of the finite values in a size x size window around each (row, col); NaN with too few values.

    Sort-based (NaNs sort last) so it is vectorised; np.nanmedian over windows is an order of magnitude slower.
    """
    r = size // 2
    padded = np.pad(img, r, constant_values=np.nan)
    offs = np.arange(-r, r + 1)
    win = padded[(rows[:, None, None] + r + offs[None, :, None]), (cols[:, None, None] + r + offs[None, None, :])]
    win = np.sort(win.reshape(len(rows), -1), axis=1)
    k = np.isfinite(win).sum(axis=1)
    lo = np.take_along_axis(win, np.maximum((k - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(win, np.maximum(k // 2, 0)[:, None], axis=1)[:, 0]
    med = 0.5 * (lo + hi)
    med[k < min_support] = np.nan
    return med


def outline_widths(sil_rays: np.ndarray, z: np.ndarray, t: float, axes: list[np.ndarray], pixel_m: float
                   ) -> list[float]:
    """Width of the silhouette along each in-plane axis, the outline lifted to the plane p . z = t.

    Outline pixels are pixel centres; the true edge is half a pixel further out on each side (+1 pixel).
    """
    lifted = sil_rays * (t / (sil_rays @ z))[:, None]
    return [float(np.ptp(lifted @ a)) + pixel_m for a in axes]


def outline_ranges(sil: np.ndarray, timg: np.ndarray, r0: int, c0: int, intrinsics: CameraIntrinsics,
                   radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Range along the ray extrapolated to each outline pixel from a local plane fit of the valid ranges.

    ``timg`` is the range image of the crop starting at (r0, c0), NaN where there is no valid point. The
    plane t = a + g . (du, dv) through the values within ``radius`` pixels, evaluated at the outline pixel,
    recovers the range of a flat face's edge exactly and under-estimates a rounded rim's (the surface bends
    away). Outline pixels on the image border are not object outlines and are skipped. Returns (u, v, t).
    """
    h, w = sil.shape
    inner = cv2.erode(sil.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT,
                      borderValue=1).astype(bool)
    rows, cols = np.nonzero(sil & ~inner)
    keep = (rows > 0) & (rows < h - 1) & (cols > 0) & (cols < w - 1)
    rows, cols = rows[keep], cols[keep]
    empty = (np.zeros(0), np.zeros(0), np.zeros(0))
    if rows.size == 0:
        return empty
    r = radius
    padded = np.pad(timg, r, constant_values=np.nan)  # the crop holds the whole silhouette, so no clipping
    offs = np.arange(-r, r + 1)
    win = padded[rows[:, None, None] - r0 + r + offs[None, :, None], cols[:, None, None] - c0 + r + offs[None, None, :]]
    win = win.reshape(len(rows), -1)
    dv, du = np.meshgrid(offs.astype(np.float64), offs.astype(np.float64), indexing="ij")
    du, dv = du.ravel(), dv.ravel()
    X = np.stack([np.ones_like(du), du, dv], axis=1)  # centred on the outline pixel: the constant is the value there
    wgt = np.isfinite(win).astype(np.float64)
    y = np.where(wgt > 0, win, 0.0)
    n = wgt.sum(axis=1)
    nn = np.maximum(n, 1.0)
    mu_u, mu_v = (wgt @ du) / nn, (wgt @ dv) / nn
    cuu = (wgt @ (du * du)) / nn - mu_u ** 2
    cvv = (wgt @ (dv * dv)) / nn - mu_v ** 2
    cuv = (wgt @ (du * dv)) / nn - mu_u * mu_v
    # usable: enough points spread in 2D (not a line), so the plane is determined
    good = (n >= 12) & (cuu * cvv - cuv ** 2 > 0.5)
    if not good.any():
        return empty
    Wg, yg = wgt[good], y[good]
    A = np.einsum("nm,mk,ml->nkl", Wg, X, X)
    B = np.einsum("nm,mk->nk", Wg * yg, X)
    t_out = np.linalg.solve(A + 1e-9 * np.eye(3), B[..., None])[:, 0, 0]
    # limit the extrapolation to MAX_SLOPE times its distance from the data (grazing rims)
    t_mean = (Wg * yg).sum(1) / n[good]
    lim = MAX_SLOPE * t_mean / math.sqrt(intrinsics.fx * intrinsics.fy) * np.hypot(mu_u[good], mu_v[good])
    t_out = np.clip(t_out, t_mean - lim, t_mean + lim)
    return cols[good].astype(np.float64), rows[good].astype(np.float64), t_out


def symmetric_centre(u: np.ndarray, v: np.ndarray, t: np.ndarray, intrinsics: CameraIntrinsics, c0: float,
                     z: np.ndarray) -> np.ndarray | None:
    """3D centre from outline points paired with their point reflection through it (None: no pairs).

    Outline pixel (u, v) with range t along ``z`` is the 3D point P on its pixel ray. For a centre C, the
    reflection 2C - P is projected into the image (perspective makes the image outline asymmetric about any
    point, so the reflection is done in 3D) and paired with the nearest outline pixel. C is then moved to the
    pairs' midpoints: its range is a high percentile of the midpoint ranges (pairs across a face seen
    edge-on have their midpoint in front of C), its lateral position the mean of the deepest third of the
    midpoints. The pairing depends on C, so this is iterated; it can settle on a wrong pairing (two parallel
    edges pair up for any centre on the line between them), so it is started from N_STARTS ranges around
    ``c0`` and the centre with the most pair midpoints within AGREE_PX pixel widths of it wins.
    """
    if u.size < 8:
        return None
    from scipy.spatial import cKDTree  # scipy is only needed here; keep the module import light

    rays = intrinsics.rays(u, v)
    P = rays * (t / (rays @ z))[:, None]
    tree = cKDTree(np.stack([u, v], 1))
    tol = max(0.002, AGREE_PX * float(np.median(t)) / math.sqrt(intrinsics.fx * intrinsics.fy))

    def midpoints(C: np.ndarray) -> np.ndarray | None:
        dist, j = tree.query(intrinsics.project(2.0 * C - P), distance_upper_bound=MIRROR_TOL_PX)
        ok = np.isfinite(dist)
        return 0.5 * (P[ok] + P[j[ok]]) if ok.sum() >= 4 else None

    best, best_score = None, -1.0
    # starts around c0 (the footprint prior's range), from half its depth in front to its full depth behind
    for c_start in c0 + np.linspace(-0.5, 1.0, N_STARTS) * max(c0 - float(np.min(t)), 0.0):
        C: np.ndarray | None = c_start * z
        for _ in range(10):
            mid = midpoints(C)
            if mid is None:
                C = None
                break
            r = mid @ z
            c = float(np.percentile(r, PAIR_PERCENTILE))
            lateral = mid[r >= np.percentile(r, 67.0)].mean(axis=0)
            C_new = lateral - (lateral @ z) * z + c * z
            done = np.linalg.norm(C_new - C) < 1e-4
            C = C_new
            if done:
                break
        if C is None:
            continue
        mid = midpoints(C)
        score = -1.0 if mid is None else float(np.sum(np.linalg.norm(mid - C, axis=1) <= tol))
        if score > best_score:
            best, best_score = C, score
    return best


def support_plane(sil: np.ndarray, depth_m: np.ndarray, intrinsics: CameraIntrinsics, z: np.ndarray,
                  t_front: float, erode_px: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(point, unit normal towards the camera) of the surface the object stands on, for top-down views.

    A ring of pixels around the silhouette (skipping ``erode_px + 2`` pixels of mixed / misregistered depth)
    is fitted with a plane (least squares from the points within Tukey's fences of range, refitted on the
    inliers). It counts as the support only if it is one clean plane, lies behind the object, and faces the
    camera within SUPPORT_MAX_ANGLE_DEG of the ray.
    """
    gap = erode_px + 2
    k_in = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * gap + 1,) * 2)
    k_out = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * (gap + SUPPORT_RING_PX) + 1,) * 2)
    m = sil.astype(np.uint8)
    ring = cv2.dilate(m, k_out).astype(bool) & ~cv2.dilate(m, k_in).astype(bool)
    rows, cols = np.nonzero(ring & np.isfinite(depth_m))
    if rows.size < 50 or rows.size < 0.5 * int(ring.sum()):
        return None
    P = intrinsics.backproject(cols, rows, depth_m[rows, cols])
    # spikes would tilt the first least-squares fit: start from the points within Tukey's fences of range
    q1, q3 = np.percentile(P @ z, [25.0, 75.0])
    iqr = max(q3 - q1, 0.002)
    keep = np.abs(P @ z - 0.5 * (q1 + q3)) <= 0.5 * (q3 - q1) + 3.0 * iqr
    for _ in range(3):
        centre = P[keep].mean(axis=0)
        n = np.linalg.svd(P[keep] - centre, full_matrices=False)[2][2]
        res = np.abs((P - centre) @ n)
        keep = res <= max(3.0 * 1.4826 * float(np.median(res[keep])), 0.003)
    if keep.mean() < 0.6 or math.sqrt(float(np.mean(res[keep] ** 2))) > 0.005:
        return None  # not one plane: clutter, the table's edge, a wall and a table
    n = -n if n @ z > 0 else n
    if -float(n @ z) < math.cos(math.radians(SUPPORT_MAX_ANGLE_DEG)):
        return None  # oblique view: the top alone does not tell where the centre is; use symmetry
    t_plane = float(centre @ n) / float(z @ n)
    return (centre, n) if t_plane > t_front + 0.002 else None


def centre_on_support(pts: np.ndarray, p0: np.ndarray, n: np.ndarray, max_height: float) -> np.ndarray | None:
    """Centre of an object standing on the plane (p0, n): half its top's height, straight below the top.

    The top (points within SUPPORT_TOP_TOL of the 98th-percentile height) of an upright prism, cylinder, ball
    or cup lies straight above the centre. None when the top is not above the plane or implausibly high
    (the object is held, or stands on something unseen).
    """
    h = (pts - p0) @ n
    h_max = float(np.percentile(h, 98.0))
    if not 0.0 < h_max <= max_height:
        return None
    top = h >= h_max - SUPPORT_TOP_TOL
    top_centre = pts[top].mean(axis=0)
    foot = top_centre - ((top_centre - p0) @ n) * n
    return foot + 0.5 * float(np.median(h[top])) * n


def estimate_centre(pts: np.ndarray, pix: np.ndarray, sil: np.ndarray, intrinsics: CameraIntrinsics,
                    depth_m: np.ndarray | None, erode_px: int, major: np.ndarray, minor: np.ndarray
                    ) -> CentreEstimate:
    """The object's 3D centre (see the module docstring).

    ``pts``/``pix``: filtered object points (Nx3) and their (row, col); ``sil``: the cleaned mask;
    ``major``/``minor``: in-plane axes to measure the outline widths along (the PCA axes).
    """
    srows, scols = np.nonzero(sil)
    sil_rays = intrinsics.rays(scols, srows)
    pixel_scale = 1.0 / math.sqrt(intrinsics.fx * intrinsics.fy)  # metres per pixel per metre of range
    z = unit(intrinsics.rays(np.array(scols.mean()), np.array(srows.mean())))

    # range image along the ray over a crop; despeckle: a pixel far from its 5x5 median is a spike that got
    # through the outlier filters, drop it before it steers a plane fit
    t = pts @ z
    r0, c0 = int(min(srows.min(), pix[:, 0].min())), int(min(scols.min(), pix[:, 1].min()))
    r1, c1 = int(max(srows.max(), pix[:, 0].max())) + 1, int(max(scols.max(), pix[:, 1].max())) + 1
    timg = np.full((r1 - r0, c1 - c0), np.nan)
    pr, pc = pix[:, 0] - r0, pix[:, 1] - c0
    timg[pr, pc] = t
    med5 = nanmedian_windows(timg, pr, pc, 5, 9)
    spike = np.abs(t - med5) > SPIKE_TOL_PX * float(np.median(t)) * pixel_scale  # NaN compares False
    timg[pr[spike], pc[spike]] = np.nan
    # nearest point: min of a 3x3 median (noise-robust, and a 3x3 window barely rounds off a corner)
    med3 = nanmedian_windows(timg, pr, pc, 3, 5)
    t_front = float(np.nanmin(med3)) if np.isfinite(med3).any() else float(np.min(t))

    def bounds(c: float) -> tuple[float, float]:
        wa, wb = outline_widths(sil_rays, z, c, [major, minor], c * pixel_scale)
        return t_front + 0.5 * min(wa, wb), t_front + 0.5 * MAX_DEPTH_RATIO * math.hypot(wa, wb)

    lo, hi = bounds(float(np.median(t)))

    # 1) top-down view of an object standing on a plane
    if depth_m is not None:
        plane = support_plane(sil, depth_m, intrinsics, z, t_front, erode_px)
        if plane is not None:
            C = centre_on_support(pts, plane[0], plane[1], SUPPORT_MAX_HEIGHT_RATIO * (hi - t_front) / MAX_DEPTH_RATIO)
            if C is not None:
                return CentreEstimate(C, t_front, "support")

    # 2) central symmetry of the outline, 3) clamped by the footprint prior
    ou, ov, ot = outline_ranges(sil, timg, r0, c0, intrinsics, max(4, erode_px + 3))
    C_sym = symmetric_centre(ou, ov, ot, intrinsics, lo, z)
    c_sym = float(C_sym @ z) if C_sym is not None else -math.inf
    c = float(np.median(t))
    for _ in range(3):  # the widths are measured at the centre range, which depends on them
        lo, hi = bounds(c)
        c = min(max(c_sym, lo), hi)
    if C_sym is not None and lo <= c_sym <= hi:
        return CentreEstimate(C_sym, t_front, "symmetry")
    return CentreEstimate(c * z, t_front, "footprint_min" if c_sym < lo else "footprint_max")

"""Where is the object's centre? Correcting for the half of the object the camera cannot see.

A depth camera sees only the near side of an object, so the mean of the visible points lies in front of the
centre: for a ball sampled per pixel it is 2R/3 in front, 20 mm for a 6 cm ball. We want the centre of the
object's extent, the point a grasp should close around. It is estimated along the viewing ray ``z``:

1. **Support plane**. When the surface around the object is one plane facing the camera within
   SUPPORT_MAX_ANGLE_DEG of the ray, the object is taken to stand on it: the centre lies straight below the
   middle of the object's top at half the top's height above the plane. The middle of the top is the middle
   of its extent along its principal axes (not the mean of its points: a rim or a top face seen obliquely is
   sampled unevenly, and part of a rim is eroded with the outline); flying pixels are kept out of the top by
   requiring a near neighbour on it. This holds for concave objects too (a bowl, a tray, a plate), whose rim
   is their top. In top-down views (within TOP_DOWN_MAX_ANGLE_DEG) only the top is visible, so nothing else
   measures the height (a can seen from above looks like a coin) and this is the estimate. In oblique views
   it referees (2) and (3): their estimate stands when it agrees with this one (it is more precise on convex
   shapes) and is replaced by it when not, unless part of the object may be hidden (cut by the image border,
   or something nearer borders it), which would hide part of its top as well.

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

Known limits (synthetic sweep, 288 tabletop views of 9 convex shapes at 0.6 m, VGA, clean and with 1.5 mm
noise and 2 % flying pixels, `scripts/bench_geometry.py --sweep`: 99.7 % within 5 mm, median 0.94 mm, max
9.6 mm): long objects seen almost end-on (a 20 cm box pointing at the camera) can expose a side face only a
pixel or two wide, whose outline range the extrapolation then takes from the wrong face; objects cut by the
image border are biased towards their visible part (the pose says ``truncated``); irregular objects (a mug's
handle, a duck) fit none of the models exactly. On generated tabletop scenes with true masks
(tests/test_e2e_grasp_ground_truth.py, 91 objects) the median error is 0.61 cm; bowls and trays, whose
bounding-box centre lies in the empty space inside, 1.7 cm (2.7 and 2.2 cm before the support cue refereed
oblique views), and mugs 1.8 cm: the handle pulls the box's centre off the body's. A tapered object lying on
its side has a top that stops at its shoulder: the demo's lying bottle is centred 4.2 cm towards its body.

Speed (a camera node calls this every frame): all per-pixel work runs on a crop around the object
(:class:`~vipa_ros.geometry.crop.Crop`); the window medians (:mod:`~vipa_ros.geometry.windows`), the
support-plane fit (:mod:`~vipa_ros.geometry.planes`) and the symmetric pairing
(:mod:`~vipa_ros.geometry.pairing`) are compiled loops, the medians only sorted where they can change the
result; outline widths come from the silhouette's convex hull. Each of these gives the same result
as the direct computation, except the pairing's nearest-outline-pixel table, which in rare near-ties picks a
partner up to 0.2 px farther than the nearest one.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from .crop import Crop, disc, square
from .intrinsics import CameraIntrinsics
from .pairing import OutlineLookup, iterate_centres
from .planes import fit_support_plane
from .products import cross3, gram, matmul_rows, median, percentiles, rowdot
from .windows import despike, front_range, has_near_neighbour

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
MAX_PAIR_ITERATIONS = 10
# Upper bound on the depth along the ray, in units of the outline's diagonal (a sanity guard).
MAX_DEPTH_RATIO = 2.0
# Support plane cue: largest angle between the viewing ray and the plane normal (chosen, like the agreement
# tolerances below, on generated tabletop scenes other than the test's), and the largest for a view to count
# as top-down (only the top is visible: the support cue decides alone).
SUPPORT_MAX_ANGLE_DEG = 65.0
TOP_DOWN_MAX_ANGLE_DEG = 25.0
# The inlier refits turn the first fit's normal by less than this (at most 11.9 degrees over the planes found
# in the 288 sweep views and 36 generated tabletop scenes): a first fit farther than SUPPORT_MAX_ANGLE_DEG +
# this from the ray cannot pass, so grazing views skip the refits.
SUPPORT_REFIT_TURN_DEG = 15.0
# Width of the sampled ring (pixels); the band (metres) below the highest point that counts as the top, and
# how far (pixels) a top point's nearest neighbour on the top may lie (flying pixels have none).
SUPPORT_RING_PX = 6
SUPPORT_TOP_TOL = 0.006
TOP_COHERENT_PX = 3
# In oblique views the symmetric estimate agrees with the support estimate when its height above the plane is
# within max(SUPPORT_AGREE_M, SUPPORT_AGREE_REL x the top's height) of it and its position along the plane
# within SUPPORT_AGREE_LATERAL_M (chosen on generated tabletop scenes other than the test's).
SUPPORT_AGREE_M = 0.003
SUPPORT_AGREE_REL = 0.05
SUPPORT_AGREE_LATERAL_M = 0.01
# An object counts as occluded (the referee stands down) when this fraction of its surroundings is more than
# this far in front of its nearest point.
OCCLUDER_MIN_FRACTION = 0.05
OCCLUDER_MARGIN_M = 0.01
# Tallest object accepted as standing on the plane, in units of its outline diagonal (a tall bottle seen
# from above is ~3.5x its diameter; taller means it is held or stands on something unseen).
SUPPORT_MAX_HEIGHT_RATIO = 4.0


@dataclass
class CentreEstimate:
    position: np.ndarray  # 3D centre, camera optical frame
    t_front: float        # nearest visible range along the initial ray (metres)
    source: str           # "support" | "symmetry" | "footprint_min" | "footprint_max"


def unit(v: np.ndarray) -> np.ndarray:
    return v / math.sqrt(float(v @ v))  # np.linalg.norm's arithmetic


def plane_basis(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal (x, y) spanning the plane perpendicular to z; x = the camera's x projected on it."""
    ex = np.array([1.0, 0.0, 0.0]) - z[0] * z
    x = unit(ex) if np.linalg.norm(ex) > 1e-6 else unit(np.array([0.0, 1.0, 0.0]) - z[1] * z)
    return x, cross3(z, x)


def in_plane_axes(cov: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(eigenvalues ascending, major, minor = z x major): the principal axes of points with covariance (or
    scatter) ``cov`` projected on the plane perpendicular to z."""
    bx, by = plane_basis(z)
    B = np.stack([bx, by], axis=1)
    evals, evecs = np.linalg.eigh(B.T @ cov @ B)  # covariance of the projections
    major = unit(evecs[0, 1] * bx + evecs[1, 1] * by)  # eigh sorts ascending: the last is the largest
    return evals, major, cross3(z, major)


def context_margin(erode_px: int) -> int:
    """Pixels beyond the mask that the estimators look at: the support ring's outer edge (``erode_px + 2 +
    SUPPORT_RING_PX``) is the farthest; the erosion, the opening and the outline filters reach less. +1 spare."""
    return int(erode_px) + 2 + SUPPORT_RING_PX + 1


@dataclass
class Silhouette:
    """The object's cleaned mask on a crop of the image, with the summaries of it that the estimators use."""

    mask: np.ndarray      # bool, the crop's shape
    crop: Crop            # where the mask lies in the image (it must reach context_margin beyond the mask)
    centroid: np.ndarray  # (u, v): mean pixel, image coordinates
    hull: np.ndarray      # Mx2 (u, v): vertices of the convex hull of the pixel centres, image coordinates

    @classmethod
    def from_mask(cls, mask: np.ndarray, crop: Crop) -> "Silhouette":
        # centroid from per-row / per-column counts: exact integer sums, as the mean of np.nonzero's indices
        rows = np.count_nonzero(mask, axis=1)
        cols = np.count_nonzero(mask, axis=0)
        n = int(rows.sum())
        centroid = np.array([int(cols @ np.arange(crop.c0, crop.c0 + cols.size)) / n,
                             int(rows @ np.arange(crop.r0, crop.r0 + rows.size)) / n])
        # outer contours hold every hull vertex (an extreme pixel has a neighbour outside the mask)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        hull = cv2.convexHull(np.concatenate(contours).reshape(-1, 2)).reshape(-1, 2)
        return cls(mask, crop, centroid, hull + crop.origin[::-1])

    def hull_rays(self, intrinsics: CameraIntrinsics) -> np.ndarray:
        """Rays through the hull vertices: enough for :func:`outline_widths` (see there)."""
        return intrinsics.rays(self.hull[:, 0], self.hull[:, 1])


def outline_widths(sil_rays: np.ndarray, z: np.ndarray, t: float, axes: list[np.ndarray], pixel_m: float
                   ) -> list[float]:
    """Width of the silhouette along each in-plane axis, the outline lifted to the plane p . z = t.

    Outline pixels are pixel centres; the true edge is half a pixel further out on each side (+1 pixel).
    ``sil_rays`` may be the rays of any pixels, or only of the vertices of their convex hull
    (:attr:`Silhouette.hull`): lifting onto a plane is a perspective map, which keeps the hull a convex polygon
    with the same vertices, and a linear function's extremes over it are at vertices -- the same widths.
    """
    lifted = sil_rays * (t / (sil_rays @ z))[:, None]
    return [float(np.ptp(lifted @ a)) + pixel_m for a in axes]


def outline_ranges(sil: np.ndarray, timg: np.ndarray, r0: int, c0: int, intrinsics: CameraIntrinsics,
                   radius: int, origin: tuple[int, int] = (0, 0), pad: bool = True
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Range along the ray extrapolated to each outline pixel from a local plane fit of the valid ranges.

    ``timg`` is the range image of the crop starting at (r0, c0), NaN where there is no valid point. The
    plane t = a + g . (du, dv) through the values within ``radius`` pixels, evaluated at the outline pixel,
    recovers the range of a flat face's edge exactly and under-estimates a rounded rim's (the surface bends
    away). Outline pixels on the image border are not object outlines and are skipped. Returns (u, v, t).
    ``sil`` may be a crop of the image starting at pixel ``origin`` (row, col) if it reaches beyond the
    silhouette wherever it does not end at the image border (a silhouette pixel on its edge is on the image's).
    ``pad=False`` when ``timg`` already reaches ``radius`` pixels (NaN) beyond the silhouette: no copy.
    """
    h, w = sil.shape
    inner = cv2.erode(sil.astype(np.uint8), square(3), borderType=cv2.BORDER_CONSTANT,
                      borderValue=1).astype(bool)
    rows, cols = np.nonzero(sil & ~inner)
    keep = (rows > 0) & (rows < h - 1) & (cols > 0) & (cols < w - 1)
    rows, cols = rows[keep] + origin[0], cols[keep] + origin[1]
    empty = (np.zeros(0), np.zeros(0), np.zeros(0))
    if rows.size == 0:
        return empty
    r = radius
    p = r if pad else 0
    padded = np.pad(timg, r, constant_values=np.nan) if pad else timg  # then no window is clipped
    # one gather of whole windows (window (i, j) of the view starts at padded pixel (i, j))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * r + 1, 2 * r + 1))
    win = windows[rows - r0 - r + p, cols - c0 - r + p].reshape(len(rows), -1)
    X, moments = _window_terms(r)
    finite = np.isfinite(win)
    wgt = finite.astype(np.float64)
    y = np.where(finite, win, 0.0)
    # sums of the weights times 1, du, dv, du^2, dv^2, du dv over each window (exact: 0/1 times integers)
    m = matmul_rows(wgt, moments)
    n = m[:, 0]
    nn = np.maximum(n, 1.0)
    mu_u, mu_v = m[:, 1] / nn, m[:, 2] / nn
    cuu = m[:, 3] / nn - mu_u ** 2
    cvv = m[:, 4] / nn - mu_v ** 2
    cuv = m[:, 5] / nn - mu_u * mu_v
    # usable: enough points spread in 2D (not a line), so the plane is determined
    good = (n >= 12) & (cuu * cvv - cuv ** 2 > 0.5)
    if not good.any():
        return empty
    # normal equations of the weighted least-squares planes, A [a, gu, gv] = B with A = sum w X X^T (from the
    # sums above, +1e-9 I) and B = sum w y X; only a, the plane at the outline pixel, is needed: Cramer's rule
    # (one vectorised 3x3 determinant ratio instead of a LAPACK call per outline pixel)
    s0, su, sv, suu, svv, suv = (m[good, i] for i in range(6))
    s0, suu, svv = s0 + 1e-9, suu + 1e-9, svv + 1e-9
    by, byu, byv = matmul_rows(y if good.all() else y[good], X).T  # y is 0 where the weight is
    minor = svv * suu - suv * suv
    det = s0 * minor - su * (su * svv - suv * sv) + sv * (su * suv - suu * sv)
    t_out = (by * minor - su * (byu * svv - suv * byv) + sv * (byu * suv - suu * byv)) / det
    # limit the extrapolation to MAX_SLOPE times its distance from the data (grazing rims)
    t_mean = by / n[good]
    lim = MAX_SLOPE * t_mean / math.sqrt(intrinsics.fx * intrinsics.fy) * np.hypot(mu_u[good], mu_v[good])
    t_out = np.clip(t_out, t_mean - lim, t_mean + lim)
    return cols[good].astype(np.float64), rows[good].astype(np.float64), t_out


@functools.lru_cache(maxsize=None)
def _window_terms(radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Over the offsets (du, dv) of a (2 radius + 1)^2 window, row-major: the plane's terms [1, du, dv] (centred
    on the outline pixel: the constant is the value there) and the moments [1, du, dv, du^2, dv^2, du dv] of the
    weights (cached, read-only)."""
    offs = np.arange(-radius, radius + 1).astype(np.float64)
    dv, du = np.meshgrid(offs, offs, indexing="ij")
    du, dv = du.ravel(), dv.ravel()
    terms = np.stack([np.ones_like(du), du, dv], axis=1)
    moments = np.stack([np.ones_like(du), du, dv, du * du, dv * dv, du * dv], axis=1)
    terms.flags.writeable = moments.flags.writeable = False
    return terms, moments


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
    rays = intrinsics.rays(u, v)
    P = rays * (t / rowdot(rays, z))[:, None]
    outline = OutlineLookup(u, v, MIRROR_TOL_PX)
    agree = max(0.002, AGREE_PX * median(t) / math.sqrt(intrinsics.fx * intrinsics.fy))
    # starts around c0 (the footprint prior's range), from half its depth in front to its full depth behind
    starts = c0 + np.linspace(-0.5, 1.0, N_STARTS) * max(c0 - float(np.min(t)), 0.0)
    best, C = iterate_centres(starts[:, None] * z, P, z, intrinsics.fx, intrinsics.fy, intrinsics.cx,
                              intrinsics.cy, outline.table, outline.u0, outline.v0, outline.u, outline.v,
                              outline.tol2, agree, PAIR_PERCENTILE, MAX_PAIR_ITERATIONS)
    return C[best] if best >= 0 else None


def ring_points(sil: np.ndarray, depth_m: np.ndarray, intrinsics: CameraIntrinsics, erode_px: int,
                origin: tuple[int, int] = (0, 0)) -> np.ndarray | None:
    """3D points (N x 3) of a ring of pixels around the silhouette, skipping ``erode_px + 2`` pixels of mixed /
    misregistered depth: the object's surroundings. None when fewer than 50 or less than half of the ring's
    pixels have depth. ``sil`` and ``depth_m`` may be a crop of the image starting at pixel ``origin`` (row,
    col) that reaches :func:`context_margin` pixels beyond the silhouette."""
    gap = erode_px + 2
    m = sil.astype(np.uint8)
    ring = cv2.dilate(m, disc(gap + SUPPORT_RING_PX)) > cv2.dilate(m, disc(gap))  # in the outer disc, not the inner
    rows, cols = np.nonzero(ring & np.isfinite(depth_m))
    if rows.size < 50 or rows.size < 0.5 * int(ring.sum()):
        return None
    return intrinsics.backproject(cols + origin[1], rows + origin[0], depth_m[rows, cols])


def support_plane(ring: np.ndarray, z: np.ndarray, t_front: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(point, unit normal towards the camera) of the surface the object stands on, from its surroundings
    (:func:`ring_points`).

    The ring is fitted with a plane (least squares from the points within Tukey's fences of range, refitted on
    the inliers). It counts as the support only if it is one clean plane, lies behind the object, and faces
    the camera within SUPPORT_MAX_ANGLE_DEG of the ray.
    """
    r = rowdot(ring, z)
    q1, q3 = percentiles(r, [25.0, 75.0])
    found, centre, n = fit_support_plane(ring, z, r, q1, q3,
                                         math.cos(math.radians(SUPPORT_MAX_ANGLE_DEG + SUPPORT_REFIT_TURN_DEG)),
                                         math.cos(math.radians(SUPPORT_MAX_ANGLE_DEG)))
    if not found:
        return None
    t_plane = float(centre @ n) / float(z @ n)
    return (centre, n) if t_plane > t_front + 0.002 else None


def occluded(ring: np.ndarray, z: np.ndarray, t_front: float) -> bool:
    """Whether something nearer than the object's front borders its silhouette (and may hide part of it): at
    least OCCLUDER_MIN_FRACTION of its surroundings lie more than OCCLUDER_MARGIN_M in front of it."""
    nearer = np.count_nonzero(rowdot(ring, z) < t_front - OCCLUDER_MARGIN_M)
    return nearer >= OCCLUDER_MIN_FRACTION * len(ring)


@dataclass
class SupportEstimate:
    centre: np.ndarray  # 3D centre, camera optical frame
    normal: np.ndarray  # the support plane's unit normal, towards the camera
    height: float       # of the object's top above the plane (metres)


def centre_on_support(pts: np.ndarray, pix: np.ndarray, spike: np.ndarray, p0: np.ndarray, n: np.ndarray,
                      max_height: float, pixel_m: float) -> SupportEstimate | None:
    """Centre of an object standing on the plane (p0, n): half its top's height, straight below the top's middle.

    The top of an upright prism, cylinder, cup, bowl or tray, or of a ball or a can on its side, lies straight
    above the centre of its bounding box: the points from SUPPORT_TOP_TOL below the 98th-percentile height up,
    less the flying pixels: points with no other top point within 2 TOP_COHERENT_PX pixel widths (``pixel_m``)
    among the pixels up to TOP_COHERENT_PX away.
    ``pix``: the points' (row, col); ``spike``: the despeckled points, left out of the height (a flying pixel
    towards the camera looks high above the table) but not out of the top (a rim is a depth edge, which the
    despeckling drops as well). None when the top is not above the plane or implausibly high (the object is
    held, or stands on something unseen).
    """
    h = rowdot(pts - p0, n)
    h_max = percentiles(h[~spike], [98.0])[0]
    if not 0.0 < h_max <= max_height:
        return None
    top = np.flatnonzero(h >= h_max - SUPPORT_TOP_TOL)
    # a surface, however thin (a rim, which the band cuts into runs a few pixels apart), continues from pixel to
    # pixel; a flying pixel does not
    top = top[has_near_neighbour(pts[top], pix[top, 0], pix[top, 1], TOP_COHERENT_PX,
                                 2 * TOP_COHERENT_PX * pixel_m)]
    if top.size == 0:
        return None
    middle = _middle_of_extent(pts[top], n)
    foot = middle - ((middle - p0) @ n) * n
    return SupportEstimate(foot + 0.5 * median(h[top]) * n, n, h_max)


def _middle_of_extent(pts: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Middle of the points' extent along their two principal axes perpendicular to ``n`` (the extremes, not
    percentiles: a rim's ends are a few points), at the points' mean height along ``n``."""
    mean = pts.mean(axis=0)
    d = pts - mean
    middle = mean
    for axis in in_plane_axes(gram(d), n)[1:]:
        s = rowdot(d, axis)
        middle = middle + 0.5 * (float(s.min()) + float(s.max())) * axis
    return middle


def agrees_with_support(C: np.ndarray, support: SupportEstimate) -> bool:
    """Whether a centre estimate is the support estimate within SUPPORT_AGREE_* (height and along the plane)."""
    d = C - support.centre
    up = float(d @ support.normal)
    along = math.sqrt(max(float(d @ d) - up * up, 0.0))
    return (abs(up) <= max(SUPPORT_AGREE_M, SUPPORT_AGREE_REL * support.height)
            and along <= SUPPORT_AGREE_LATERAL_M)


def estimate_centre(pts: np.ndarray, pix: np.ndarray, sil: np.ndarray, intrinsics: CameraIntrinsics,
                    depth_m: np.ndarray | None, erode_px: int, major: np.ndarray, minor: np.ndarray
                    ) -> CentreEstimate:
    """The object's 3D centre (see the module docstring).

    ``pts``/``pix``: filtered object points (Nx3) and their (row, col); ``sil``: the cleaned mask (HxW);
    ``major``/``minor``: in-plane axes to measure the outline widths along (the PCA axes).
    """
    crop = Crop.around(sil, context_margin(erode_px))
    return centre_in_crop(pts, pix, Silhouette.from_mask(crop.of(sil), crop), intrinsics,
                          None if depth_m is None else crop.of(depth_m), erode_px, major, minor)


def centre_in_crop(pts: np.ndarray, pix: np.ndarray, sil: Silhouette, intrinsics: CameraIntrinsics,
                   depth_m: np.ndarray | None, erode_px: int, major: np.ndarray, minor: np.ndarray
                   ) -> CentreEstimate:
    """:func:`estimate_centre` with the silhouette and the depth (or None) on the crop ``sil.crop``."""
    pixel_scale = 1.0 / math.sqrt(intrinsics.fx * intrinsics.fy)  # metres per pixel per metre of range
    z = unit(intrinsics.rays(sil.centroid[0], sil.centroid[1]))
    hull_rays = sil.hull_rays(intrinsics)

    # range image along the ray over the box holding the silhouette and the points, with a NaN border as wide
    # as the widest window used on it (so none needs padding)
    t = rowdot(pts, z)
    t_median = median(t)
    radius = max(4, erode_px + 3)  # of the outline plane fits
    srows, scols = np.flatnonzero(sil.mask.any(axis=1)), np.flatnonzero(sil.mask.any(axis=0))
    r0 = int(min(srows[0] + sil.crop.r0, pix[:, 0].min())) - radius
    c0 = int(min(scols[0] + sil.crop.c0, pix[:, 1].min())) - radius
    r1 = int(max(srows[-1] + sil.crop.r0, pix[:, 0].max())) + 1 + radius
    c1 = int(max(scols[-1] + sil.crop.c0, pix[:, 1].max())) + 1 + radius
    timg = np.full((r1 - r0, c1 - c0), np.nan)
    pr, pc = pix[:, 0] - r0, pix[:, 1] - c0
    timg[pr, pc] = t
    # despeckle: a pixel far from its 5x5 median is a spike that got through the outlier filters, drop it
    # before it steers a plane fit
    spike = despike(timg, pr, pc, t, SPIKE_TOL_PX * t_median * pixel_scale)
    timg[pr[spike], pc[spike]] = np.nan
    # nearest point: min of a 3x3 median (noise-robust, and a 3x3 window barely rounds off a corner)
    t_front = front_range(timg, pr, pc)
    t_front = float(np.min(t)) if t_front is None else t_front

    def bounds(c: float) -> tuple[float, float]:
        wa, wb = outline_widths(hull_rays, z, c, [major, minor], c * pixel_scale)
        return t_front + 0.5 * min(wa, wb), t_front + 0.5 * MAX_DEPTH_RATIO * math.hypot(wa, wb)

    lo, hi = bounds(t_median)

    # 1) an object standing on a plane; in a top-down view that is all there is to go by
    support, ring = None, None
    if depth_m is not None:
        ring = ring_points(sil.mask, depth_m, intrinsics, erode_px, (sil.crop.r0, sil.crop.c0))
        plane = support_plane(ring, z, t_front) if ring is not None else None
        if plane is not None:
            support = centre_on_support(pts, pix, spike, plane[0], plane[1],
                                        SUPPORT_MAX_HEIGHT_RATIO * (hi - t_front) / MAX_DEPTH_RATIO,
                                        t_median * pixel_scale)
            if support is not None and -float(plane[1] @ z) >= math.cos(math.radians(TOP_DOWN_MAX_ANGLE_DEG)):
                return CentreEstimate(support.centre, t_front, "support")

    # 2) central symmetry of the outline, 3) clamped by the footprint prior
    ou, ov, ot = outline_ranges(sil.mask, timg, r0, c0, intrinsics, radius, (sil.crop.r0, sil.crop.c0), pad=False)
    C_sym = symmetric_centre(ou, ov, ot, intrinsics, lo, z)
    c_sym = float(C_sym @ z) if C_sym is not None else -math.inf
    c = t_median
    for _ in range(3):  # the widths are measured at the centre range, which depends on them
        lo, hi = bounds(c)
        c = min(max(c_sym, lo), hi)
    if C_sym is not None and lo <= c_sym <= hi:
        estimate = CentreEstimate(C_sym, t_front, "symmetry")
    else:
        estimate = CentreEstimate(c * z, t_front, "footprint_min" if c_sym < lo else "footprint_max")
    # the support cue referees: a concave or irregular object standing on a plane breaks (2) and (3), not (1);
    # unless part of the object may be hidden (cut by the image border, or behind something), and with it part
    # of its top
    if (support is not None and not agrees_with_support(estimate.position, support)
            and not sil.crop.touches_border(sil.mask) and not occluded(ring, z, t_front)):
        return CentreEstimate(support.centre, t_front, "support")
    return estimate

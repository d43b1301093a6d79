"""Grasp pose of a segmented object from its mask, the aligned depth image and the intrinsics.

Frame (camera optical frame, REP-103; or any frame via :func:`transform_pose`):
  * position: the object's centre, corrected for the unseen far half (see :mod:`vipa_ros.geometry.centre`).
  * z: the approach direction, along the viewing ray to the centre, pointing away from the camera.
  * x: the object's major axis across the approach: the first principal axis of the object's points projected
    on the plane perpendicular to z (``orientation="pca"``), or the camera's x axis projected on that plane
    (``"camera"``, and the fallback when the footprint is too round for PCA to pick an axis stably).
  * y = z x x: right-handed.
  * sign: x points to the +u (right) side of the image at the object (+v, down, when exactly vertical), so a
    pose does not flip between frames. Near that vertical direction the sign must switch somewhere; with
    this rule it only happens for objects whose major axis is vertical in the image.
Extent: the outline's widths along x and y (from the mask, not the eroded depth points, so erosion does not
shrink them) and the estimated depth along z. ``grasp_width`` = the y extent: across the minor axis.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import cv2
import numpy as np

from .centre import Silhouette, centre_in_crop, context_margin, in_plane_axes, outline_widths, plane_basis, unit
from .crop import Crop, square
from .depth import decode_depth
from .intrinsics import CameraIntrinsics
from .points import TargetPoints, target_points_in_crop
from .products import cross3, gram
from .transforms import make_transform, quaternion_from_matrix, transform_points

ORIENTATIONS = ("pca", "camera")

# Footprint variance ratio (minor/major) above which the PCA major axis is considered arbitrary (a ball, a
# square seen face-on -- a square's second moments are isotropic): the camera-aligned axis is used instead,
# so the pose does not spin with pixel noise. 0.85 = footprint aspect ratio below ~1.085.
ISOTROPIC_RATIO = 0.85


@dataclass
class GraspParams:
    """Parameters of :func:`estimate_grasp` (the segment node's "depth and pose" parameters)."""

    min_depth: float = 0.1            # metres; nearer depths are invalid (below the sensor's minimum range)
    max_depth: float = 5.0            # metres; farther depths are invalid (background, unreliable range)
    mask_erode_px: int = 2            # boundary pixels dropped before using depth (mixed / misregistered)
    min_valid_points: int = 30        # fewer robust 3D points -> has_pose False
    orientation: str = "pca"          # "pca" (x = object's major axis) | "camera" (x = camera x projected)
    depth_scale: float | str | None = "auto"  # metres per unit; "auto"/0/None: 16UC1 -> 0.001, 32FC1 -> 1.0
    outlier_k: float = 3.0            # Tukey-fence multiplier (IQRs) of the depth / 3D-distance outlier filters
    outlier_floor_m: float = 0.01     # least margin (metres) the outlier filters keep beyond the quartiles
    # Masks larger than this are sampled on every s-th pixel (s = ceil(sqrt(area / max_mask_px))) so the time
    # per object stays bounded (a table-sized mask would take ~0.5 s); 0 = never. 4000 samples a cup at 0.6 m
    # (~5000 px) on every 2nd pixel: the fit takes ~30 % less time on the node's critical path for 0.25 mm more
    # median centre error (scripts/bench_geometry.py --sweep: 0.64 -> 0.89 mm), far below depth noise.
    max_mask_px: int = 4000

    def __post_init__(self) -> None:
        self.orientation = str(self.orientation).strip().lower()
        if self.orientation not in ORIENTATIONS:
            raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {self.orientation!r}")
        if not 0.0 <= self.min_depth < self.max_depth:
            raise ValueError(f"need 0 <= min_depth < max_depth, got {self.min_depth}, {self.max_depth}")
        if int(self.mask_erode_px) < 0 or int(self.min_valid_points) < 1 or int(self.max_mask_px) < 0:
            raise ValueError("mask_erode_px and max_mask_px must be >= 0 and min_valid_points >= 1")
        self.max_mask_px = int(self.max_mask_px)
        self.mask_erode_px = int(self.mask_erode_px)
        self.min_valid_points = int(self.min_valid_points)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "GraspParams":
        """From a parameter dict (e.g. the node's parameters); unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def _vec(*v: float) -> np.ndarray:
    return np.array(v, dtype=np.float64)


@dataclass
class GraspPose:
    """A grasp-ready object pose in the camera optical frame (or the frame it was transformed to).

    ``rotation`` columns are the pose axes (x = major axis, y = z x x, z = approach, away from the camera);
    ``quaternion`` is (x, y, z, w) with w >= 0. ``extent`` is the object's size in metres along those axes.
    When ``has_pose`` is False, ``reason`` says why and the numbers are meaningless (identity / zeros).
    """

    position: np.ndarray = field(default_factory=lambda: np.zeros(3))
    quaternion: np.ndarray = field(default_factory=lambda: _vec(0, 0, 0, 1))
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    extent: np.ndarray = field(default_factory=lambda: np.zeros(3))
    grasp_width: float = 0.0
    valid_points: int = 0
    has_pose: bool = False
    reason: str = ""
    # diagnostics (not in Instance.msg; for logs, tests and rviz)
    visible_centroid: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))  # mean of the visible points
    centre_source: str = ""        # "support" | "symmetry" | "footprint_min" | "footprint_max" (see centre.py)
    orientation_source: str = ""   # "pca" | "camera" | "camera_isotropic" (PCA asked, footprint too round)
    truncated: bool = False        # the mask touches the image border: centre and extent are biased inwards

    @classmethod
    def invalid(cls, reason: str, valid_points: int = 0, truncated: bool = False) -> "GraspPose":
        return cls(has_pose=False, reason=reason, valid_points=int(valid_points), truncated=truncated)

    @property
    def matrix(self) -> np.ndarray:
        """4x4 pose (object frame -> camera frame)."""
        return make_transform(self.rotation, self.position)

    @property
    def x_axis(self) -> np.ndarray:
        return self.rotation[:, 0]

    @property
    def y_axis(self) -> np.ndarray:
        return self.rotation[:, 1]

    @property
    def z_axis(self) -> np.ndarray:
        return self.rotation[:, 2]

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python view (lists, floats, str), for logs, JSON and YAML."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        return out


def transform_pose(pose: GraspPose, T: np.ndarray) -> GraspPose:
    """The pose expressed in another frame; ``T`` (4x4, rigid) maps camera-frame points to that frame.

    Position, axes and ``visible_centroid`` move; extent, grasp width and diagnostics are frame-independent.
    An invalid pose is returned unchanged.
    """
    if not pose.has_pose:
        return pose
    T = np.asarray(T, dtype=np.float64)
    R = T[:3, :3] @ pose.rotation
    return GraspPose(
        position=transform_points(T, pose.position), quaternion=quaternion_from_matrix(R), rotation=R,
        extent=pose.extent.copy(), grasp_width=pose.grasp_width, valid_points=pose.valid_points, has_pose=True,
        reason=pose.reason, visible_centroid=transform_points(T, pose.visible_centroid),
        centre_source=pose.centre_source, orientation_source=pose.orientation_source, truncated=pose.truncated)


# ----------------------------------------------------------------------------------------------------------


def _silhouette(mask: np.ndarray, inlier_pixels: np.ndarray, rejected_pixels: np.ndarray, erode_px: int
                ) -> np.ndarray:
    """The object's outline: the mask without what the depth shows is something else, spurs and stray blobs.

    Mask pixels whose depth the outlier filters rejected (the mask bled onto the background or a neighbour)
    are dropped. Small holes this leaves (isolated depth spikes) are filled again, and an opening with a
    kernel one pixel wider than the erosion removes the thin band of a spill that erosion kept from the
    filters, as well as 1-px spurs. Pixels without depth are kept, as nothing contradicts them. Of the
    connected components, only those holding >= 25 % as many depth inliers as the best one are kept (a
    second blob -- another instance -- must not move the centre).

    Works on a crop of the image as well (pixels in crop coordinates), if the crop reaches ``erode_px + 1``
    pixels beyond the mask (or the image border): the same holes are filled, the same components kept.
    """
    m = mask.astype(np.uint8)
    if len(rejected_pixels):
        m[rejected_pixels[:, 0], rejected_pixels[:, 1]] = 0
        n, lab, stats, _ = cv2.connectedComponentsWithStats(1 - m, connectivity=4)
        border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
        small = stats[:, cv2.CC_STAT_AREA] <= max(16, 2 * (2 * erode_px + 1) ** 2)
        small[border] = False
        small[0] = False  # label 0 = the object itself
        m[small[lab]] = 1
    k = max(3, erode_px + 1)
    opened = cv2.morphologyEx(m, cv2.MORPH_OPEN, square(k))
    if opened[inlier_pixels[:, 0], inlier_pixels[:, 1]].any():
        m = opened
    n, labels = cv2.connectedComponents(m, connectivity=8)
    if n <= 2:
        return m.astype(bool)
    counts = np.bincount(labels[inlier_pixels[:, 0], inlier_pixels[:, 1]], minlength=n)
    counts[0] = 0
    return np.isin(labels, np.flatnonzero(counts >= 0.25 * counts.max()))


def _covariance(pts: np.ndarray) -> np.ndarray | None:
    """3x3 covariance of the points (None for fewer than 3), once for both uses in :func:`_axes`."""
    if len(pts) <= 2:
        return None
    d = pts - pts.mean(axis=0)
    return gram(d) / (len(pts) - 1)


def _axes(cov: np.ndarray | None, z: np.ndarray, orientation: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(major, minor, x, source): PCA axes of the points (covariance ``cov``) projected on the plane
    perpendicular to z, and the x axis to use -- the major axis, or the camera-aligned one for ``camera`` and
    too-round footprints."""
    bx = plane_basis(z)[0]
    evals, major, minor = in_plane_axes(cov if cov is not None else np.eye(3), z)
    if orientation == "camera":
        return major, minor, bx, "camera"
    if evals[1] <= 0 or evals[0] / evals[1] > ISOTROPIC_RATIO:
        return major, minor, bx, "camera_isotropic"
    return major, minor, major, "pca"


def _image_direction_sign(axis: np.ndarray, at: np.ndarray) -> float:
    """+1 if ``axis`` points to the +u side of the image at 3D point ``at`` (+v when exactly vertical)."""
    du = axis[0] * at[2] - at[0] * axis[2]  # d/ds of u = fx X/Z along at + s axis, up to fx / Z^2 > 0
    if abs(du) > 1e-9:
        return float(np.sign(du))
    return 1.0 if axis[1] * at[2] - at[1] * axis[2] >= 0 else -1.0


def fit_grasp_pose(target: TargetPoints, mask: np.ndarray, intrinsics: CameraIntrinsics, orientation: str = "pca",
                   depth_m: np.ndarray | None = None, erode_px: int = 2) -> GraspPose:
    """Grasp pose from already-filtered target points (:func:`select_target_points`) and the object mask.

    ``depth_m`` (metres, NaN invalid) is only used for the support-plane cue around the mask; without it
    top-down views fall back to the footprint prior.
    """
    mask = np.asarray(mask, dtype=bool)
    crop = Crop.around(mask, context_margin(erode_px))
    return _fit_in_crop(target, crop, crop.of(mask), intrinsics, orientation,
                        None if depth_m is None else crop.of(depth_m), erode_px)


def _fit_in_crop(target: TargetPoints, crop: Crop, mask: np.ndarray, intrinsics: CameraIntrinsics, orientation: str,
                 depth_m: np.ndarray | None, erode_px: int) -> GraspPose:
    """:func:`fit_grasp_pose` with the mask and the depth on ``crop`` (reaching context_margin beyond the mask)."""
    pts, pix = target.points, target.pixels
    sil = Silhouette.from_mask(_silhouette(mask, pix - crop.origin, target.rejected_pixels - crop.origin, erode_px),
                               crop)
    z0 = unit(intrinsics.rays(sil.centroid[0], sil.centroid[1]))
    cov = _covariance(pts)
    major, minor, _, _ = _axes(cov, z0, "pca")
    centre = centre_in_crop(pts, pix, sil, intrinsics, depth_m, erode_px, major, minor)

    # final frame: z along the ray to the centre, x from PCA (or the camera), widths along the final axes
    position = centre.position
    z = unit(position)
    _, _, x, source = _axes(cov, z, orientation)
    x = x * _image_direction_sign(x, position)
    y = cross3(z, x)  # right-handed by construction
    R = np.stack([x, y, z], axis=1)
    c = float(np.linalg.norm(position))
    ex, ey = outline_widths(sil.hull_rays(intrinsics), z, c, [x, y], c / math.sqrt(intrinsics.fx * intrinsics.fy))
    return GraspPose(
        position=position, quaternion=quaternion_from_matrix(R), rotation=R,
        extent=_vec(ex, ey, 2.0 * max(c - centre.t_front, 0.0)), grasp_width=ey, valid_points=target.count,
        has_pose=True, visible_centroid=pts.mean(axis=0), centre_source=centre.source,
        orientation_source=source, truncated=crop.touches_border(sil.mask))


def estimate_grasp(mask: np.ndarray, depth: np.ndarray, intrinsics: CameraIntrinsics,
                   params: GraspParams | None = None, encoding: str | None = None) -> GraspPose:
    """Mask (HxW bool / uint8) + aligned depth (16UC1 mm or 32FC1 m) + intrinsics -> :class:`GraspPose`.

    ``encoding`` ("16UC1" / "32FC1", the Image message's) is inferred from the dtype when omitted.
    Never raises for bad data (empty mask, no depth, mismatched shapes, uncalibrated camera): it returns
    ``has_pose=False`` with a ``reason``. Intrinsics calibrated at another resolution are rescaled to the
    mask's size.
    """
    params = params or GraspParams()
    mask = np.asarray(mask)
    depth = np.asarray(depth)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[:, :, 0]
    if mask.ndim != 2:
        return GraspPose.invalid(f"mask must be HxW, got shape {mask.shape}")
    if depth.shape != mask.shape:
        return GraspPose.invalid(f"depth shape {depth.shape} != mask shape {mask.shape} (depth must be "
                                 "registered to the colour image)")
    erode_px = params.mask_erode_px
    area = int(np.count_nonzero(mask))
    if params.max_mask_px and area > params.max_mask_px:
        step = math.ceil(math.sqrt(area / params.max_mask_px))
        try:
            full = intrinsics.for_image(*mask.shape)
        except ValueError as exc:
            return GraspPose.invalid(str(exc))
        # pixel i of the sampled grid is pixel i * step of the image: same pinhole with f, c divided by step
        mask, depth = mask[::step, ::step], depth[::step, ::step]
        intrinsics = CameraIntrinsics(full.fx / step, full.fy / step, full.cx / step, full.cy / step,
                                      mask.shape[1], mask.shape[0])
        erode_px = math.ceil(erode_px / step)  # the same boundary width in image pixels; 0 stays 0
    # everything below only looks at the object and a margin around it: decode and process just that crop
    crop = Crop.around(mask, context_margin(erode_px))
    if crop.r0 == crop.r1:
        return GraspPose.invalid("empty mask")
    mask = crop.of(mask).astype(bool)
    try:
        depth_m = decode_depth(crop.of(depth), encoding, params.depth_scale, params.min_depth, params.max_depth)
        intr = intrinsics.for_image(*crop.image_shape)
    except ValueError as exc:
        return GraspPose.invalid(str(exc))
    target = target_points_in_crop(mask, depth_m, intr, crop, erode_px, params.min_valid_points,
                                   params.outlier_k, params.outlier_floor_m)
    if not target.ok:
        return GraspPose.invalid(target.reason, target.count, crop.touches_border(mask))
    return _fit_in_crop(target, crop, mask, intr, params.orientation, depth_m, erode_px)


def warm_up() -> None:
    """Estimate the pose of a box in two rendered views (oblique: symmetric pairing, support referee; top-down),
    so that the estimator's compiled kernels are loaded from the on-disk cache, or compiled, before the first
    camera frame needs them."""
    from .synthetic import Box, Plane, orbit_view, render

    K = CameraIntrinsics(300.0, 300.0, 159.5, 119.5, 320, 240)
    box = Box(centre=np.array([0.0, 0.0, 0.03]), size=(0.10, 0.06, 0.06))
    for elevation in (45.0, 85.0):
        T = orbit_view(box.centre, elevation, distance=0.5)
        depth, ids = render(K, [box.transformed(T), Plane().transformed(T)])
        estimate_grasp(ids == 0, depth, K)

"""Pinhole intrinsics and back-projection into the REP-103 camera optical frame (x right, y down, z forward).

Pixel convention: pixel (u, v) = (column, row) has its centre at integer coordinates, as in OpenCV and
sensor_msgs/CameraInfo, so ``x = (u - cx) / fx * z``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole camera model of a (rectified / undistorted) image. ``width``/``height`` = 0 means unknown."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int = 0
    height: int = 0

    def __post_init__(self) -> None:
        if not (np.isfinite([self.fx, self.fy, self.cx, self.cy]).all() and self.fx > 0 and self.fy > 0):
            # an all-zero K is what an uncalibrated driver publishes; catching it here beats NaN poses later
            raise ValueError(f"invalid intrinsics fx={self.fx} fy={self.fy} cx={self.cx} cy={self.cy}")

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_matrix(cls, K: np.ndarray | Sequence[Sequence[float]], width: int = 0, height: int = 0
                    ) -> "CameraIntrinsics":
        """From a 3x3 camera matrix ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` (skew is ignored: always 0 in ROS)."""
        K = np.asarray(K, dtype=np.float64)
        if K.shape != (3, 3):
            raise ValueError(f"K must be 3x3, got shape {K.shape}")
        return cls(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), int(width), int(height))

    @classmethod
    def from_k(cls, k: Sequence[float], width: int = 0, height: int = 0) -> "CameraIntrinsics":
        """From CameraInfo's row-major 9-element ``k`` list (``msg.k``, ``msg.width``, ``msg.height``)."""
        k = np.asarray(k, dtype=np.float64).reshape(-1)
        if k.size != 9:
            raise ValueError(f"k must have 9 elements, got {k.size}")
        return cls.from_matrix(k.reshape(3, 3), width, height)

    # -- derived ------------------------------------------------------------------------------------------
    @property
    def K(self) -> np.ndarray:
        """3x3 camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) like a numpy image."""
        return (self.height, self.width)

    def scaled(self, width: int, height: int) -> "CameraIntrinsics":
        """Intrinsics of the same camera resized to ``width`` x ``height``.

        E.g. CameraInfo at 1280x720 for an image processed at 640x360. Uses the pixel-centre-exact mapping of
        cv2.resize, ``c' = (c + 0.5) * s - 0.5`` (image_proc's ``c * s`` differs by half a pixel times (s - 1)).
        Requires the original width/height to be known.
        """
        if self.width <= 0 or self.height <= 0:
            raise ValueError("cannot rescale intrinsics whose width/height are unknown (0)")
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5,
                                int(width), int(height))

    def for_image(self, height: int, width: int) -> "CameraIntrinsics":
        """These intrinsics, rescaled if calibrated at another resolution than ``height`` x ``width``."""
        if self.width <= 0 or self.height <= 0 or (self.width == width and self.height == height):
            return self
        return self.scaled(width, height)

    # -- projection ---------------------------------------------------------------------------------------
    def rays(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Nx3 ray directions with z = 1 through pixels (u, v): the point at depth z is ``z * ray``."""
        u = np.asarray(u, dtype=np.float64)
        out = np.empty(u.shape + (3,))  # filled in place: np.stack's generic path costs more than the arithmetic
        np.divide(u - self.cx, self.fx, out=out[..., 0])
        np.divide(np.asarray(v, dtype=np.float64) - self.cy, self.fy, out=out[..., 1])
        out[..., 2] = 1.0
        return out

    def backproject(self, u: np.ndarray, v: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Nx3 points (metres, optical frame) of pixels (u, v) at depth z (along the optical axis, REP-118)."""
        return self.rays(u, v) * np.asarray(z, dtype=np.float64)[..., None]

    def project(self, points: np.ndarray) -> np.ndarray:
        """Nx2 pixel coordinates (u, v) of Nx3 optical-frame points (z > 0)."""
        p = np.asarray(points, dtype=np.float64)
        out = np.empty(p.shape[:-1] + (2,))
        out[..., 0] = self.fx * p[..., 0] / p[..., 2] + self.cx
        out[..., 1] = self.fy * p[..., 1] / p[..., 2] + self.cy
        return out


def backproject_mask(mask: np.ndarray, depth_m: np.ndarray, intrinsics: CameraIntrinsics
                     ) -> tuple[np.ndarray, np.ndarray]:
    """3D points of the masked pixels that have a finite depth.

    ``depth_m`` is float metres with NaN = invalid (see :func:`vipa_ros.geometry.depth.decode_depth`).
    Returns ``(points Nx3 float64, pixels Nx2 int (row, col))``.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != depth_m.shape:
        raise ValueError(f"mask shape {mask.shape} != depth shape {depth_m.shape}")
    sel = mask & np.isfinite(depth_m)
    rows, cols = np.nonzero(sel)
    pts = intrinsics.backproject(cols, rows, depth_m[rows, cols])
    return pts, np.stack([rows, cols], axis=1)

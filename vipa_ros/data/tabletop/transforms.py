"""Rotations, quaternions and the pinhole camera model shared by the tabletop generator and its tests.

Camera convention: REP-103 optical frame (x right, y down, z forward). `R_wc` holds the optical axes as columns in
world coordinates, so p_cam = R_wc.T @ (p_world - t_wc). Pixel coordinates follow OpenCV (pixel centres at
integers): u = fx * x / z + cx.
"""
from __future__ import annotations

import numpy as np


def quat_from_matrix(R: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) with w >= 0 of a rotation matrix."""
    R = np.asarray(R, dtype=np.float64)
    tr = np.trace(R)
    if tr > 0:
        s = np.sqrt(tr + 1.0) * 2
        q = np.array([0.25 * s, (R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s])
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = np.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2]) * 2
        q = np.array([(R[2, 1] - R[1, 2]) / s, 0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s])
    elif R[1, 1] > R[2, 2]:
        s = np.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2]) * 2
        q = np.array([(R[0, 2] - R[2, 0]) / s, (R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s])
    else:
        s = np.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1]) * 2
        q = np.array([(R[1, 0] - R[0, 1]) / s, (R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s])
    q = q / np.linalg.norm(q)
    return q if q[0] >= 0 else -q


def matrix_from_quat(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a quaternion (w, x, y, z)."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def look_at(position: np.ndarray, target: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """R_wc of an optical frame at `position` looking at `target` (world z up), rolled by `roll` radians."""
    z = np.asarray(target, dtype=np.float64) - np.asarray(position, dtype=np.float64)
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-9:  # looking straight down
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c, s = np.cos(roll), np.sin(roll)
    x, y = c * x + s * y, -s * x + c * y
    return np.stack([x, y, z], axis=1)


def intrinsics(fovy_deg: float, width: int, height: int) -> np.ndarray:
    """K of MuJoCo's pinhole camera: square pixels, principal point at the image centre."""
    fy = (height / 2.0) / np.tan(np.deg2rad(fovy_deg) / 2.0)
    return np.array([[fy, 0.0, (width - 1) / 2.0], [0.0, fy, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def world_to_camera(points: np.ndarray, R_wc: np.ndarray, t_wc: np.ndarray) -> np.ndarray:
    return (np.asarray(points, dtype=np.float64) - t_wc) @ R_wc


def project(points_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixel coordinates (N x 2) of camera-frame points (N x 3, z > 0)."""
    p = np.asarray(points_cam, dtype=np.float64)
    z = np.clip(p[:, 2:3], 1e-9, None)
    return np.concatenate([K[0, 0] * p[:, 0:1] / z + K[0, 2], K[1, 1] * p[:, 1:2] / z + K[1, 2]], axis=1)


def pose_dict(position: np.ndarray, R: np.ndarray) -> dict:
    """A pose as written to instances.json: position (m) and quaternions in both common orders."""
    q = quat_from_matrix(R)
    return {
        "position": [round(float(v), 6) for v in position],
        "quaternion_wxyz": [round(float(v), 6) for v in q],
        "quaternion_xyzw": [round(float(v), 6) for v in (q[1], q[2], q[3], q[0])],
    }

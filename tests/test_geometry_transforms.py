"""Quaternion / matrix / 4x4 transform helpers (ROS quaternion order x, y, z, w)."""
from __future__ import annotations

import numpy as np
import pytest

from vipa_ros.geometry import (invert_transform, make_transform, matrix_from_quaternion, orthonormalize,
                               quaternion_from_matrix, transform_from_tq, transform_points)


def _random_rotations(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        q, r = np.linalg.qr(rng.normal(size=(3, 3)))
        q = q * np.sign(np.diag(r))
        if np.linalg.det(q) < 0:
            q[:, 0] = -q[:, 0]
        out.append(q)
    # the branches of Shepperd's method: rotations by ~180 degrees about each axis
    out += [np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0]), np.diag([-1.0, -1.0, 1.0]), np.eye(3)]
    return out


def test_quaternion_matrix_round_trip_and_canonical_sign():
    for R in _random_rotations(50):
        q = quaternion_from_matrix(R)
        assert np.linalg.norm(q) == pytest.approx(1.0)
        assert q[3] >= 0.0
        np.testing.assert_allclose(matrix_from_quaternion(q), R, atol=1e-12)
        np.testing.assert_allclose(matrix_from_quaternion(-q), R, atol=1e-12)


def test_known_quaternions():
    # 90 degrees about z: x -> y
    q = np.array([0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)])
    np.testing.assert_allclose(matrix_from_quaternion(q) @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(quaternion_from_matrix(matrix_from_quaternion(q)), q, atol=1e-12)


def test_transforms_compose_and_invert():
    q = np.array([0.1, -0.3, 0.2, 0.9])
    T = transform_from_tq([0.5, -1.0, 2.0], q)
    np.testing.assert_allclose(T[:3, :3], matrix_from_quaternion(q))
    np.testing.assert_allclose(invert_transform(T) @ T, np.eye(4), atol=1e-12)
    pts = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    back = transform_points(invert_transform(T), transform_points(T, pts))
    np.testing.assert_allclose(back, pts, atol=1e-12)
    np.testing.assert_allclose(transform_points(T, np.zeros(3)), [0.5, -1.0, 2.0])
    np.testing.assert_allclose(make_transform(t=[1, 2, 3])[:3, 3], [1, 2, 3])


def test_orthonormalize_cleans_drift():
    R = matrix_from_quaternion([0.2, 0.1, -0.4, 0.8]) + 1e-3
    Rc = orthonormalize(R)
    np.testing.assert_allclose(Rc.T @ Rc, np.eye(3), atol=1e-12)
    assert np.linalg.det(Rc) == pytest.approx(1.0)

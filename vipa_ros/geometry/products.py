"""Matrix products of tall point arrays, kept on the calling thread.

OpenBLAS hands a product to its thread pool once it has more than ~9k (matrix-vector) or ~260k (matrix-matrix,
m*n*k) multiply-adds. For the thin products here (thousands of 3D points times a 3-vector or a 3x3) waking
the pool, and its threads spinning afterwards, costs much more than the product itself: on a busy 2-core
machine it doubled the whole grasp estimate. So these helpers either avoid BLAS (a 3-term dot product is three
vector multiply-adds) or call it on row blocks small enough to stay on the calling thread. Results equal the
plain ``@`` up to the order of floating-point summation.
"""
from __future__ import annotations

import math

import numpy as np

_GEMM_BLOCK = 200_000  # multiply-adds per BLAS call, below OpenBLAS's threading threshold (4 * 65536)


def rowdot(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``a @ v`` for points ``a`` (..., 3) and a 3-vector ``v``."""
    return a[..., 0] * v[0] + a[..., 1] * v[1] + a[..., 2] * v[2]


def matmul_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a tall ``a`` (N x m) and a small 2-D ``b`` (m x k), in row blocks."""
    rows = max(1, _GEMM_BLOCK // (a.shape[1] * b.shape[1]))
    if len(a) <= rows:
        return a @ b
    return np.concatenate([a[i:i + rows] @ b for i in range(0, len(a), rows)])


def gram(d: np.ndarray) -> np.ndarray:
    """``d.T @ d`` for a tall ``d`` (N x k), summed over row blocks."""
    rows = max(1, _GEMM_BLOCK // (d.shape[1] * d.shape[1]))
    out = np.zeros((d.shape[1], d.shape[1]))
    for i in range(0, len(d), rows):
        out += d[i:i + rows].T @ d[i:i + rows]
    return out


# NumPy's generic np.cross / np.percentile / np.median cost 20-60 us of Python per call, more than the work on
# the few thousand points here; the grasp estimate makes ~15 such calls per frame. These give the same bits.

def cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross(a, b)`` of two 3-vectors (the same products and differences)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def percentiles(x: np.ndarray, qs: list[float]) -> list[float]:
    """``np.percentile(x, qs)`` (its default "linear" method, to the last bit) of a non-empty 1-D array without
    NaN, from one partition."""
    n = x.size
    vis = [(n - 1) * (q / 100.0) for q in qs]
    los = [min(int(math.floor(vi)), n - 1) for vi in vis]
    part = np.partition(x, sorted({k for lo in los for k in (lo, min(lo + 1, n - 1))}))
    out = []
    for vi, lo in zip(vis, los):
        a, b = float(part[lo]), float(part[min(lo + 1, n - 1)])
        g = vi - lo
        d = b - a
        out.append(b - d * (1 - g) if g >= 0.5 else a + d * g)  # numpy's _lerp
    return out


def median(x: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """``np.median(x)`` of a non-empty array without NaN, flattened (``axis=None``, a float) or along ``axis``."""
    if axis is None:
        x = x.ravel()
        axis = 0
    n = x.shape[axis]
    k = n // 2
    part = np.partition(x, [k - 1, k] if n % 2 == 0 else [k], axis=axis)
    mid = np.take(part, k, axis=axis)
    value = mid if n % 2 else (np.take(part, k - 1, axis=axis) + mid) / 2.0
    return float(value) if np.ndim(value) == 0 else value

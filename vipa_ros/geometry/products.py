"""Matrix products of tall point arrays, kept on the calling thread.

OpenBLAS hands a product to its thread pool once it has more than ~9k (matrix-vector) or ~260k (matrix-matrix,
m*n*k) multiply-adds. For the thin products here (thousands of 3D points times a 3-vector or a 3x3) waking
the pool, and its threads spinning afterwards, costs much more than the product itself: on a busy 2-core
machine it doubled the whole grasp estimate. So these helpers either avoid BLAS (a 3-term dot product is three
vector multiply-adds) or call it on row blocks small enough to stay on the calling thread. Results equal the
plain ``@`` up to the order of floating-point summation.
"""
from __future__ import annotations

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

"""Window medians of the object's range image, compiled (numba): spike removal and the nearest visible range.

Both are medians of the finite values in a small window around each object pixel (NaN = no depth). Per pixel
that is a handful of comparisons; in NumPy it took sliding-window gathers, sorts and OpenCV bound filters,
~1.5 ms per frame, mostly call overhead. The loops below compute the same medians (the mean of the two
middle values for an even count, as ``np.nanmedian``) and so give the same results to the last bit.
Pixels outside the image count as missing, so callers need no padding. :func:`has_near_neighbour` (the
flying-pixel test of the support cue's top) is a window scan of the same kind.
"""
from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _window_values(img: np.ndarray, row: int, col: int, r: int, out: np.ndarray) -> int:
    """The finite values of the (2r + 1)^2 window around (row, col), sorted into ``out``; returns how many."""
    h, w = img.shape
    k = 0
    for i in range(max(row - r, 0), min(row + r + 1, h)):
        for j in range(max(col - r, 0), min(col + r + 1, w)):
            x = img[i, j]
            if np.isfinite(x):
                m = k  # insertion sort: a window holds at most 25 values
                while m > 0 and out[m - 1] > x:
                    out[m] = out[m - 1]
                    m -= 1
                out[m] = x
                k += 1
    return k


@_jit
def _median_of_sorted(s: np.ndarray, k: int) -> float:
    return 0.5 * (s[(k - 1) // 2] + s[k // 2])


@_jit
def window_median(img: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int, min_support: int) -> np.ndarray:
    """Median of the finite values in the ``size`` x ``size`` window around each (row, col); NaN with fewer
    than ``min_support`` of them."""
    r = size // 2
    buf = np.empty(size * size)
    out = np.empty(len(rows))
    for n in range(len(rows)):
        k = _window_values(img, rows[n], cols[n], r, buf)
        out[n] = _median_of_sorted(buf, k) if k >= min_support else np.nan
    return out


@_jit
def _window_extremes(img: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """(least, greatest) finite value in the (2r + 1)^2 window around every pixel (+inf / -inf: none), as two
    separable passes (rows, then columns)."""
    h, w = img.shape
    row_lo, row_hi = np.empty((h, w)), np.empty((h, w))
    for i in range(h):
        for j in range(w):
            lo, hi = np.inf, -np.inf
            for jj in range(max(j - r, 0), min(j + r + 1, w)):
                x = img[i, jj]
                if np.isfinite(x):
                    lo, hi = min(lo, x), max(hi, x)
            row_lo[i, j], row_hi[i, j] = lo, hi
    lo_img, hi_img = np.empty((h, w)), np.empty((h, w))
    for i in range(h):
        for j in range(w):
            lo, hi = np.inf, -np.inf
            for ii in range(max(i - r, 0), min(i + r + 1, h)):
                lo, hi = min(lo, row_lo[ii, j]), max(hi, row_hi[ii, j])
            lo_img[i, j], hi_img[i, j] = lo, hi
    return lo_img, hi_img


@_jit
def despike(timg: np.ndarray, rows: np.ndarray, cols: np.ndarray, t: np.ndarray, tol: float) -> np.ndarray:
    """Which of the ranges ``t`` at (rows, cols) of ``timg`` are more than ``tol`` from the median of the
    finite ranges in their 5x5 window (with at least 9 of them): a spike the outlier filters let through.

    The median is a window value or the mean of two, so it can only be ``tol`` away from ``t`` if the window's
    least or greatest value is: the window is sorted only then (a few percent of the pixels: depth edges,
    spikes).
    """
    lo, hi = _window_extremes(timg, 2)
    buf = np.empty(25)
    spike = np.zeros(len(rows), np.bool_)
    for n in range(len(rows)):
        row, col, tn = rows[n], cols[n], t[n]
        if hi[row, col] - tn > tol or tn - lo[row, col] > tol:
            k = _window_values(timg, row, col, 2, buf)
            if k >= 9:
                spike[n] = abs(tn - _median_of_sorted(buf, k)) > tol
    return spike


@_jit
def _front_range(timg: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
    h, w = timg.shape
    buf = np.empty(9)
    best = np.inf
    for n in range(len(rows)):
        row, col = rows[n], cols[n]
        # a median is at least the window's least value: windows whose least value is above the best so far
        # cannot hold the minimum and are not sorted
        low = np.inf
        for i in range(max(row - 1, 0), min(row + 2, h)):
            for j in range(max(col - 1, 0), min(col + 2, w)):
                x = timg[i, j]
                if np.isfinite(x) and x < low:
                    low = x
        if low >= best:
            continue
        k = _window_values(timg, row, col, 1, buf)
        if k >= 5:
            best = min(best, _median_of_sorted(buf, k))
    return best


def front_range(timg: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float | None:
    """Least 3x3 median (of >= 5 finite values) over the pixels (rows, cols) of ``timg``: the nearest visible
    range, robust to noise (and a 3x3 window barely rounds off a corner); None if no pixel has 5 values."""
    best = _front_range(timg, rows, cols)
    return None if best == np.inf else float(best)


@_jit
def has_near_neighbour(pts: np.ndarray, rows: np.ndarray, cols: np.ndarray, radius: int, tol: float) -> np.ndarray:
    """Which of the points ``pts`` (N x 3, at pixels (rows, cols)) have another of them within ``tol`` (metres)
    among the pixels up to ``radius`` away (the scan stops at the first: on a surface that is the next pixel)."""
    r0, c0 = rows.min() - radius, cols.min() - radius
    index = np.full((rows.max() - r0 + radius + 1, cols.max() - c0 + radius + 1), -1, np.int64)
    for n in range(len(rows)):
        index[rows[n] - r0, cols[n] - c0] = n
    tol2 = tol * tol
    near = np.zeros(len(rows), np.bool_)
    for n in range(len(rows)):
        row, col = rows[n] - r0, cols[n] - c0
        for i in range(row - radius, row + radius + 1):
            for j in range(col - radius, col + radius + 1):
                m = index[i, j]
                if m >= 0 and m != n:
                    d0, d1, d2 = pts[m, 0] - pts[n, 0], pts[m, 1] - pts[n, 1], pts[m, 2] - pts[n, 2]
                    if d0 * d0 + d1 * d1 + d2 * d2 <= tol2:
                        near[n] = True
                        break
            if near[n]:
                break
    return near

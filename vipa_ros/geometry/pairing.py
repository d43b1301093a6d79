"""Central-symmetry pairing of outline points, compiled (numba): the inner loop of :func:`centre.symmetric_centre`.

The pairing reflects every outline point through a candidate centre, projects the reflection and looks up the
nearest outline pixel, for ~1500 points, for each of up to 5 starts, for up to 10 iterations. In NumPy that was
~30 array operations per iteration and 6-10 ms per frame of Python and gather overhead on a 2-core machine,
the largest part of the node's 3D stage. Compiled, the same arithmetic is a few hundred microseconds.

The kernels repeat the NumPy version's arithmetic operation by operation (same products, same order, NumPy's
"linear" percentile), so they give the same centres up to the order of one summation (the mean of the
deepest midpoints). They are compiled on first use and cached on disk (``cache=True``);
:func:`~vipa_ros.geometry.pose.warm_up` loads them ahead of the first frame.
"""
from __future__ import annotations

import math

import cv2
import numba
import numpy as np

# error_model "numpy": a reflection behind the camera divides by zero -> inf / NaN, as in NumPy (no exception)
_jit = numba.njit(cache=True, error_model="numpy", nogil=True)

# the 2 x 2 pixels around a query whose table entries are compared
_CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))


@_jit
def _nearest(qu: float, qv: float, table: np.ndarray, u0: int, v0: int, u: np.ndarray, v: np.ndarray,
             tol2: float) -> int:
    """Index of the outline pixel nearest to (qu, qv) among the table entries of the four pixels around it,
    or -1 when it is not within sqrt(tol2) (or the query is outside the table, or NaN)."""
    h, w = table.shape
    a = np.floor(qu) - u0
    b = np.floor(qv) - v0
    if not (a >= 0 and a < w - 1 and b >= 0 and b < h - 1):  # NaN compares False
        return -1
    ia, ib = int(a), int(b)
    best, best_d2 = -1, np.inf
    for dr, dc in _CORNERS:  # row-major, the first of equals wins (np.argmin)
        k = table[ib + dr, ia + dc]
        d2 = (u[k] - qu) ** 2 + (v[k] - qv) ** 2
        if d2 < best_d2:
            best, best_d2 = k, d2
    return best if best_d2 < tol2 else -1


@_jit
def nearest_many(q: np.ndarray, table: np.ndarray, u0: int, v0: int, u: np.ndarray, v: np.ndarray,
                 tol2: float) -> np.ndarray:
    """:func:`_nearest` for N x 2 queries (u, v): indices, -1 where none."""
    out = np.empty(len(q), np.intp)
    for i in range(len(q)):
        out[i] = _nearest(q[i, 0], q[i, 1], table, u0, v0, u, v, tol2)
    return out


@_jit
def percentile_sorted(s: np.ndarray, q: float) -> float:
    """``np.percentile(s, q)`` of a sorted, non-empty 1-D array (NumPy's default "linear" method, its _lerp)."""
    n = len(s)
    vi = (n - 1) * (q / 100.0)
    if vi >= n - 1:
        return s[n - 1] + 0.0
    lo = int(np.floor(vi))
    a, b = s[lo], s[lo + 1]
    g = vi - lo
    d = b - a
    return b - d * (1 - g) if g >= 0.5 else a + d * g


@_jit
def _pairs(C: np.ndarray, P: np.ndarray, fx: float, fy: float, cx: float, cy: float, table: np.ndarray,
           u0: int, v0: int, u: np.ndarray, v: np.ndarray, tol2: float, mid: np.ndarray, ok: np.ndarray) -> int:
    """Pair each outline point P[i] with the outline point its reflection 2C - P[i] projects next to: fills the
    midpoints ``mid`` and ``ok`` (found a partner), returns how many did."""
    found = 0
    for i in range(len(P)):
        X, Y, Z = 2.0 * C[0] - P[i, 0], 2.0 * C[1] - P[i, 1], 2.0 * C[2] - P[i, 2]
        j = _nearest(fx * X / Z + cx, fy * Y / Z + cy, table, u0, v0, u, v, tol2)
        ok[i] = j >= 0
        if j >= 0:
            found += 1
            for k in range(3):
                mid[i, k] = 0.5 * (P[i, k] + P[j, k])
    return found


@_jit
def _centre_of_pairs(mid: np.ndarray, ok: np.ndarray, found: int, z: np.ndarray, pair_percentile: float,
                     out: np.ndarray) -> None:
    """The centre the pairs point at: range = ``pair_percentile`` of the midpoint ranges, lateral position = mean
    of the deepest third of the midpoints."""
    r = np.empty(found)
    k = 0
    for i in range(len(ok)):
        if ok[i]:
            r[k] = mid[i, 0] * z[0] + mid[i, 1] * z[1] + mid[i, 2] * z[2]
            k += 1
    s = np.sort(r)
    c = percentile_sorted(s, pair_percentile)
    third = percentile_sorted(s, 67.0)
    lat = np.zeros(3)
    n_deep = 0
    k = 0
    for i in range(len(ok)):
        if ok[i]:
            if r[k] >= third:
                n_deep += 1
                for d in range(3):
                    lat[d] += mid[i, d]
            k += 1
    for d in range(3):
        lat[d] /= n_deep
    lz = lat[0] * z[0] + lat[1] * z[1] + lat[2] * z[2]
    for d in range(3):
        out[d] = lat[d] - lz * z[d] + c * z[d]


@_jit
def iterate_centres(starts: np.ndarray, P: np.ndarray, z: np.ndarray, fx: float, fy: float, cx: float, cy: float,
                    table: np.ndarray, u0: int, v0: int, u: np.ndarray, v: np.ndarray, tol2: float,
                    agree: float, pair_percentile: float, max_iter: int) -> tuple[int, np.ndarray]:
    """Iterate each start centre to the centre of its pairs; return (index of the winner or -1, final centres).

    A start stops when it moved < 0.1 mm, or fails when fewer than 4 points found a partner. Starts often reach
    the very same centre (the pairing is discrete), so each distinct centre's step is computed once. The winner
    has the most pair midpoints within ``agree`` metres of it (the first of equals).
    """
    S, n = len(starts), len(P)
    C = starts.copy()
    active = np.ones(S, np.bool_)
    failed = np.zeros(S, np.bool_)
    mid = np.zeros((n, 3))
    ok = np.zeros(n, np.bool_)
    memo_in = np.empty((S * max_iter, 3))
    memo_out = np.empty((S * max_iter, 3))
    memo_lost = np.zeros(S * max_iter, np.bool_)
    n_memo = 0
    nxt = np.empty(3)
    for _ in range(max_iter):
        if not active.any():
            break
        for s in range(S):
            if not active[s]:
                continue
            m = -1
            for e in range(n_memo):
                if memo_in[e, 0] == C[s, 0] and memo_in[e, 1] == C[s, 1] and memo_in[e, 2] == C[s, 2]:
                    m = e
                    break
            if m < 0:
                found = _pairs(C[s], P, fx, fy, cx, cy, table, u0, v0, u, v, tol2, mid, ok)
                m = n_memo
                n_memo += 1
                memo_in[m] = C[s]
                memo_lost[m] = found < 4
                if found >= 4:
                    _centre_of_pairs(mid, ok, found, z, pair_percentile, nxt)
                    memo_out[m] = nxt
                else:
                    memo_out[m] = C[s]
            if memo_lost[m]:
                failed[s] = True
                active[s] = False
                continue
            d0, d1, d2 = memo_out[m, 0] - C[s, 0], memo_out[m, 1] - C[s, 1], memo_out[m, 2] - C[s, 2]
            if math.sqrt(d0 * d0 + d1 * d1 + d2 * d2) < 1e-4:
                active[s] = False
            C[s] = memo_out[m]
    best, best_score = -1, -1
    for s in range(S):
        if failed[s]:
            continue
        found = _pairs(C[s], P, fx, fy, cx, cy, table, u0, v0, u, v, tol2, mid, ok)
        if found < 4:
            continue
        score = 0
        for i in range(n):
            if ok[i]:
                d0, d1, d2 = mid[i, 0] - C[s, 0], mid[i, 1] - C[s, 1], mid[i, 2] - C[s, 2]
                if math.sqrt(d0 * d0 + d1 * d1 + d2 * d2) <= agree:
                    score += 1
        if score > best_score:
            best, best_score = s, score
    return best, C


class OutlineLookup:
    """Nearest outline pixel within ``tol`` pixels of query points, from a table over the pixel grid.

    The symmetric pairing asks about ~1500 points per iteration, which a table answers several times faster
    than a k-d tree. The table holds, for every pixel of the outline's bounding box widened by ``tol`` + 2, the
    outline pixel nearest to it (OpenCV's distance transform with pixel labels). A query takes the nearest of
    the entries of the four pixels around it: that is its own nearest outline pixel except in rare near-ties
    (0.1 % of queries in tests, never more than 0.2 px farther than the nearest). Found means the chosen pixel
    lies within ``tol`` of the query.
    """

    def __init__(self, u: np.ndarray, v: np.ndarray, tol: float) -> None:
        self.u, self.v = np.ascontiguousarray(u, np.float64), np.ascontiguousarray(v, np.float64)
        self.tol2 = tol * tol
        r = math.ceil(tol) + 2
        ui, vi = self.u.astype(np.intp), self.v.astype(np.intp)  # outline pixels are integers
        self.u0, self.v0 = int(ui.min()) - r, int(vi.min()) - r  # table pixel (0, 0)
        free = np.ones((int(vi.max()) - self.v0 + r + 1, int(ui.max()) - self.u0 + r + 1), np.uint8)
        free[vi - self.v0, ui - self.u0] = 0
        _, labels = cv2.distanceTransformWithLabels(free, cv2.DIST_L2, cv2.DIST_MASK_5,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
        # DIST_LABEL_PIXEL numbers the zero pixels 1, 2, ... in row-major order: map those labels to indices
        order = np.zeros(free.shape, np.intp)
        order[vi - self.v0, ui - self.u0] = np.arange(len(self.u))
        self.table = np.concatenate([[0], order[free == 0]])[labels]

    def nearest(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, index) for N x 2 points (u, v): whether an outline pixel lies within ``tol``, and the
        nearest one's index (0 where none does)."""
        index = nearest_many(np.ascontiguousarray(q, np.float64), self.table, self.u0, self.v0, self.u, self.v,
                             self.tol2)
        found = index >= 0
        return found, np.where(found, index, 0)


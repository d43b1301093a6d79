"""Referring-segmentation metrics, identical to the reference implementations.

Each sample is one (object, sentence) pair; all sentences are evaluated.
  mIoU   mean over samples of IoU = |P & G| / |P | G|
  oIoU   overall IoU = sum of intersections / sum of unions (cumulative over samples)
  P@t    fraction of samples with IoU >= t, t in 0.5, 0.6, 0.7, 0.8, 0.9

Protocol "lavt" (default; LAVT-RIS test.py, also CrossVLT): IoU = I / U, and IoU = 0 when U = 0 (an empty
prediction of an empty ground truth counts as a miss); precision uses IoU >= t.
Protocol "cris" (CRIS.pytorch engine.validate/inference): IoU = I / (U + 1e-6), so also 0 when both are empty;
precision uses IoU > t with float32 thresholds torch.arange(0.5, 1.0, 0.1); CRIS does not report oIoU (we still
compute it the LAVT way). Neither reference benchmark has empty ground truths (every RefCOCO target is visible),
so the empty case only matters for custom data; `empty_iou=1.0` scores a correct empty prediction as a hit.

Values are fractions in [0, 1] (papers print them x 100). Resolution is the caller's choice: LAVT compares at the
model's input size, CRIS warps predictions back to the original image (RefSegDataset gives `orig_mask` and
`inverse` for that).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

import numpy as np

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
# float32 values of torch.arange(0.5, 1.0, 0.1), as CRIS compares against them
_CRIS_THRESHOLDS = tuple(float(np.float32(0.5) + np.float32(0.1) * np.float32(i)) for i in range(5))


def _as_bool(x: Any) -> np.ndarray:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency, metrics work without it
        pass
    a = np.asarray(x)
    return a if a.dtype == bool else a > 0.5 if a.dtype.kind == "f" else a != 0


def intersection_union(pred: Any, gt: Any) -> tuple[int, int]:
    """|P & G| and |P | G| of two binary masks of the same shape (bool, 0/1 ints or probabilities > 0.5)."""
    p, g = _as_bool(pred), _as_bool(gt)
    if p.shape != g.shape:
        raise ValueError(f"prediction {p.shape} and ground truth {g.shape} differ in shape")
    return int(np.logical_and(p, g).sum()), int(np.logical_or(p, g).sum())


def sample_iou(intersection: int, union: int, protocol: str = "lavt", empty_iou: float = 0.0) -> float:
    if union == 0:
        return float(empty_iou)
    if protocol == "cris":
        return float(intersection / (union + 1e-6))
    return float(intersection / union)


class _Acc:
    __slots__ = ("ious", "inter", "union")

    def __init__(self) -> None:
        self.ious: list[float] = []
        self.inter = 0
        self.union = 0

    def add(self, iou: float, i: int, u: int) -> None:
        self.ious.append(iou)
        self.inter += i
        self.union += u


class RefSegMetrics:
    """Accumulates per-sample IoUs; `summary()` gives overall and per-group (e.g. sentence type) results.

        m = RefSegMetrics()
        m.update(pred_masks, gt_masks, groups=batch["sent_type"])   # N x H x W, or H x W for one sample
        m.summary() -> {"overall": {"mIoU", "oIoU", "P@0.5", ..., "n"}, "groups": {"colour": {...}, ...}}
    """

    def __init__(self, thresholds: Iterable[float] = THRESHOLDS, protocol: str = "lavt", empty_iou: float = 0.0):
        if protocol not in ("lavt", "cris"):
            raise ValueError("protocol must be 'lavt' or 'cris'")
        self.thresholds = tuple(float(t) for t in thresholds)
        self.protocol = protocol
        self.empty_iou = float(empty_iou)
        self.reset()

    def reset(self) -> None:
        self._all = _Acc()
        self._groups: dict[str, _Acc] = defaultdict(_Acc)

    def add(self, pred: Any, gt: Any, groups: str | Iterable[str] | None = None) -> float:
        """Add one sample; returns its IoU. `groups`: a name or several (a sample may count in many groups)."""
        i, u = intersection_union(pred, gt)
        return self.add_counts(i, u, groups)

    def add_counts(self, intersection: int, union: int, groups: str | Iterable[str] | None = None) -> float:
        iou = sample_iou(intersection, union, self.protocol, self.empty_iou)
        self._all.add(iou, intersection, union)
        if groups is not None:
            for g in ([groups] if isinstance(groups, str) else groups):
                self._groups[str(g)].add(iou, intersection, union)
        return iou

    def update(self, preds: Any, gts: Any, groups: Iterable[Any] | None = None) -> list[float]:
        """Add a batch (N x H x W) or one sample (H x W); `groups`: one entry (str or list of str) per sample."""
        p, g = _as_bool(preds), _as_bool(gts)
        if p.ndim == 2:  # one sample: `groups` is its group name(s)
            return [self.add(p, g, groups)]
        groups = [None] * len(p) if groups is None else list(groups)
        if len(groups) != len(p):
            raise ValueError("one group entry per sample")
        return [self.add(pi, gi, gr) for pi, gi, gr in zip(p, g, groups)]

    def _precision(self, ious: np.ndarray) -> dict[str, float]:
        out = {}
        for t in self.thresholds:
            if self.protocol == "cris":
                tc = next((c for c in _CRIS_THRESHOLDS if abs(c - t) < 1e-6), t)
                hit = ious > tc
            else:
                hit = ious >= t
            out[f"P@{t:g}"] = float(hit.mean()) if len(ious) else 0.0
        return out

    def _result(self, acc: _Acc) -> dict[str, float]:
        ious = np.asarray(acc.ious, dtype=np.float64)
        res = {"mIoU": float(ious.mean()) if len(ious) else 0.0,
               "oIoU": float(acc.inter / acc.union) if acc.union else 0.0}
        res.update(self._precision(ious))
        res["n"] = len(ious)
        return res

    def summary(self) -> dict[str, Any]:
        return {"overall": self._result(self._all),
                "groups": {g: self._result(a) for g, a in sorted(self._groups.items())}}

    @property
    def ious(self) -> np.ndarray:
        return np.asarray(self._all.ious, dtype=np.float64)


def compute_metrics(preds: Iterable[Any], gts: Iterable[Any], groups: Iterable[Any] | None = None,
                    **kwargs: Any) -> dict[str, Any]:
    """One-shot metrics over paired masks (masks may differ in size between samples)."""
    m = RefSegMetrics(**kwargs)
    preds, gts = list(preds), list(gts)
    if len(preds) != len(gts):
        raise ValueError("as many predictions as ground truths")
    group_list = [None] * len(preds) if groups is None else list(groups)
    for p, g, gr in zip(preds, gts, group_list):
        m.add(p, g, gr)
    return m.summary()


def format_metrics(result: dict[str, Any], percent: bool = True) -> str:
    """A small table: overall then per-group rows."""
    scale = 100.0 if percent else 1.0
    keys = [k for k in result["overall"] if k != "n"]
    lines = [f"{'group':<14}" + "".join(f"{k:>9}" for k in keys) + f"{'n':>8}"]
    rows = [("overall", result["overall"])] + list(result.get("groups", {}).items())
    for name, r in rows:
        lines.append(f"{name:<14}" + "".join(f"{r[k] * scale:>9.2f}" for k in keys) + f"{r['n']:>8d}")
    return "\n".join(lines)

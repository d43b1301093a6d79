"""Probability map -> ranked object instances (connected components), all in numpy/OpenCV."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class InstanceMask:
    """One candidate region for the expression; `mask` is full image size."""

    id: int
    score: float
    mask: np.ndarray  # bool H x W
    bbox: tuple[int, int, int, int]  # x, y, width, height
    area: int


@dataclass(frozen=True)
class InstanceParams:
    mask_threshold: float = 0.5
    score_threshold: float = 0.5
    min_instance_area_px: int = 100
    max_instances: int = 5


def extract_instances(probability: np.ndarray, params: InstanceParams,
                      image_shape: tuple[int, int] | None = None) -> list[InstanceMask]:
    """Connected components of `probability > mask_threshold`, ranked by score, best first, with masks at
    `image_shape` (default: the map's own size).

    Components are found at the map's resolution (the model's output, e.g. 80 x 80) and only the kept ones are
    upsampled, each within its own box: thresholding a full-size upsampled map costs ~10x more for the same
    masks. The score of a component is its mean probability: a large confident region beats a small fringe of
    a confident one, and a uniformly lukewarm map (the expression names nothing) stays below score_threshold.
    Components smaller than min_instance_area_px (at image size) are noise from thresholding and are dropped.
    """
    probability = np.asarray(probability, np.float32)
    shape = tuple(image_shape) if image_shape is not None else probability.shape
    binary = (probability > params.mask_threshold).astype(np.uint8)
    # labels only (with stats, OpenCV takes 10x longer); areas, scores and boxes from the foreground pixels
    count, labels = cv2.connectedComponents(binary, connectivity=8)
    flat = labels.ravel()
    fg = np.flatnonzero(flat)
    fg_labels = flat[fg]
    areas = np.bincount(fg_labels, minlength=count)
    scores = np.bincount(fg_labels, weights=probability.ravel()[fg], minlength=count) / np.maximum(areas, 1)
    order = sorted(range(1, count), key=lambda label: (scores[label], areas[label]), reverse=True)
    instances: list[InstanceMask] = []
    for label in order:
        if len(instances) == params.max_instances or scores[label] < params.score_threshold:
            break
        rows, cols = np.divmod(fg[fg_labels == label], labels.shape[1])
        box = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
        mask, bbox = _component_mask(probability, labels, label, box, shape, params.mask_threshold)
        area = int(np.count_nonzero(mask))
        if area >= max(params.min_instance_area_px, 1):
            instances.append(InstanceMask(id=len(instances) + 1, score=float(scores[label]), mask=mask, bbox=bbox,
                                          area=area))
    return instances


def _component_mask(probability: np.ndarray, labels: np.ndarray, label: int, box: tuple[int, int, int, int],
                    shape: tuple[int, int], threshold: float) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Full-size bool mask and tight (x, y, w, h) box of one component: the map bilinearly upsampled (pixel
    centres aligned as in cv2.resize) over the component's box (x0, y0, x1, y1: map pixels, end exclusive) plus
    one map pixel, other components zeroed."""
    h, w = probability.shape
    H, W = shape
    x0, y0, x1, y1 = box
    rows = _full_range(y0 - 1, y1, h, H)
    cols = _full_range(x0 - 1, x1, w, W)
    ys, xs = _sample_coords(rows, h, H), _sample_coords(cols, w, W)
    iy, ix = np.floor(ys).astype(np.intp), np.floor(xs).astype(np.intp)
    fy, fx = (ys - iy)[:, None], (xs - ix)[None, :]
    iy1, ix1 = np.minimum(iy + 1, h - 1), np.minimum(ix + 1, w - 1)
    # only the map pixels these samples read, with other components zeroed
    ry, rx = slice(int(iy[0]), int(iy1[-1]) + 1), slice(int(ix[0]), int(ix1[-1]) + 1)
    sub_labels = labels[ry, rx]
    own = np.where((sub_labels == label) | (sub_labels == 0), probability[ry, rx], 0.0)
    iy, iy1, ix, ix1 = iy - ry.start, iy1 - ry.start, ix - rx.start, ix1 - rx.start
    top = own[iy][:, ix] * (1 - fx) + own[iy][:, ix1] * fx
    bottom = own[iy1][:, ix] * (1 - fx) + own[iy1][:, ix1] * fx
    region = (top * (1 - fy) + bottom * fy) > threshold
    mask = np.zeros(shape, bool)
    mask[rows.start:rows.stop, cols.start:cols.stop] = region
    r = np.flatnonzero(region.any(axis=1))
    c = np.flatnonzero(region.any(axis=0))
    if r.size == 0:
        return mask, (0, 0, 0, 0)
    return mask, (cols.start + int(c[0]), rows.start + int(r[0]), int(c[-1] - c[0] + 1), int(r[-1] - r[0] + 1))


def _full_range(lo: int, hi: int, n: int, N: int) -> range:
    """Full-size pixels whose sample position lies within map pixels [lo, hi] (cv2.resize's centre mapping)."""
    scale = N / n
    start = max(0, int(np.floor((lo + 0.5) * scale - 0.5)))
    stop = min(N, int(np.ceil((hi + 0.5) * scale - 0.5)) + 1)
    return range(start, stop)


def _sample_coords(pixels: range, n: int, N: int) -> np.ndarray:
    return np.clip((np.arange(pixels.start, pixels.stop) + 0.5) * (n / N) - 0.5, 0.0, n - 1)


def instance_id_image(instances: list[InstanceMask], shape: tuple[int, int]) -> np.ndarray:
    """uint16 image with each instance's id on its pixels (0 = background); better-ranked instances win overlaps."""
    ids = np.zeros(shape, np.uint16)
    for inst in reversed(instances):
        ids[inst.mask] = inst.id
    return ids

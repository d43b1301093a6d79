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


def extract_instances(probability: np.ndarray, params: InstanceParams) -> list[InstanceMask]:
    """Connected components of `probability > mask_threshold`, ranked by score, best first.

    The score of a component is its mean probability: a large confident region beats a small fringe of a
    confident one, and a uniformly lukewarm map (the expression names nothing) stays below score_threshold.
    Components smaller than min_instance_area_px are noise from thresholding and are dropped.
    """
    binary = (probability > params.mask_threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    areas = stats[:, cv2.CC_STAT_AREA]
    # every component's mean probability in one pass over the image (not one full-image mask per component)
    scores = np.bincount(labels.ravel(), weights=probability.ravel(), minlength=count) / np.maximum(areas, 1)
    candidates = []
    for label in range(1, count):
        area = int(areas[label])
        score = float(scores[label])
        if area < params.min_instance_area_px or score < params.score_threshold:
            continue
        x, y, w, h = (int(stats[label, k]) for k in
                      (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
        candidates.append((score, area, label, (x, y, w, h)))
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    return [InstanceMask(id=k + 1, score=s, mask=labels == label, bbox=b, area=a)
            for k, (s, a, label, b) in enumerate(candidates[: params.max_instances])]


def instance_id_image(instances: list[InstanceMask], shape: tuple[int, int]) -> np.ndarray:
    """uint16 image with each instance's id on its pixels (0 = background); better-ranked instances win overlaps."""
    ids = np.zeros(shape, np.uint16)
    for inst in reversed(instances):
        ids[inst.mask] = inst.id
    return ids

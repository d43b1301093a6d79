"""COCO segmentation <-> binary masks (pycocotools): polygons, compressed RLE, uncompressed RLE, lists of parts."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """Compressed RLE of a binary H x W mask, JSON-ready (`counts` as str)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _rle_objects(segmentation: Any, height: int, width: int) -> list[dict]:
    if isinstance(segmentation, dict):
        segmentation = [segmentation]
    if not isinstance(segmentation, (list, tuple)) or len(segmentation) == 0:
        return []
    out: list[dict] = []
    polygons = []
    for part in segmentation:
        if isinstance(part, dict):
            counts = part["counts"]
            h, w = part.get("size", [height, width])
            if isinstance(counts, list):  # uncompressed RLE
                out.extend(mask_utils.frPyObjects([part], h, w))
            else:
                out.append({"size": [h, w], "counts": counts.encode("ascii") if isinstance(counts, str) else counts})
        elif isinstance(part, (list, tuple)):
            if len(part) >= 6:  # a polygon needs >= 3 points
                polygons.append([float(v) for v in part])
        elif isinstance(part, (int, float)):  # a single flat polygon instead of a list of polygons
            polygons = [[float(v) for v in segmentation]] if len(segmentation) >= 6 else []
            break
        else:
            raise ValueError(f"unsupported segmentation part: {type(part)}")
    if polygons:
        out.extend(mask_utils.frPyObjects(polygons, height, width))
    return out


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """Binary uint8 H x W mask (union of all parts) of a COCO/RefCOCO/ReferIt segmentation."""
    rles = _rle_objects(segmentation, height, width)
    if not rles:
        return np.zeros((height, width), dtype=np.uint8)
    with warnings.catch_warnings():  # pycocotools' own NumPy 2 deprecation notice, nothing to act on here
        warnings.simplefilter("ignore", DeprecationWarning)
        m = mask_utils.decode(rles)  # H x W x N
    if m.ndim == 3:
        m = m.max(axis=2)
    if m.shape != (height, width):
        raise ValueError(f"segmentation decodes to {m.shape}, image is {(height, width)}")
    return m.astype(np.uint8)


def bbox_of(mask: np.ndarray) -> list[float]:
    """COCO [x, y, w, h] box of a binary mask (zeros when empty)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]

"""Torch Dataset over any RefCOCO-format dataset (RefCOCO/+/g, ReferIt, synthetic tabletop): one item per
(object, sentence).

Item (dict):
  image       uint8 H x W x 3 numpy array (input_size=None), else a float tensor 3 x S x S normalised with mean/std
  mask        target mask at the same size as `image` (uint8 numpy, or float tensor of 0/1)
  orig_mask   uint8 mask at the original image size (CRIS-style evaluation: warp predictions back with `inverse`)
  affine      2 x 3 float matrix mapping original pixel coordinates to `image` coordinates; `inverse` the reverse
  orig_size   (H, W) of the original image
  sentence, sent_type, components, ref_id, ann_id, image_id, sent_id, category_id, split,
  unseen_combo, unseen_template
  depth, K    (return_depth=True and the dataset has them) depth in metres (nearest-resized like `image`),
              intrinsics adjusted to the resized image

Resize modes: "stretch" (LAVT: squash to S x S) or "letterbox" (CRIS: keep aspect ratio, pad). Augmentation
(training only) is limited to what keeps the expression true: mild brightness/contrast/saturation jitter without
hue shifts (colour words stay valid) and a small scale/translation jitter that keeps every annotated object of
the image inside the frame (no object leaves the scene, so "leftmost", ordinals and "between" stay valid). There is
deliberately NO horizontal flip: it would swap "left" and "right".
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np

from vipa_ros.data.refer import Refer, Sample

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class SafeAugment:
    """Training augmentation that keeps referring expressions valid (see module docstring)."""

    brightness: float = 0.15       # multiplicative, 1 +- brightness
    contrast: float = 0.15
    saturation: float = 0.10
    scale: tuple[float, float] = (0.9, 1.1)
    translate: float = 0.05        # fraction of the image size
    keep_inside: float = 0.98      # every annotated object keeps this fraction of its box inside the frame
    p_geometric: float = 0.7
    p_colour: float = 0.8

    def colour(self, rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
        if rng.random() >= self.p_colour:
            return image
        img = image.astype(np.float32)
        img *= 1.0 + rng.uniform(-self.brightness, self.brightness)
        mean = img.mean()
        img = (img - mean) * (1.0 + rng.uniform(-self.contrast, self.contrast)) + mean
        gray = img.mean(axis=2, keepdims=True)
        img = (img - gray) * (1.0 + rng.uniform(-self.saturation, self.saturation)) + gray
        return np.clip(img, 0, 255).astype(np.uint8)

    def geometric(self, rng: np.random.Generator, size: tuple[int, int], boxes: list[Sequence[float]]) -> np.ndarray:
        """2 x 3 affine (original -> augmented original-size frame), identity when the jitter would push an
        annotated object out of the frame."""
        h, w = size
        identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        if rng.random() >= self.p_geometric:
            return identity
        s = rng.uniform(*self.scale)
        tx, ty = rng.uniform(-self.translate, self.translate, 2) * (w, h)
        cx, cy = (w - 1) / 2, (h - 1) / 2
        A = np.array([[s, 0.0, cx - s * cx + tx], [0.0, s, cy - s * cy + ty]])
        for x, y, bw, bh in boxes:
            if bw <= 0 or bh <= 0:
                continue
            corners = np.array([[x, y, 1], [x + bw, y + bh, 1]], dtype=np.float64) @ A.T
            x0, y0 = corners.min(0)
            x1, y1 = corners.max(0)
            inside = max(0.0, min(x1, w) - max(x0, 0)) * max(0.0, min(y1, h) - max(y0, 0))
            if inside < self.keep_inside * (x1 - x0) * (y1 - y0):
                return identity
        return A


def resize_affine(orig_hw: tuple[int, int], out_hw: tuple[int, int], mode: str) -> np.ndarray:
    """2 x 3 affine from original pixels to the model input (pixel centres map to pixel centres)."""
    h, w = orig_hw
    oh, ow = out_hw
    if mode == "stretch":
        sx, sy = ow / w, oh / h
        return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])
    if mode == "letterbox":
        s = min(ow / w, oh / h)
        dx, dy = (ow - s * w) / 2, (oh - s * h) / 2
        return np.array([[s, 0.0, dx + 0.5 * s - 0.5], [0.0, s, dy + 0.5 * s - 0.5]])
    raise ValueError(f"resize mode must be 'stretch' or 'letterbox', not {mode!r}")


def invert_affine(A: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(A, dtype=np.float64))


try:  # a real torch Dataset when torch is installed (it is a vipa_ros dependency); numpy-only use works without
    from torch.utils.data import Dataset as _Base
except ImportError:  # pragma: no cover
    _Base = object


class RefSegDataset(_Base):
    """Map-style torch Dataset over (object, sentence) samples."""

    def __init__(self, refer: Refer | str | pathlib.Path, split: str | Sequence[str] | None = "train",
                 input_size: int | tuple[int, int] | None = None, mean: Sequence[float] | None = IMAGENET_MEAN,
                 std: Sequence[float] | None = IMAGENET_STD, resize_mode: str = "stretch",
                 augment: bool | SafeAugment = False, return_depth: bool = False, max_samples: int | None = None,
                 seed: int = 0, **refer_kwargs: Any):
        self.refer = refer if isinstance(refer, Refer) else Refer(refer, **refer_kwargs)
        self.samples: list[Sample] = self.refer.samples(split)
        if max_samples is not None:
            self.samples = self.samples[:max_samples]
        if isinstance(input_size, int):
            input_size = (input_size, input_size)
        self.input_size = input_size
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.std = None if std is None else np.asarray(std, dtype=np.float32)
        self.resize_mode = resize_mode
        resize_affine((2, 2), (2, 2), resize_mode)  # validate
        self.augment = SafeAugment() if augment is True else (augment or None)
        self.return_depth = return_depth
        self.seed = seed
        self._epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draw (call once per epoch; items stay reproducible for a given epoch)."""
        self._epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def groups(self) -> list[str]:
        """Sentence type of every item (for per-type metrics)."""
        return [s.sent_type or "all" for s in self.samples]

    def __getitem__(self, index: int) -> dict[str, Any]:
        s = self.samples[index]
        image = self.refer.load_image(s.image_id)
        orig_mask = self.refer.mask(s.ann_id)
        h, w = orig_mask.shape
        if image.shape[:2] != (h, w):
            raise ValueError(f"image {s.image_id}: {image.shape[:2]} != annotation size {(h, w)}")
        depth = self.refer.load_depth(s.image_id) if self.return_depth else None
        K = self.refer.camera_K(s.image_id) if self.return_depth else None

        A = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self._epoch, index])
            boxes = [a["bbox"] for a in self.refer.imgToAnns.get(s.image_id, [])]
            A = self.augment.geometric(rng, (h, w), boxes)
            image = self.augment.colour(rng, image)
        out_hw = self.input_size or (h, w)
        if self.input_size is not None:
            A = _compose(resize_affine((h, w), out_hw, self.resize_mode), A)
        identity = np.allclose(A, [[1, 0, 0], [0, 1, 0]])
        if identity:
            img_t, mask_t = image, orig_mask
            depth_t = depth
        else:
            dsize = (out_hw[1], out_hw[0])
            img_t = cv2.warpAffine(image, A, dsize, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
            mask_t = cv2.warpAffine(orig_mask, A, dsize, flags=cv2.INTER_NEAREST, borderValue=0)
            depth_t = None if depth is None else cv2.warpAffine(depth, A, dsize, flags=cv2.INTER_NEAREST,
                                                                borderValue=0)
        item: dict[str, Any] = {
            "mask": mask_t, "orig_mask": orig_mask, "affine": A.astype(np.float32),
            "inverse": invert_affine(A).astype(np.float32), "orig_size": (h, w), "sentence": s.sentence,
            "sent_type": s.sent_type, "components": list(s.components), "ref_id": s.ref_id, "ann_id": s.ann_id,
            "image_id": s.image_id, "sent_id": s.sent_id, "category_id": s.category_id, "split": s.split,
            "unseen_combo": s.unseen_combo, "unseen_template": s.unseen_template,
        }
        if self.input_size is None:
            item["image"] = img_t
        else:
            import torch

            x = img_t.astype(np.float32) / 255.0
            if self.mean is not None and self.std is not None:
                x = (x - self.mean) / self.std
            item["image"] = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))
            item["mask"] = torch.from_numpy(mask_t.astype(np.float32))
        if depth_t is not None:
            item["depth"] = depth_t if self.input_size is None else _tensor(depth_t)
        if K is not None:
            # pixels move by A (pixel-centre convention, like OpenCV): K' = [A; 0 0 1] @ K
            item["K"] = (np.vstack([A, [0.0, 0.0, 1.0]]) @ K).astype(np.float32)
        return item


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Affine `outer` after `inner` (both 2 x 3)."""
    return (np.vstack([outer, [0, 0, 1]]) @ np.vstack([inner, [0, 0, 1]]))[:2]


def _tensor(a: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))


def collate_refseg(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack equally-shaped tensors/arrays (image, mask, depth, K, affine, inverse); keep everything else
    (original-size masks, strings, ids) as lists."""
    import torch

    out: dict[str, Any] = {}
    for key in batch[0]:
        values = [b[key] for b in batch]
        if isinstance(values[0], torch.Tensor) and all(v.shape == values[0].shape for v in values):
            out[key] = torch.stack(values)
        elif key in ("affine", "inverse", "K") and isinstance(values[0], np.ndarray):
            out[key] = torch.from_numpy(np.stack(values))
        else:
            out[key] = values
    return out

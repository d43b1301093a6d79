"""Image crops around an object: per-pixel work is done on the mask's bounding box, not on the whole frame.

An object covers a few percent of a VGA frame, so decoding, eroding, filtering and labelling only its
bounding box (plus a margin for the filters' reach) is what makes the estimator fast. A crop keeps the image's
shape so that image-border rules (an object cut by the border, erosion that must not eat into it) still refer
to the real image border, and it converts between crop and image pixel coordinates.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np


@functools.lru_cache(maxsize=None)
def disc(radius: int) -> np.ndarray:
    """OpenCV's elliptic structuring element of the given radius (cached; read-only)."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    k.flags.writeable = False
    return k


@functools.lru_cache(maxsize=None)
def square(size: int) -> np.ndarray:
    """A size x size rectangular structuring element (cached; read-only)."""
    k = np.ones((size, size), np.uint8)
    k.flags.writeable = False
    return k


@dataclass(frozen=True)
class Crop:
    """The window ``[r0:r1, c0:c1]`` of an image of shape ``image_shape`` (height, width)."""

    r0: int
    c0: int
    r1: int
    c1: int
    image_shape: tuple[int, int]

    @classmethod
    def around(cls, mask: np.ndarray, margin: int) -> "Crop":
        """Bounding box of the (whole-image) ``mask``'s pixels grown by ``margin`` pixels, clipped to the image;
        an empty crop (r0 == r1) if the mask is empty."""
        h, w = mask.shape
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            return cls(0, 0, 0, 0, (h, w))
        cols = np.flatnonzero(mask.any(axis=0))
        return cls(max(int(rows[0]) - margin, 0), max(int(cols[0]) - margin, 0),
                   min(int(rows[-1]) + 1 + margin, h), min(int(cols[-1]) + 1 + margin, w), (h, w))

    @property
    def origin(self) -> np.ndarray:
        """(row, col) of the crop's first pixel in the image: add to crop pixel coordinates."""
        return np.array([self.r0, self.c0])

    def of(self, image: np.ndarray) -> np.ndarray:
        """This crop of the (whole) ``image``: a view."""
        return image[self.r0:self.r1, self.c0:self.c1]

    def touches_border(self, m: np.ndarray) -> bool:
        """Whether the crop-shaped mask ``m`` has a pixel on the image border (only crop sides on it can)."""
        h, w = self.image_shape
        return bool((self.r0 == 0 and m[0].any()) or (self.r1 == h and m[-1].any())
                    or (self.c0 == 0 and m[:, 0].any()) or (self.c1 == w and m[:, -1].any()))

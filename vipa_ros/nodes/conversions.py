"""sensor_msgs <-> numpy conversions (the only place that knows ROS image layouts).

cv_bridge from PyPI is the ROS 1 version and breaks with NumPy 2, so images are converted with np.frombuffer,
zero-copy where the row stride allows it. Every failure raises ImageConversionError with a message fit for a log.
"""
from __future__ import annotations

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image

# encoding -> (dtype, channels)
_ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3), "bgr8": ("u1", 3), "rgba8": ("u1", 4), "bgra8": ("u1", 4), "mono8": ("u1", 1),
    "8UC1": ("u1", 1), "8UC3": ("u1", 3), "mono16": ("u2", 1), "16UC1": ("u2", 1), "32FC1": ("f4", 1),
}
COLOR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")


class ImageConversionError(ValueError):
    """A message that cannot be turned into an image (bad encoding, size, or payload)."""


def image_to_numpy(msg: Image) -> np.ndarray:
    """View an Image's payload as an H x W (x C) array in its own encoding (no colour conversion)."""
    if msg.encoding not in _ENCODINGS:
        raise ImageConversionError(f"unsupported encoding '{msg.encoding}' (supported: {', '.join(_ENCODINGS)})")
    if msg.width == 0 or msg.height == 0:
        raise ImageConversionError(f"empty image ({msg.width}x{msg.height})")
    kind, channels = _ENCODINGS[msg.encoding]
    dtype = np.dtype(kind).newbyteorder(">" if msg.is_bigendian else "<")
    row_bytes = msg.width * channels * dtype.itemsize
    if msg.step < row_bytes:
        raise ImageConversionError(f"step {msg.step} < width*channels*itemsize {row_bytes} for '{msg.encoding}'")
    data = msg.data  # array.array, bytes or memoryview: all expose the buffer protocol
    if len(data) < msg.step * msg.height:
        raise ImageConversionError(
            f"payload has {len(data)} bytes, expected step*height = {msg.step * msg.height} "
            f"({msg.width}x{msg.height} {msg.encoding})")
    rows = np.frombuffer(data, dtype=np.uint8, count=msg.step * msg.height).reshape(msg.height, msg.step)
    pixels = rows[:, :row_bytes].view(dtype)
    shape = (msg.height, msg.width) if channels == 1 else (msg.height, msg.width, channels)
    array = pixels.reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def image_to_rgb(msg: Image) -> np.ndarray:
    """Colour image message -> H x W x 3 uint8 RGB."""
    if msg.encoding not in COLOR_ENCODINGS:
        raise ImageConversionError(
            f"color image encoding '{msg.encoding}' not supported (use one of {', '.join(COLOR_ENCODINGS)})")
    return to_rgb(image_to_numpy(msg), msg.encoding)


def to_rgb(array: np.ndarray, encoding: str) -> np.ndarray:
    """Convert an array in a colour encoding to contiguous RGB uint8."""
    conversions = {"bgr8": cv2.COLOR_BGR2RGB, "rgba8": cv2.COLOR_RGBA2RGB, "bgra8": cv2.COLOR_BGRA2RGB,
                   "mono8": cv2.COLOR_GRAY2RGB}
    if encoding == "rgb8":
        return np.ascontiguousarray(array)
    return cv2.cvtColor(np.ascontiguousarray(array), conversions[encoding])


def compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    """JPEG/PNG CompressedImage -> H x W x 3 uint8 RGB."""
    if len(msg.data) == 0:
        raise ImageConversionError("empty compressed image")
    decoded = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise ImageConversionError(f"cannot decode compressed image (format '{msg.format}', {len(msg.data)} bytes)")
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def depth_to_numpy(msg: Image) -> np.ndarray:
    """Depth image message -> H x W array in its native unit (uint16 mm or float32 m)."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ImageConversionError(
            f"depth encoding '{msg.encoding}' not supported (use 16UC1 millimetres or 32FC1 metres, REP-118)")
    return image_to_numpy(msg)


def numpy_to_image(array: np.ndarray, encoding: str, header=None) -> Image:
    """H x W (x C) array -> Image with the given encoding and header."""
    msg = Image()
    if header is not None:
        msg.header = header
    array = np.ascontiguousarray(array)
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(array.strides[0])
    msg.data = array.tobytes()
    return msg

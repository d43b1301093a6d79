"""Depth image decoding: ROS depth encodings -> float32 metres with NaN for "no measurement".

REP-118 defines two depth encodings for sensor_msgs/Image:
  * ``16UC1``: unsigned millimetres, 0 = no measurement (RealSense, Azure Kinect, OAK, Orbbec drivers).
  * ``32FC1``: float metres; NaN = no measurement. REP-117 adds -inf (too close) and +inf (too far); some
    drivers also write 0. None of these is a usable distance, so all of them become NaN here.
Downstream code then only needs one invalid test (``np.isfinite``) and never sees encoding-specific sentinels.
"""
from __future__ import annotations

import math

import numpy as np

# Encodings treated as integer millimetres. ``mono16`` appears when a depth stream is re-published through
# tools that drop the depth-specific encoding; its units are still the driver's millimetres.
_INTEGER_ENCODINGS = {"16UC1", "MONO16"}
_FLOAT_ENCODINGS = {"32FC1"}

#: metres per unit used when ``depth_scale`` is "auto" (REP-118 units)
AUTO_SCALE = {"16UC1": 0.001, "32FC1": 1.0}


def infer_encoding(depth: np.ndarray, encoding: str | None = None) -> str:
    """Normalised encoding name ("16UC1" or "32FC1") from an explicit encoding or the array dtype."""
    if encoding:
        enc = encoding.strip().upper()
        if enc in _INTEGER_ENCODINGS:
            return "16UC1"
        if enc in _FLOAT_ENCODINGS:
            return "32FC1"
        raise ValueError(f"unsupported depth encoding {encoding!r}; expected 16UC1 (mm) or 32FC1 (m)")
    if np.issubdtype(depth.dtype, np.integer):
        return "16UC1"
    if np.issubdtype(depth.dtype, np.floating):
        return "32FC1"
    raise ValueError(f"cannot infer a depth encoding from dtype {depth.dtype}")


def resolve_depth_scale(encoding: str, depth_scale: float | str | None = "auto") -> float:
    """Metres per raw unit. "auto", None, "" or a value <= 0 select the REP-118 unit of ``encoding``.

    A ROS parameter cannot be None, so 0.0 (or the string "auto") is the way to ask for auto there.
    """
    if depth_scale is None or (isinstance(depth_scale, str) and depth_scale.strip().lower() in ("", "auto")):
        return AUTO_SCALE[encoding]
    scale = float(depth_scale)
    if not math.isfinite(scale):
        raise ValueError(f"depth_scale must be finite, got {depth_scale!r}")
    return AUTO_SCALE[encoding] if scale <= 0.0 else scale


def decode_depth(depth: np.ndarray, encoding: str | None = None, depth_scale: float | str | None = "auto",
                 min_depth: float = 0.0, max_depth: float = math.inf) -> np.ndarray:
    """Raw depth image -> HxW float32 metres, NaN where there is no usable measurement.

    ``encoding`` ("16UC1", "32FC1", "mono16") is inferred from the dtype when omitted (integer -> 16UC1,
    float -> 32FC1). Values outside [min_depth, max_depth] (metres, after scaling) become NaN as well: the
    sensor's reliable range, and a way to cut the far background.
    """
    arr = np.asarray(depth)
    if arr.ndim == 3 and arr.shape[2] == 1:  # (H, W, 1) from cv_bridge-like conversions
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise ValueError(f"depth must be HxW, got shape {arr.shape}")
    enc = infer_encoding(arr, encoding)
    scale = resolve_depth_scale(enc, depth_scale)
    if enc == "16UC1":
        invalid = arr == 0  # REP-118: 0 = no return
        out = arr.astype(np.float32) * np.float32(scale)
    else:
        out = arr.astype(np.float32) * np.float32(scale)
        invalid = ~np.isfinite(out) | (out == 0.0)  # NaN, +-inf (REP-117) and 0 all mean "no measurement"
    invalid |= out <= 0.0  # a negative scale-corrected distance is never physical
    if min_depth > 0.0:
        invalid |= out < min_depth
    if math.isfinite(max_depth):
        invalid |= out > max_depth
    out[invalid] = np.nan
    return out


def encode_depth_16uc1(depth_m: np.ndarray) -> np.ndarray:
    """float metres (NaN/inf/<=0 invalid) -> uint16 millimetres with 0 = invalid (the inverse, for tests and sims)."""
    d = np.asarray(depth_m, dtype=np.float64)
    ok = np.isfinite(d) & (d > 0.0)
    mm = np.zeros(d.shape, dtype=np.uint16)
    mm[ok] = np.clip(np.rint(d[ok] * 1000.0), 1, 65535).astype(np.uint16)
    return mm

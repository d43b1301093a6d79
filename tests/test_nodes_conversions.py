"""sensor_msgs <-> numpy conversions: every supported encoding, padded rows, and clear errors on bad input."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("rclpy", reason="ROS 2 not installed: run `make setup`")

from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from vipa_ros.nodes import conversions  # noqa: E402

RGB = np.random.default_rng(1).integers(0, 255, (5, 7, 3), dtype=np.uint8)


def image(array, encoding, pad=0, bigendian=False):
    rows = array.reshape(array.shape[0], -1).view(np.uint8)
    if pad:
        rows = np.concatenate([rows, np.zeros((rows.shape[0], pad), np.uint8)], axis=1)
    return Image(height=array.shape[0], width=array.shape[1], encoding=encoding, is_bigendian=bigendian,
                 step=rows.shape[1], data=rows.tobytes())


@pytest.mark.parametrize("encoding,make", [
    ("rgb8", lambda a: a), ("bgr8", lambda a: a[..., ::-1]),
    ("rgba8", lambda a: np.dstack([a, np.full(a.shape[:2], 255, np.uint8)])),
    ("bgra8", lambda a: np.dstack([a[..., ::-1], np.zeros(a.shape[:2], np.uint8)])),
])
def test_color_encodings_convert_to_rgb_with_and_without_row_padding(encoding, make):
    for pad in (0, 3):
        out = conversions.image_to_rgb(image(np.ascontiguousarray(make(RGB)), encoding, pad))
        assert out.shape == RGB.shape and np.array_equal(out, RGB)


def test_mono8_becomes_grey_rgb():
    grey = RGB[..., 0].copy()
    out = conversions.image_to_rgb(image(grey, "mono8"))
    assert np.array_equal(out[..., 1], grey)


def test_depth_16uc1_and_32fc1_and_big_endian():
    mm = np.array([[0, 500], [1200, 65535]], np.uint16)
    assert np.array_equal(conversions.depth_to_numpy(image(mm, "16UC1")), mm)
    big = image(mm.astype(">u2"), "16UC1", bigendian=True)
    assert np.array_equal(conversions.depth_to_numpy(big), mm)
    m = np.array([[np.nan, 0.5], [1.2, 0.0]], np.float32)
    assert np.array_equal(conversions.depth_to_numpy(image(m, "32FC1")), m, equal_nan=True)


@pytest.mark.parametrize("msg,needle", [
    (Image(height=2, width=2, encoding="yuv422", step=4, data=bytes(8)), "encoding .yuv422. not supported"),
    (Image(height=0, width=0, encoding="rgb8", step=0, data=b""), "empty image"),
    (Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(20)), "payload has 20 bytes"),
    (Image(height=4, width=4, encoding="rgb8", step=5, data=bytes(80)), "step 5"),
])
def test_bad_images_raise_clear_errors(msg, needle):
    with pytest.raises(conversions.ImageConversionError, match=needle):
        conversions.image_to_rgb(msg)


def test_depth_in_a_color_encoding_is_rejected():
    with pytest.raises(conversions.ImageConversionError, match="REP-118"):
        conversions.depth_to_numpy(image(RGB, "rgb8"))


def test_compressed_png_round_trip_and_corrupt_payload():
    ok, png = cv2.imencode(".png", cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR))
    assert ok
    out = conversions.compressed_to_rgb(CompressedImage(format="png", data=png.tobytes()))
    assert np.array_equal(out, RGB)
    with pytest.raises(conversions.ImageConversionError, match="cannot decode"):
        conversions.compressed_to_rgb(CompressedImage(format="jpeg", data=b"\xff\xd8garbage" * 10))
    with pytest.raises(conversions.ImageConversionError, match="empty"):
        conversions.compressed_to_rgb(CompressedImage(format="jpeg", data=b""))


def test_numpy_to_image_round_trips():
    msg = conversions.numpy_to_image(np.arange(12, dtype=np.uint16).reshape(3, 4), "16UC1")
    assert msg.step == 8 and np.array_equal(conversions.depth_to_numpy(msg), np.arange(12).reshape(3, 4))

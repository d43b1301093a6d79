"""Depth decoding (REP-118 encodings), intrinsics, back-projection and the point filters."""
from __future__ import annotations

import numpy as np
import pytest

from vipa_ros.geometry import (CameraIntrinsics, backproject_mask, decode_depth, encode_depth_16uc1, erode_mask,
                               infer_encoding, reject_outliers, resolve_depth_scale, select_target_points)


# --- depth decoding -----------------------------------------------------------------------------------------

def test_16uc1_millimetres_with_zero_invalid():
    raw = np.array([[0, 1000], [1234, 65535]], dtype=np.uint16)
    out = decode_depth(raw)
    assert out.dtype == np.float32
    assert np.isnan(out[0, 0])
    np.testing.assert_allclose(out[[0, 1, 1], [1, 0, 1]], [1.0, 1.234, 65.535], rtol=1e-6)


def test_32fc1_metres_with_nan_inf_zero_negative_invalid():
    raw = np.array([[np.nan, np.inf, -np.inf], [0.0, -0.5, 0.75]], dtype=np.float32)
    out = decode_depth(raw)
    assert np.isnan(out).sum() == 5
    assert out[1, 2] == pytest.approx(0.75)


def test_encoding_inference_and_explicit_names():
    assert infer_encoding(np.zeros(1, np.uint16)) == "16UC1"
    assert infer_encoding(np.zeros(1, np.float32)) == "32FC1"
    assert infer_encoding(np.zeros(1, np.float64)) == "32FC1"
    assert infer_encoding(np.zeros(1, np.uint16), "mono16") == "16UC1"
    assert infer_encoding(np.zeros(1, np.float32), "32fc1") == "32FC1"
    with pytest.raises(ValueError):
        infer_encoding(np.zeros(1, np.uint8), "rgb8")
    with pytest.raises(ValueError):
        infer_encoding(np.zeros(1, bool))


@pytest.mark.parametrize("scale", ["auto", None, 0.0, -1.0, "", "AUTO"])
def test_auto_depth_scale(scale):
    assert resolve_depth_scale("16UC1", scale) == 0.001
    assert resolve_depth_scale("32FC1", scale) == 1.0


def test_explicit_depth_scale_and_clipping():
    raw = np.array([[100, 2000, 30000]], dtype=np.uint16)
    # e.g. a sensor publishing 16UC1 in units of 0.1 mm
    np.testing.assert_allclose(decode_depth(raw, depth_scale=0.0001), [[0.01, 0.2, 3.0]], rtol=1e-6)
    clipped = decode_depth(raw, min_depth=0.5, max_depth=10.0)  # 0.1 m and 30 m are outside
    assert np.isnan(clipped[0, 0]) and np.isnan(clipped[0, 2]) and clipped[0, 1] == pytest.approx(2.0)
    with pytest.raises(ValueError):
        resolve_depth_scale("16UC1", float("nan"))


def test_channel_dimension_and_bad_shapes():
    raw = np.full((4, 5, 1), 500, np.uint16)
    assert decode_depth(raw).shape == (4, 5)
    with pytest.raises(ValueError):
        decode_depth(np.zeros((4, 5, 3), np.uint16))


def test_16uc1_round_trip():
    metres = np.array([[0.4567, np.nan, -1.0, 0.0, 70.0]])
    mm = encode_depth_16uc1(metres)
    np.testing.assert_array_equal(mm, [[457, 0, 0, 0, 65535]])
    assert decode_depth(mm)[0, 0] == pytest.approx(0.457)


# --- intrinsics ---------------------------------------------------------------------------------------------

def test_intrinsics_from_k_and_matrix():
    k = [615.0, 0.0, 320.5, 0.0, 616.0, 240.25, 0.0, 0.0, 1.0]  # CameraInfo.k, row-major
    a = CameraIntrinsics.from_k(k, 640, 480)
    b = CameraIntrinsics.from_matrix(np.array(k).reshape(3, 3), 640, 480)
    assert a == b
    assert (a.fx, a.fy, a.cx, a.cy, a.shape) == (615.0, 616.0, 320.5, 240.25, (480, 640))
    np.testing.assert_array_equal(a.K, np.array(k).reshape(3, 3))
    with pytest.raises(ValueError):
        CameraIntrinsics.from_k([0.0] * 9)  # an uncalibrated driver's all-zero K
    with pytest.raises(ValueError):
        CameraIntrinsics.from_k(k[:8])


def test_intrinsics_scaling_maps_pixel_centres():
    K = CameraIntrinsics(600.0, 600.0, 319.5, 239.5, 640, 480)
    half = K.scaled(320, 240)
    assert (half.fx, half.fy, half.cx, half.cy) == (300.0, 300.0, 159.5, 119.5)  # centre stays the centre
    assert K.for_image(480, 640) is K
    assert K.for_image(240, 320) == half
    # a 3D point projects to corresponding pixel centres at both resolutions
    p = np.array([[0.1, -0.05, 0.8]])
    uv, uv_half = K.project(p)[0], half.project(p)[0]
    np.testing.assert_allclose((uv + 0.5) / 2 - 0.5, uv_half)
    with pytest.raises(ValueError):
        CameraIntrinsics(600.0, 600.0, 320.0, 240.0).scaled(320, 240)  # original size unknown


def test_backprojection_is_rep103_and_inverts_projection():
    K = CameraIntrinsics(500.0, 400.0, 100.0, 50.0, 200, 100)
    p = K.backproject(np.array([150.0, 100.0]), np.array([50.0, 10.0]), np.array([2.0, 1.0]))
    np.testing.assert_allclose(p[0], [0.2, 0.0, 2.0])          # right of centre: +x
    np.testing.assert_allclose(p[1], [0.0, -0.1, 1.0])         # above centre: -y (y is down)
    np.testing.assert_allclose(K.project(p), [[150.0, 50.0], [100.0, 10.0]])


def test_backproject_mask_skips_invalid_depth():
    K = CameraIntrinsics(100.0, 100.0, 1.5, 1.5, 4, 4)
    depth = np.full((4, 4), 1.0, np.float32)
    depth[0, 0] = np.nan
    mask = np.zeros((4, 4), bool)
    mask[0, :2] = True
    pts, pix = backproject_mask(mask, depth, K)
    np.testing.assert_array_equal(pix, [[0, 1]])
    np.testing.assert_allclose(pts, [[-0.005, -0.015, 1.0]])


# --- robust target points -----------------------------------------------------------------------------------

def test_erosion_and_its_fallback_for_thin_masks():
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    assert erode_mask(mask, 2).sum() == 36  # 10x10 -> 6x6
    thin = np.zeros((20, 20), bool)
    thin[10, 2:18] = True
    assert not erode_mask(thin, 1).any()
    K = CameraIntrinsics(100.0, 100.0, 9.5, 9.5, 20, 20)
    tp = select_target_points(thin, np.full((20, 20), 0.5, np.float32), K, mask_erode_px=2, min_valid_points=5)
    assert tp.ok and tp.count == 16 and not tp.eroded  # fell back to the whole mask
    # an object cut by the image border is not eroded from the border side
    edge = np.zeros((20, 20), bool)
    edge[:, :4] = True
    assert erode_mask(edge, 1)[:, 0].all()


def test_outlier_rejection_keeps_a_skewed_object_and_drops_background():
    rng = np.random.default_rng(0)
    top = rng.uniform([-0.03, -0.03, 0.55], [0.03, 0.03, 0.58], (700, 3))    # big face near the camera
    side = rng.uniform([-0.03, 0.03, 0.58], [0.03, 0.04, 0.65], (250, 3))    # strip of side reaching back 7 cm
    obj = np.vstack([top, side])
    z = obj[:, 2]
    mad = 1.4826 * np.median(np.abs(z - np.median(z)))
    assert np.mean(np.abs(z - np.median(z)) <= 3.5 * mad) < 0.95  # a median +- 3.5 MAD band would cut 10 %
    background = rng.uniform([-0.03, -0.03, 0.9], [0.03, 0.03, 1.2], (40, 3))
    stray = np.array([[0.3, 0.0, 0.56]])                                       # at object range, far to the side
    keep, removed = reject_outliers(np.vstack([obj, background, stray]))
    assert keep[:950].all()
    assert not keep[950:].any()
    assert removed["depth"] == 40 and removed["distance"] == 1


def test_target_points_failure_reasons():
    K = CameraIntrinsics(100.0, 100.0, 9.5, 9.5, 20, 20)
    mask = np.zeros((20, 20), bool)
    assert select_target_points(mask, np.ones((20, 20), np.float32), K).reason == "empty mask"
    mask[5:15, 5:15] = True
    none = select_target_points(mask, np.full((20, 20), np.nan, np.float32), K)
    assert not none.ok and "no valid depth" in none.reason
    depth = np.full((20, 20), np.nan, np.float32)
    depth[7:10, 7:10] = 0.5
    few = select_target_points(mask, depth, K, min_valid_points=30)
    assert not few.ok and few.count == 9 and "min_valid_points=30" in few.reason

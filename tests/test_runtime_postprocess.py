"""Probability map -> ranked instances."""
from __future__ import annotations

import numpy as np
import pytest

from vipa_ros.runtime.postprocess import InstanceParams, extract_instances, instance_id_image


def blob(shape, y0, y1, x0, x1, value, prob=None):
    prob = np.zeros(shape, np.float32) if prob is None else prob
    prob[y0:y1, x0:x1] = value
    return prob


def test_instances_are_ranked_by_mean_probability_and_small_ones_dropped():
    prob = blob((100, 120), 10, 40, 10, 40, 0.7)
    prob = blob(prob.shape, 50, 90, 60, 110, 0.95, prob)
    prob = blob(prob.shape, 0, 5, 115, 120, 0.99, prob)  # 25 px speck: below min area
    instances = extract_instances(prob, InstanceParams(min_instance_area_px=50))
    assert [i.id for i in instances] == [1, 2]
    assert instances[0].bbox == (60, 50, 50, 40) and instances[0].area == 2000
    assert abs(instances[0].score - 0.95) < 1e-6 and abs(instances[1].score - 0.7) < 1e-6
    assert instances[1].mask.sum() == 900


def test_low_scores_give_no_target_and_max_instances_caps_the_list():
    prob = blob((64, 64), 0, 20, 0, 20, 0.55)
    assert extract_instances(prob, InstanceParams(score_threshold=0.6, min_instance_area_px=10)) == []
    for k in range(4):
        prob = blob(prob.shape, 30, 40, 2 + 15 * k, 12 + 15 * k, 0.9 - 0.05 * k, prob)
    out = extract_instances(prob, InstanceParams(score_threshold=0.5, min_instance_area_px=10, max_instances=3))
    assert len(out) == 3 and out[0].score > out[1].score > out[2].score


def test_instance_id_image_gives_the_better_ranked_instance_overlapping_pixels():
    prob = blob((50, 50), 5, 20, 5, 20, 0.9)
    prob = blob(prob.shape, 30, 45, 30, 45, 0.8, prob)
    instances = extract_instances(prob, InstanceParams(min_instance_area_px=10))
    instances[1].mask[5:20, 5:20] = True  # force an overlap
    ids = instance_id_image(instances, prob.shape)
    assert ids.dtype == np.uint16 and ids[10, 10] == 1 and ids[40, 40] == 2 and ids[0, 0] == 0


def test_masks_at_image_size_equal_thresholding_the_upsampled_map():
    """Components are found on the model-resolution map and upsampled one box at a time; the masks must be the
    ones thresholding the whole map upsampled with cv2.resize gives (the slow way), pixel for pixel."""
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    for _ in range(10):
        low = cv2.GaussianBlur(rng.random((80, 80)).astype(np.float32), (0, 0), 4)
        low = (low - low.min()) / (low.max() - low.min())
        params = InstanceParams(mask_threshold=0.6, score_threshold=0.0, min_instance_area_px=1, max_instances=99)
        instances = extract_instances(low, params, (480, 640))
        expected = cv2.resize(low, (640, 480), interpolation=cv2.INTER_LINEAR) > 0.6
        union = np.zeros_like(expected)
        for inst in instances:
            assert not (union & inst.mask).any()
            union |= inst.mask
            ys, xs = np.nonzero(inst.mask)
            assert inst.bbox == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
            assert inst.area == len(ys)
        assert len(instances) > 1 and np.array_equal(union, expected)

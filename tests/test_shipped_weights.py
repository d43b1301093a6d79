"""The shipped vipa_s weights: small, pickle-free, loadable offline, and (once trained) right on unseen scenes."""
from __future__ import annotations

import numpy as np
import pytest

from vipa_ros import resources
from vipa_ros.model import load_checkpoint
from vipa_ros.model.checkpoint import read_checkpoint_metadata

WEIGHTS = resources.weights_path("vipa_s.safetensors")
pytestmark = pytest.mark.skipif(not WEIGHTS.is_file(), reason=f"no vipa_s weights shipped ({WEIGHTS})")


def test_shipped_weights_are_small_safetensors_without_the_packaged_text_encoder():
    assert WEIGHTS.stat().st_size < 50 * 2**20
    assert WEIGHTS.read_bytes()[:8] != b"\x80\x04\x95"  # not a pickle
    meta = read_checkpoint_metadata(WEIGHTS)
    assert meta["text_encoder_included"] == "false"
    model, cfg = load_checkpoint(WEIGHTS)
    assert cfg.name == "vipa_s" and cfg.text.freeze


def test_shipped_weights_segment_a_generated_scene(torch_one_thread):
    pytest.importorskip("mujoco")
    from vipa_ros.data.tabletop.live import render_live_scene
    from vipa_ros.runtime.segmenter import Segmenter

    scene = render_live_scene(seed=2024, index=207, width=320, height=240)
    segmenter = Segmenter(weights=str(WEIGHTS), backend="torch", device="cpu")
    prob, timings = segmenter.probability(scene.rgb, "the blue cup")
    assert prob.ndim == 2 and prob.shape[0] == prob.shape[1] and np.isfinite(prob).all()  # the model's square map
    assert 0.0 <= prob.min() <= prob.max() <= 1.0 and timings["model"] > 0


def test_trained_weights_pick_the_right_object_for_several_expressions(trained_vipa_s, torch_one_thread):
    pytest.importorskip("mujoco")
    from vipa_ros.data.tabletop.live import mask_iou, render_live_scene
    from vipa_ros.runtime.segmenter import Segmenter

    segmenter = Segmenter(weights=str(trained_vipa_s), backend="torch", device="cpu")
    hits, total = 0, 0
    for index in (207, 208, 209):
        scene = render_live_scene(seed=2024, index=index)
        for obj in [o for o in scene.objects if o.referable and o.expressions][:4]:
            expression = obj.expressions[0]["sent"]
            result = segmenter.segment(scene.rgb, expression)
            total += 1
            hits += result.target is not None and mask_iou(result.target.mask, scene.mask(obj)) >= 0.5
    assert hits / total >= 0.8, f"{hits}/{total} expressions selected their object"

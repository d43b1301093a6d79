"""`vipa train` and `vipa eval` run end to end on vipa_tiny with generated tabletop data, and resume works."""
from __future__ import annotations

import json

import pytest

from vipa_ros.cli import main as vipa


@pytest.mark.slow
def test_two_step_training_then_resume_then_eval(tabletop_small, tmp_path):
    out = tmp_path / "run"
    common = ["train", "--config", "vipa_tiny", "--data", str(tabletop_small), "--out", str(out),
              "--batch-size", "2", "--workers", "0", "--val-limit", "4", "--save-every", "1",
              "--val-every", "2"]
    assert vipa(common + ["--max-steps", "2"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == [1, 2]
    assert "val_mIoU" in history[-1] and "val_mIoU" not in history[0] and "loss_total" in history[-1]
    for name in ("last.safetensors", "best.safetensors", "last_state.safetensors"):
        assert (out / name).is_file()
    assert vipa(common + ["--max-steps", "4", "--resume"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == [1, 2, 3, 4]  # continued from step 2, did not restart

    prefix = tmp_path / "report"
    assert vipa(["eval", "--weights", str(out / "last.safetensors"), "--data", str(tabletop_small),
                 "--split", "test", "--workers", "0", "--out", str(prefix), "--examples", "2"]) == 0
    report = json.loads((tmp_path / "report_eval_test.json").read_text())
    overall = report["original_resolution"]["overall"]
    assert overall["n"] == report["samples"] > 0
    assert 0.0 <= overall["mIoU"] <= 1.0 and set(overall) >= {"oIoU", "P@0.5", "P@0.9"}
    assert report["input_resolution"]["overall"]["n"] == overall["n"]
    assert (tmp_path / "report_eval_test.png").stat().st_size > 10_000


def test_freezing_vision_stages_keeps_early_layers_pretrained_and_still_trains_fusion():
    import torch

    from vipa_ros.model import build_model, load_config

    model = build_model(load_config("vipa_s"), pretrained=False)
    model.vision_encoder.freeze_stages(1)
    body = model.vision_encoder.body
    frozen = {name for name, module in body.items()
              if not any(p.requires_grad for p in module.parameters()) and any(True for _ in module.parameters())}
    assert frozen == {"conv_stem", "bn1", "blocks_0", "blocks_1"}  # everything up to the stride-4 tap
    images = torch.randn(1, 3, 64, 64)
    ids, attn = model.tokenize(["the red cup"])
    out = model(images, ids, attn, gt_masks=torch.zeros(1, 64, 64))
    out["losses"]["total"].backward()
    assert body["blocks_0"][0].conv_dw.weight.grad is None
    assert body["blocks_2"][0].conv_pw.weight.grad is not None
    assert model.fusion.stages["0"].pwam.query[0].weight.grad is not None  # fusion after the frozen stage trains

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


def test_type_balance_draws_rare_sentence_types_more_often_and_stays_resumable():
    import torch

    from vipa_ros.training.train import ResumableSampler, type_balance_weights

    types = ["combination"] * 900 + ["ordinal"] * 100
    assert type_balance_weights(types, 0.0) is None  # plain shuffle: each sample once per epoch
    assert sorted(ResumableSampler(len(types), seed=3)) == list(range(1000))

    weights = type_balance_weights(types, 1.0)  # power 1: both types equally likely
    assert torch.isclose(weights[:900].sum(), weights[900:].sum())
    sampler = ResumableSampler(len(types), seed=3, weights=weights)
    order = list(sampler)
    assert len(order) == 1000
    assert 0.4 < sum(i >= 900 for i in order) / 1000 < 0.6  # ordinals were 10 %

    half = type_balance_weights(types, 0.5)  # sqrt: 100 ** 0.5 / (900 ** 0.5 + 100 ** 0.5) = 25 %
    assert abs(half[900:].sum() / half.sum() - 0.25) < 1e-9

    sampler.set_epoch(0, start=600)  # resuming mid-epoch continues the same draw
    assert list(sampler) == order[600:]
    sampler.set_epoch(1)
    assert list(sampler) != order


def test_dataset_groups_lists_each_sample_s_sentence_type(tabletop_small):
    from vipa_ros.model import load_config
    from vipa_ros.training.data_setup import build_dataset, dataset_groups

    cfg = load_config("vipa_tiny")
    one = build_dataset([str(tabletop_small)], cfg, split="train")
    types = dataset_groups(one)
    assert len(types) == len(one) and {"colour", "spatial"} <= set(types)
    both = build_dataset([str(tabletop_small)] * 2, cfg, split="train")
    assert dataset_groups(both) == types * 2

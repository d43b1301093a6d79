"""vipa_b (the paper's Swin-B + BERT-base model) builds offline with random init and runs at 480 x 480."""
from __future__ import annotations

import pytest
import torch

from vipa_ros.model import build_model, load_config


@pytest.mark.slow
def test_vipa_b_builds_without_download_and_runs_at_480(monkeypatch) -> None:
    # Any attempt to reach the Hub would fail loudly instead of downloading.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import timm.models._builder as timm_builder

    monkeypatch.setattr(timm_builder, "load_pretrained",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("timm tried to load weights")))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # shared machine: oversubscribed OpenMP pools crawl
    try:
        cfg = load_config("vipa_b")
        torch.manual_seed(0)
        model = build_model(cfg, pretrained=True).eval()  # nothing pretrained is named: random init, offline
        assert model.vision_encoder.channels == [128, 256, 512, 1024]
        assert model.text_encoder.hidden_size == 768
        params = sum(p.numel() for p in model.parameters())
        assert 150e6 < params < 260e6  # Swin-B (~87M) + BERT-base (~110M) + heads
        ids, mask = model.tokenize(["the man in the red shirt on the left"])
        with torch.no_grad():
            out = model(torch.randn(1, 3, 480, 480), ids, mask)
        assert out["logits"].shape == (1, 1, 480, 480)
        assert torch.isfinite(out["logits"]).all()
        assert out["retrieval_mask"].shape == (1, ids.shape[1], 30 * 30)
        assert (out["retrieval_mask"].sum(-1) == 270).all()  # ceil(0.3 * 900)
    finally:
        torch.set_num_threads(threads)

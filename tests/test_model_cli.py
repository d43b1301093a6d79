"""`vipa model-info`: prints parameters per module and the image path's GFLOPs."""
from __future__ import annotations

import re

import torch

from vipa_ros import cli


def test_model_info_vipa_tiny(capsys) -> None:
    assert "model-info" in cli.SUBCOMMANDS
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert cli.main(["model-info", "vipa_tiny"]) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    counts = {m.group(1): int(m.group(2).replace(",", ""))
              for m in re.finditer(r"^(\w+)\s+([\d,]+)$", out, re.MULTILINE)}
    for module in ("vision_encoder", "text_encoder", "fusion", "veg", "decoder", "total"):
        assert counts.get(module, 0) > 0, (module, out)
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    from vipa_ros.model import build_model, load_config

    assert counts["total"] == sum(p.numel() for p in build_model(load_config("vipa_tiny"), False).parameters())
    gflops = float(re.search(r"GFLOPs at 64x64, L=20: ([\d.]+)", out).group(1))
    assert 0.001 < gflops < 1.0

"""`vipa model-info <config>`: parameters per VIPA module and GFLOPs of the image path at the input size."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="model config name (config/models/<name>.yaml) or YAML path")
    parser.add_argument("--text-len", type=int, default=0,
                        help="text length L used for the FLOP count (default: the config's text.max_len)")
    parser.add_argument("--pretrained", action="store_true",
                        help="also load the packaged pretrained weights (not needed for counting)")


def run(args: argparse.Namespace) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from vipa_ros.model import build_model, load_config

    cfg = load_config(args.config)
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=args.pretrained).eval()
    print(f"model {cfg.name}: vision {cfg.vision.backbone}, text {cfg.text.kind}, fusion {cfg.fusion.mode}, "
          f"input {cfg.input_size}x{cfg.input_size}")
    total = 0
    print(f"{'module':<16}{'parameters':>14}")
    for name, module in model.module_groups().items():
        count = sum(p.numel() for p in module.parameters())
        total += count
        print(f"{name:<16}{count:>14,}")
    assert total == sum(p.numel() for p in model.parameters()), "module groups must cover the whole model"
    print(f"{'total':<16}{total:>14,}")
    text_len = args.text_len or cfg.text.max_len
    images = torch.zeros(1, 3, cfg.input_size, cfg.input_size)
    feats = torch.zeros(1, text_len, model.text_encoder.hidden_size)
    mask = torch.ones(1, text_len, dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.forward_image(images, feats, mask)
    gflops = counter.get_total_flops() / 1e9
    print(f"image path GFLOPs at {cfg.input_size}x{cfg.input_size}, L={text_len}: {gflops:.3f} "
          f"(FLOPs = 2 x multiply-adds; torch.utils.flop_counter counts matmul/conv/attention only)")
    return 0

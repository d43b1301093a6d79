"""Evaluate a training checkpoint on the tabletop test split and install it as the shipped weights.

    python scripts/ship_weights.py runs/vipa_s_tabletop/last.safetensors --data data/tabletop_v1 [--limit N]

Writes weights/<config>.safetensors (without the packaged text encoder) with the measured test metrics in its
metadata (`test_mIoU` etc.; tests that check accuracy read it), plus weights/<config>_eval.json with the
per-expression-type table for the README.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import time

import torch

from vipa_ros.model import load_checkpoint, save_checkpoint
from vipa_ros.model.checkpoint import checkpoint_extra
from vipa_ros.training.data_setup import build_dataset
from vipa_ros.training.evaluate import evaluate
from vipa_ros.training.metrics import format_metrics

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--data", required=True)
    parser.add_argument("--limit", type=int, default=0, help="evaluate on the first N test expressions (0 = all)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--previous-steps", type=int, default=0,
                        help="training steps of the weights the run started from (`vipa train --init`), recorded "
                             "with the run's own steps as total_steps")
    args = parser.parse_args()

    model, cfg = load_checkpoint(args.checkpoint)
    model.use_channels_last()
    dataset = build_dataset([args.data], cfg, split="test", limit=args.limit)
    report = evaluate(model, dataset, batch_size=args.batch_size, device=torch.device("cpu"))
    report.pop("examples")
    overall = report["overall"]
    print(f"{cfg.name} @ {cfg.input_size}, {len(dataset)} test expressions of {args.data}:")
    print(format_metrics(report["original_resolution"]))
    source = checkpoint_extra(args.checkpoint)
    if args.previous_steps:
        source.update(previous_steps=args.previous_steps, total_steps=int(source.get("step", 0)) + args.previous_steps)
    extra = {**source, "source_checkpoint": str(args.checkpoint), "dataset": args.data, "test_expressions": len(dataset),
             "test_mIoU": overall["mIoU"], "test_oIoU": overall["oIoU"], "test_P@0.5": overall["P@0.5"],
             "evaluated": time.strftime("%Y-%m-%d")}
    out = ROOT / "weights" / f"{cfg.name}.safetensors"
    save_checkpoint(out, model, cfg, extra, include_text_encoder=False if cfg.text.freeze else None)
    (out.with_name(f"{cfg.name}_eval.json")).write_text(json.dumps({**extra, "report": report}, indent=1))
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB) and {out.with_name(cfg.name + '_eval.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

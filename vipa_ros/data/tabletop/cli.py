"""`vipa gen-tabletop`: generate the synthetic tabletop referring-segmentation dataset."""
from __future__ import annotations

import argparse
import json
import os


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output directory (created; existing files are overwritten)")
    p.add_argument("--scenes", type=int, required=True, help="number of scenes (one RGB-D image each)")
    p.add_argument("--seed", type=int, default=0, help="scene seed (scene i depends only on seed, i and its split)")
    p.add_argument("--split-seed", type=int, default=None,
                   help="seed of the train/val/test assignment (default: --seed)")
    p.add_argument("--width", type=int, default=None, help="image width (default: config image.width, 640)")
    p.add_argument("--height", type=int, default=None, help="image height (default: config image.height, 480)")
    p.add_argument("--workers", type=int, default=None, help="render processes (default: CPU count)")
    p.add_argument("--config", default=None, help="generator YAML (default: config/tabletop.yaml)")
    p.add_argument("--gl", choices=("egl", "osmesa"), default=None,
                   help="MuJoCo offscreen backend (default: $MUJOCO_GL or egl)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.gl:
        os.environ["MUJOCO_GL"] = args.gl
    from vipa_ros.data.tabletop.generate import generate_dataset

    readme = generate_dataset(args.out, args.scenes, args.seed, width=args.width, height=args.height,
                              split_seed=args.split_seed, workers=args.workers, config=args.config,
                              progress=not args.quiet, gl=args.gl)
    print(json.dumps({"out": args.out, "counts": readme["counts"], "timing": readme["timing"]}, indent=2))
    return 0

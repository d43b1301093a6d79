"""`vipa segment IMAGE --command TEXT`: segment one photo; writes the target mask and an overlay."""
from __future__ import annotations

import argparse
import json
import pathlib


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="input image (PNG/JPEG)")
    parser.add_argument("--command", required=True, help='e.g. "pick the blue cup"')
    parser.add_argument("--model", default="vipa_s")
    parser.add_argument("--weights", default="", help="checkpoint (.safetensors); default: shipped weights")
    parser.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="", help="output prefix (default: next to the image)")
    parser.add_argument("--score-threshold", type=float, default=0.5)
    parser.add_argument("--mask-threshold", type=float, default=0.5)


def run(args: argparse.Namespace) -> int:
    import cv2

    from vipa_ros.language.parser import parse_command
    from vipa_ros.runtime.overlay import draw_overlay
    from vipa_ros.runtime.postprocess import InstanceParams
    from vipa_ros.runtime.segmenter import Segmenter, SegmenterConfig

    path = pathlib.Path(args.image)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        print(f"error: cannot read image {path}")
        return 1
    parsed = parse_command(args.command)
    if parsed.error or not parsed.expression:
        print(f"error: {parsed.error or 'the command names no object'}")
        return 1
    segmenter = Segmenter(SegmenterConfig(model=args.model, weights=args.weights, backend=args.backend,
                                          device=args.device))
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    result = segmenter.segment(rgb, parsed.expression, InstanceParams(score_threshold=args.score_threshold,
                                                                      mask_threshold=args.mask_threshold))
    prefix = pathlib.Path(args.out) if args.out else path.with_suffix("")
    target = result.target
    mask = (target.mask.astype("uint8") * 255) if target is not None else (rgb[..., 0] * 0)
    cv2.imwrite(f"{prefix}_mask.png", mask)
    overlay = draw_overlay(rgb, result.instances, parsed.expression)
    cv2.imwrite(f"{prefix}_overlay.png", cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    print(json.dumps({
        "action": parsed.action, "expression": parsed.expression,
        "target": None if target is None else {"score": round(target.score, 4), "bbox_xywh": target.bbox,
                                               "area_px": target.area},
        "instances": len(result.instances), "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
        "mask": f"{prefix}_mask.png", "overlay": f"{prefix}_overlay.png", **segmenter.info}, indent=1))
    return 0

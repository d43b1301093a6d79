"""`vipa bench`: per-stage latency of the Segmenter for each backend / config / input size, as a Markdown table.

Stages: preprocess (resize + normalise), text (encode a new command; cached afterwards), model (image path),
postprocess (upsample + connected components), 3d (grasp pose from mask + depth). Median and p90 over `--runs`
after `--warmup`, on a 640x480 photo, with the hardware named. Weights only change numbers, not timings, so a
config without a trained checkpoint is timed with random weights (said in the table).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import platform
import resource
import statistics
import tempfile
import time

import numpy as np

STAGES = ("preprocess", "text", "model", "postprocess", "3d")


def hardware() -> str:
    import torch

    cpu = platform.processor() or "cpu"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {len(os.sched_getaffinity(0))} cores (torch threads: {torch.get_num_threads()})"
    if torch.cuda.is_available():
        text += f"; GPU: {torch.cuda.get_device_name(0)}"
    return text


def _percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def _weights_for(config_name: str, weights: str, size: int | None, tmp: pathlib.Path) -> tuple[str, str]:
    """A checkpoint for the config at `size`: the given/shipped weights, else random weights (timing only)."""
    from vipa_ros import resources
    from vipa_ros.model import build_model, load_checkpoint, load_config, save_checkpoint

    source = weights or str(resources.weights_path(f"{config_name}.safetensors"))
    if pathlib.Path(source).is_file():
        model, cfg = load_checkpoint(source)
        label = pathlib.Path(source).name
    else:
        cfg = load_config(config_name)
        model = build_model(cfg, pretrained=False)
        label = "random (timing only)"
    if size and size != cfg.input_size:
        cfg = dataclasses.replace(cfg, input_size=size)
    path = tmp / f"{config_name}_{cfg.input_size}.safetensors"
    save_checkpoint(path, model, cfg, include_text_encoder=True)
    return str(path), label


def bench_one(weights: str, backend: str, device: str, precision: str, runs: int, warmup: int,
              image: np.ndarray, depth: np.ndarray, cache_dir: str) -> dict:
    from vipa_ros.geometry import CameraIntrinsics, GraspParams, estimate_grasp
    from vipa_ros.runtime.postprocess import InstanceParams
    from vipa_ros.runtime.segmenter import Segmenter, SegmenterConfig

    seg = Segmenter(SegmenterConfig(weights=weights, backend=backend, device=device, precision=precision,
                                    engine_cache_dir=cache_dir))
    h, w = image.shape[:2]
    K = CameraIntrinsics.from_k([525.0, 0, w / 2, 0, 525.0, h / 2, 0, 0, 1], w, h)
    params = InstanceParams(score_threshold=0.0, min_instance_area_px=1)
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    for k in range(warmup + runs):
        t0 = time.perf_counter()
        seg._text_cache.clear()  # time a new command each run; in the node it is cached after the first frame
        seg.encode_text(f"pick the blue cup number {k}")
        text_ms = (time.perf_counter() - t0) * 1e3
        result = seg.segment(image, f"pick the blue cup number {k}", params)
        t1 = time.perf_counter()
        mask = result.target.mask if result.target is not None else np.zeros(image.shape[:2], bool)
        mask[h // 3: h // 2, w // 3: w // 2] = True  # timing needs a non-empty target whatever the weights say
        estimate_grasp(mask, depth, K, GraspParams())
        three_d = (time.perf_counter() - t1) * 1e3
        if k >= warmup:
            times["text"].append(text_ms)
            for stage in ("preprocess", "model", "postprocess"):
                times[stage].append(result.timings_ms[stage])
            times["3d"].append(three_d)
    frame = [sum(times[s][i] for s in STAGES if s != "text") for i in range(runs)]
    out = {"info": seg.info, "median": {s: statistics.median(v) for s, v in times.items()},
           "p90": {s: _percentile(v, 90) for s, v in times.items()},
           "frame_median": statistics.median(frame), "frame_p90": _percentile(frame, 90)}
    return out


def throughput(weights: str, device: str, precision: str, batch: int, runs: int) -> float:
    """Images per second of the torch image path at batch size `batch` (cached text features)."""
    import torch

    from vipa_ros.model import load_checkpoint
    from vipa_ros.runtime.backends import TorchBackend, resolve_device

    model, cfg = load_checkpoint(weights)
    dev = resolve_device(device)
    model.to(dev).eval()
    backend = TorchBackend(model, dev, precision)
    with torch.inference_mode():
        ids, mask = model.tokenize(["pick the blue cup"] * batch)
        feats, fmask = model.encode_text(ids.to(dev), mask.to(dev))
    x = np.random.default_rng(0).standard_normal((batch, 3, cfg.input_size, cfg.input_size)).astype(np.float32)
    f, m = feats.float().cpu().numpy(), fmask.cpu().numpy().astype(np.int64)
    for _ in range(3):
        backend.run(x, f, m)
    t0 = time.perf_counter()
    for _ in range(runs):
        backend.run(x, f, m)
    return batch * runs / (time.perf_counter() - t0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--configs", nargs="+", default=["vipa_s"])
    parser.add_argument("--weights", default="", help="checkpoint for a single config (default: shipped/random)")
    parser.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--sizes", nargs="+", type=int, default=[0], help="input sizes (0 = the config's)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batches", nargs="*", type=int, default=[], help="also time torch throughput at these")
    parser.add_argument("--threads", type=int, default=0, help="torch/ORT intra-op threads (0 = library default)")
    parser.add_argument("--out", default="", help="write the Markdown table here too")


def run(args: argparse.Namespace) -> int:
    import cv2
    import torch
    from skimage import data as skdata

    if args.threads:
        torch.set_num_threads(args.threads)
    image = cv2.resize(skdata.coffee(), (640, 480))  # a real photo of a cup
    depth = np.full((480, 640), 700, np.uint16)
    lines = [f"vipa bench, {time.strftime('%Y-%m-%d')}, {hardware()}", "",
             "| config | size | backend | device | precision | weights | " + " | ".join(
                 f"{s} ms" for s in STAGES) + " | frame ms (p90) |",
             "|---|---|---|---|---|---|" + "---|" * len(STAGES) + "---|"]
    extra = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = pathlib.Path(tmp_dir)
        for config_name in args.configs:
            for size in args.sizes:
                weights, label = _weights_for(config_name, args.weights, size, tmp)
                for backend in args.backends:
                    r = bench_one(weights, backend, args.device, args.precision, args.runs, args.warmup, image,
                                  depth, str(tmp / "cache"))
                    info = r["info"]
                    cells = " | ".join(f"{r['median'][s]:.1f} ({r['p90'][s]:.1f})" for s in STAGES)
                    lines.append(f"| {config_name} | {info['input_size']} | {info['backend']} | {info['device']} | "
                                 f"{info['precision']} | {label} | {cells} | "
                                 f"{r['frame_median']:.1f} ({r['frame_p90']:.1f}) |")
                    print(lines[-1], flush=True)
                for batch in args.batches:
                    ips = throughput(weights, args.device, args.precision, batch, max(3, args.runs // 5))
                    extra.append(f"- {config_name} @ {size or 'config size'}, torch, batch {batch}: "
                                 f"{ips:.1f} images/s")
    lines += ["", "Cells: median (p90) over "
              f"{args.runs} runs after {args.warmup} warm-up; text = encoding a new command (cached per command "
              "in the node); frame = preprocess + model + postprocess + 3d.",
              f"Peak resident memory of the benchmark process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
              + (f"; peak CUDA memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB"
                 if torch.cuda.is_available() else "")]
    lines += extra
    table = "\n".join(lines)
    print(table)
    if args.out:
        pathlib.Path(args.out).write_text(table + "\n")
    return 0

"""`vipa eval`: mIoU, oIoU and precision@0.5..0.9 of a checkpoint on a RefCOCO-format split.

Two protocols (VIPA_MODEL.md): at the model's input resolution (LAVT: prediction and ground truth both resized
to S x S) and at the original image resolution (CRIS: the prediction warped back to the image). Writes a JSON
report and a figure (example predictions + precision curve) and prints a table per sentence type.
"""
from __future__ import annotations

import argparse
import json
import pathlib

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from vipa_ros.training.data_setup import build_dataset, collate, sample_groups
from vipa_ros.training.metrics import RefSegMetrics, format_metrics


@torch.no_grad()
def evaluate(model, dataset, batch_size: int = 8, device="cpu", workers: int = 0, keep_examples: int = 0,
             mask_threshold: float = 0.5) -> dict:
    """Both protocols over `dataset`; `keep_examples` > 0 also returns that many (image, gt, pred) examples."""
    was_training = model.training
    model.eval()
    input_res = RefSegMetrics(protocol="lavt")
    original_res = RefSegMetrics(protocol="lavt")
    examples = []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate)
    for batch in tqdm(loader, desc="eval", leave=False, dynamic_ncols=True):
        ids, attn = model.tokenize(batch["sentence"])
        images = batch["image"].to(device, memory_format=torch.channels_last)  # see Vipa.use_channels_last
        logits = model.forward_image(images,
                                     *model.encode_text(ids.to(device), attn.to(device)))
        prob = torch.sigmoid(logits.float())[:, 0].cpu().numpy()
        gts = batch["mask"].numpy() > 0.5
        for k in range(len(prob)):
            item = {key: batch[key][k] for key in ("sent_type", "unseen_combo", "unseen_template")}
            groups = sample_groups(item)
            input_res.add(prob[k] > mask_threshold, gts[k], groups)
            h, w = batch["orig_size"][k]
            back = cv2.warpAffine(prob[k], batch["inverse"][k].numpy(), (int(w), int(h)), flags=cv2.INTER_LINEAR)
            original_res.add(back > mask_threshold, batch["orig_mask"][k] > 0, groups)
            if len(examples) < keep_examples and k == 0:
                examples.append({"image": batch["image"][k], "gt": gts[k], "prob": prob[k],
                                 "sentence": batch["sentence"][k]})
    model.train(was_training)
    result = original_res.summary()
    return {"overall": result["overall"], "groups": result["groups"], "input_resolution": input_res.summary(),
            "original_resolution": result, "examples": examples}


def save_figure(report: dict, examples: list[dict], mean, std, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(examples)
    fig = plt.figure(figsize=(3.2 * max(n, 2), 6.4))
    for k, ex in enumerate(examples):
        img = ex["image"].numpy().transpose(1, 2, 0) * np.asarray(std) + np.asarray(mean)
        img = np.clip(img, 0, 1)
        ax = fig.add_subplot(2, max(n, 2), k + 1)
        over = img.copy()
        over[ex["prob"] > 0.5] = 0.5 * over[ex["prob"] > 0.5] + 0.5 * np.array([0.0, 0.9, 0.3])
        ax.imshow(over)
        ax.contour(ex["gt"], levels=[0.5], colors="red", linewidths=0.8)
        ax.set_title(ex["sentence"][:40], fontsize=8)
        ax.axis("off")
    ax = fig.add_subplot(2, 1, 2)
    for name, res in (("original res.", report["original_resolution"]["overall"]),
                      ("input res.", report["input_resolution"]["overall"])):
        thresholds = [float(k[2:]) for k in res if k.startswith("P@")]
        ax.plot(thresholds, [res[f"P@{t:g}"] for t in thresholds], marker="o", label=name)
    ax.set_xlabel("IoU threshold")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("green: prediction, red outline: ground truth", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", required=True, help="checkpoint (.safetensors)")
    parser.add_argument("--data", required=True, nargs="+", help="dataset dirs (DIR or DIR:split_by)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=0, help="at most this many samples (0 = all)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="", help="output prefix for the JSON report and figure")
    parser.add_argument("--examples", type=int, default=6)


def run(args: argparse.Namespace) -> int:
    from vipa_ros.model import load_checkpoint

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    model, cfg = load_checkpoint(args.weights)
    model.to(device).use_channels_last()
    dataset = build_dataset(args.data, cfg, split=args.split, limit=args.limit)
    report = evaluate(model, dataset, args.batch_size, device, args.workers, keep_examples=args.examples)
    examples = report.pop("examples")
    report.update(weights=str(args.weights), data=args.data, split=args.split, samples=len(dataset),
                  config=cfg.name)
    print(f"{cfg.name} on {', '.join(args.data)} [{args.split}], {len(dataset)} expressions, original resolution:")
    print(format_metrics(report["original_resolution"]))
    print("input resolution (LAVT protocol):")
    print(format_metrics(report["input_resolution"]))
    prefix = pathlib.Path(args.out or pathlib.Path(args.weights).with_suffix(""))
    prefix.parent.mkdir(parents=True, exist_ok=True)
    json_path = pathlib.Path(f"{prefix}_eval_{args.split}.json")
    json_path.write_text(json.dumps(report, indent=1))
    fig_path = pathlib.Path(f"{prefix}_eval_{args.split}.png")
    save_figure(report, examples, cfg.mean, cfg.std, fig_path)
    print(f"wrote {json_path} and {fig_path}")
    return 0

"""`vipa train`: train a VIPA configuration on RefCOCO-format data (RefCOCO/+/g, ReferIt, the tabletop set).

Recipe (LAVT / CrossVLT lineage, VIPA_MODEL.md): AdamW, lower learning rate for the pretrained encoders,
weight decay 1e-2, polynomial decay (power 0.9), gradient clipping, AMP on CUDA, DistributedDataParallel when
started with torchrun. Writes `last.safetensors` (+ `last_state.safetensors` for --resume) and
`best.safetensors` whenever validation mIoU improves. Checkpoints are written every `save_every` steps, and
--resume continues at the exact step (mid-epoch), so long CPU runs survive being stopped.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pathlib
import time
from collections import Counter
from dataclasses import asdict, dataclass

import torch
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from vipa_ros.model import build_model, load_checkpoint, load_config, save_checkpoint
from vipa_ros.training.data_setup import build_dataset, collate, dataset_groups
from vipa_ros.training.evaluate import evaluate
from vipa_ros.training.resume import load_training_state, save_training_state

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    config: str
    data: list[str]
    out: str
    epochs: int = 40
    batch_size: int = 8
    lr: float = 1e-4  # new layers (fusion, VEG, decoder)
    lr_encoders: float = 3e-5  # pretrained vision and text encoders
    weight_decay: float = 1e-2
    grad_clip: float = 1.0
    workers: int = 2
    val_every: int = 1000  # optimizer steps between validations (and at the end)
    save_every: int = 50  # optimizer steps between last.safetensors checkpoints (CPU training is slow)
    val_limit: int = 0  # evaluate on at most this many validation samples (0 = all)
    max_steps: int = 0  # stop after this many optimizer steps (0 = epochs decide)
    warmup_steps: int = 0  # linear learning-rate warm-up protecting the pretrained encoders from the new layers
    freeze_vision_stages: int = 0  # backbone stages kept as pretrained (1: stride 2-4 layers, ~30 % faster on CPU)
    resume: bool = False
    init: str = ""  # start from these weights (safetensors) instead of the config's pretrained encoders
    amp: str = "auto"  # auto | fp16 | bf16 | off
    seed: int = 0
    device: str = "auto"
    input_size: int = 0  # train at this resolution instead of the config's (0 = config); saved in checkpoints
    # draw each sample with weight (its sentence type's count) ** -type_balance: 0 is a plain shuffle, 0.5 draws
    # rare types more often: on the tabletop set ordinals make 6 % of the draws instead of 2 %
    type_balance: float = 0.0


def _distributed() -> tuple[bool, int, int]:
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return True, torch.distributed.get_rank(), torch.distributed.get_world_size()
    return False, 0, 1


class ResumableSampler(Sampler[int]):
    """A seeded shuffle per epoch, sharded across DDP ranks, that can start part-way through the epoch.

    With `weights`, an epoch is instead `size` draws with replacement in proportion to them."""

    def __init__(self, size: int, seed: int, rank: int = 0, world: int = 1,
                 weights: torch.Tensor | None = None) -> None:
        self.size, self.seed, self.rank, self.world = size, seed, rank, world
        self.weights = weights
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def _order(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        if self.weights is None:
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.multinomial(self.weights, self.size, replacement=True, generator=generator)
        return order[self.rank::self.world].tolist()

    def __iter__(self):
        return iter(self._order()[self.start:])

    def __len__(self) -> int:
        return len(range(self.rank, self.size, self.world)) - self.start


def type_balance_weights(types: list[str], power: float) -> torch.Tensor | None:
    """Per-sample draw weights (count of the sample's type) ** -power; None for power 0 (plain shuffle)."""
    if power == 0:
        return None
    counts = Counter(types)
    return torch.tensor([counts[t] ** -power for t in types], dtype=torch.float64)


def _param_groups(model, opts: TrainOptions) -> list[dict]:
    encoder_ids = {id(p) for m in (model.vision_encoder, model.text_encoder) for p in m.parameters()}
    encoders, others = [], []
    for p in model.parameters():
        if p.requires_grad:
            (encoders if id(p) in encoder_ids else others).append(p)
    return [{"params": encoders, "lr": opts.lr_encoders}, {"params": others, "lr": opts.lr}]


def train(opts: TrainOptions) -> dict:
    distributed, rank, world = _distributed()
    torch.manual_seed(opts.seed + rank)
    out = pathlib.Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    if opts.device == "auto":
        device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(opts.device)
    state_path = out / "last_state.safetensors"
    resuming = opts.resume and state_path.is_file()
    if resuming:
        model, cfg = load_checkpoint(out / "last.safetensors")
    elif opts.init:
        model, cfg = load_checkpoint(pathlib.Path(opts.init))
    else:
        cfg = load_config(opts.config)
        model = build_model(cfg, pretrained=True)
    if opts.input_size and opts.input_size != cfg.input_size:
        # the network is resolution-agnostic: a cheaper low-resolution stage first, then fine-tune at full size
        cfg = dataclasses.replace(cfg, input_size=opts.input_size).validate()
        model.cfg = cfg
    if cfg.text.freeze:
        model.text_encoder.requires_grad_(False)
    model.to(device).use_channels_last()

    train_set = build_dataset(opts.data, cfg, split="train", augment=True)
    val_set = build_dataset(opts.data, cfg, split="val", augment=False, limit=opts.val_limit)
    sampler = ResumableSampler(len(train_set), opts.seed, rank, world,
                               type_balance_weights(dataset_groups(train_set), opts.type_balance))
    loader = DataLoader(train_set, batch_size=opts.batch_size, sampler=sampler, num_workers=opts.workers,
                        collate_fn=collate, drop_last=True, pin_memory=device.type == "cuda",
                        persistent_workers=False)
    steps_per_epoch = len(sampler) // opts.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{len(train_set)} training samples make no batch of {opts.batch_size}")
    total_steps = opts.max_steps or steps_per_epoch * opts.epochs
    optimizer = torch.optim.AdamW(_param_groups(model, opts), weight_decay=opts.weight_decay)
    # after the optimizer: frozen layers stay in its groups (AdamW skips parameters without gradients), so a run
    # can be resumed with a different number of frozen stages
    model.vision_encoder.freeze_stages(opts.freeze_vision_stages)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / (opts.warmup_steps + 1))
        * max(1.0 - step / max(total_steps, 1), 0.0) ** 0.9)
    amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(
        opts.amp, torch.float16 if opts.amp == "auto" and device.type == "cuda" else None)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    ddp_model = torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=True) if distributed else model

    step, best = 0, -1.0
    history: list[dict] = []
    if resuming:
        state = load_training_state(state_path)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        step, best = state["step"], state["best_miou"]
        history = json.loads((out / "history.json").read_text()) if (out / "history.json").is_file() else []
        if rank == 0:
            log.info("resumed from %s at step %d (best val mIoU %.4f)", out, step, best)

    def save(record: dict) -> None:
        save_checkpoint(out / "last.safetensors", model, cfg, {"step": step})
        save_training_state(state_path, {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                         "scaler": scaler.state_dict(), "step": step, "best_miou": best})
        history.append(record)
        (out / "history.json").write_text(json.dumps(history, indent=1))
        (out / "options.json").write_text(json.dumps(asdict(opts), indent=1))
        log.info("step %d: %s", step, record)

    bar = tqdm(total=total_steps, initial=step, desc="train", disable=rank != 0, dynamic_ncols=True)
    running: dict[str, float] = {}
    t_last = time.time()
    while step < total_steps:
        epoch, offset = divmod(step, steps_per_epoch)
        sampler.set_epoch(epoch, start=offset * opts.batch_size)  # resume mid-epoch where it stopped
        for part in getattr(train_set, "datasets", [train_set]):
            part.set_epoch(epoch)  # a new augmentation draw per epoch
        ddp_model.train()
        if cfg.text.freeze:
            model.text_encoder.eval()  # frozen: no dropout, it must stay identical to the shipped encoder
        for batch in loader:
            images = batch["image"].to(device, non_blocking=True, memory_format=torch.channels_last)
            masks = batch["mask"].to(device, non_blocking=True)
            # fixed text length: static shapes let oneDNN/cuDNN reuse their kernels from step to step
            ids, attn = model.text_encoder.tokenize(batch["sentence"], pad_to_max=True)
            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                outputs = ddp_model(images, ids.to(device), attn.to(device), gt_masks=masks)
            losses = outputs["losses"]
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(losses["total"]).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            for k, v in losses.items():
                value = float(v.detach())
                running[k] = 0.9 * running.get(k, value) + 0.1 * value
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()}, lr=f"{scheduler.get_last_lr()[-1]:.2e}",
                            epoch=epoch + 1)
            done = step >= total_steps
            validate = rank == 0 and (step % opts.val_every == 0 or done)
            if rank == 0 and (validate or step % opts.save_every == 0):
                record = {"step": step, "epoch": round(step / steps_per_epoch, 3),
                          "seconds": round(time.time() - t_last, 1),
                          **{f"loss_{k}": round(v, 5) for k, v in running.items()}}
                t_last = time.time()
                if validate:
                    metrics = evaluate(model, val_set, batch_size=opts.batch_size, device=device)
                    record.update({f"val_{k}": v for k, v in metrics["overall"].items()})
                    ddp_model.train()
                    if cfg.text.freeze:
                        model.text_encoder.eval()
                    if metrics["overall"]["mIoU"] > best:
                        best = metrics["overall"]["mIoU"]
                        save_checkpoint(out / "best.safetensors", model, cfg, {"step": step, "val_mIoU": best})
                save(record)
            if done:
                break
    bar.close()
    if distributed:
        torch.distributed.destroy_process_group()
    return {"best_mIoU": best, "steps": step, "history": history}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainOptions("", [], "")
    parser.add_argument("--config", required=True, help="model config name (vipa_s, vipa_b, vipa_tiny) or YAML")
    parser.add_argument("--data", required=True, nargs="+",
                        help="RefCOCO-format dataset dirs, optionally DIR:split_by (e.g. refcoco:unc)")
    parser.add_argument("--out", required=True, help="output directory for checkpoints and history")
    for name in ("epochs", "batch_size", "workers", "val_every", "save_every", "val_limit", "max_steps", "seed",
                 "input_size", "warmup_steps", "freeze_vision_stages"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    for name in ("lr", "lr_encoders", "weight_decay", "grad_clip", "type_balance"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(d, name))
    parser.add_argument("--amp", default=d.amp, choices=["auto", "fp16", "bf16", "off"])
    parser.add_argument("--device", default=d.device)
    parser.add_argument("--init", default="", help="initial weights (.safetensors)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last*.safetensors")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    opts = TrainOptions(**{k: v for k, v in vars(args).items() if k in TrainOptions.__dataclass_fields__})
    result = train(opts)
    print(json.dumps({"best_mIoU": result["best_mIoU"], "steps": result["steps"]}))
    return 0

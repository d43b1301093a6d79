"""Datasets and batches for `vipa train` / `vipa eval` from RefCOCO-format directories."""
from __future__ import annotations

from typing import Any

from torch.utils.data import ConcatDataset

from vipa_ros.data.dataset import RefSegDataset, collate_refseg


def build_dataset(data: list[str], cfg, split: str, augment: bool = False, limit: int = 0):
    """One dataset over all `data` entries ("DIR" or "DIR:split_by", e.g. refcoco:unc) at the model's input."""
    sets = []
    for spec in data:
        path, _, split_by = spec.partition(":")
        sets.append(RefSegDataset(path, split=split, input_size=cfg.input_size, mean=cfg.mean, std=cfg.std,
                                  augment=augment, max_samples=limit or None, split_by=split_by or None))
    if not any(len(s) for s in sets):
        raise ValueError(f"no '{split}' samples in {', '.join(data)}")
    return sets[0] if len(sets) == 1 else ConcatDataset(sets)


def dataset_groups(dataset) -> list[str]:
    """The sentence type of every item of a dataset :func:`build_dataset` made, without loading any image."""
    parts = dataset.datasets if isinstance(dataset, ConcatDataset) else [dataset]
    return [t for part in parts for t in part.groups()]


def sample_groups(item: dict[str, Any]) -> list[str]:
    """Groups a sample is reported under: its sentence type, plus the held-out test conditions it belongs to."""
    groups = [item.get("sent_type") or "all"]
    if item.get("unseen_combo"):
        groups.append("unseen_combo")
    if item.get("unseen_template"):
        groups.append("unseen_template")
    return groups


collate = collate_refseg

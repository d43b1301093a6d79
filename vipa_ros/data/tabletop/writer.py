"""Writes the tabletop dataset in the RefCOCO format.

DIR/
  images/NNNNNN.png        RGB
  depth/NNNNNN.png         16UC1 depth in millimetres, 0 = invalid (REP-118)
  instances.json           COCO: images (+ depth_file, K, camera), annotations (+ attributes, poses, size_m),
                           categories
  refs(tabletop).p         list of refer.py ref dicts (pickle protocol 2, plain builtins only)
  README.json              seed, counts, versions, timing
  tabletop_config.yaml     the generator configuration used
"""
from __future__ import annotations

import json
import os
import pathlib
import pickle
from typing import Any

import cv2
import numpy as np
import yaml

REFS_FILE = "refs(tabletop).p"
SPLIT_BY = "tabletop"


def image_name(image_id: int) -> str:
    return f"{image_id:06d}.png"


def depth_to_png16(depth_m: np.ndarray) -> np.ndarray:
    """Metres -> uint16 millimetres; 0 where invalid (no hit, non-finite or beyond 65.535 m)."""
    mm = np.round(np.nan_to_num(depth_m, nan=0.0, posinf=0.0, neginf=0.0) * 1000.0)
    mm[(mm <= 0) | (mm > 65535)] = 0
    return mm.astype(np.uint16)


def write_scene_images(out_dir: pathlib.Path, image_id: int, rgb: np.ndarray, depth_m: np.ndarray) -> None:
    name = image_name(image_id)
    if not cv2.imwrite(str(out_dir / "images" / name), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise OSError(f"cannot write {out_dir / 'images' / name}")
    if not cv2.imwrite(str(out_dir / "depth" / name), depth_to_png16(depth_m), [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise OSError(f"cannot write {out_dir / 'depth' / name}")


def prepare_dirs(out_dir: pathlib.Path) -> None:
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "depth").mkdir(parents=True, exist_ok=True)


def _atomic_write(path: pathlib.Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_dataset_files(out_dir: pathlib.Path, images: list[dict], annotations: list[dict], categories: list[dict],
                        refs: list[dict], readme: dict[str, Any], config_raw: dict[str, Any]) -> None:
    instances = {"info": {"description": "vipa_ros synthetic tabletop referring segmentation",
                          "version": str(readme.get("format_version", 1))},
                 "images": images, "annotations": annotations, "categories": categories}
    _atomic_write(out_dir / "instances.json", json.dumps(instances, separators=(",", ":")).encode())
    _atomic_write(out_dir / REFS_FILE, pickle.dumps(refs, protocol=2))
    _atomic_write(out_dir / "README.json", json.dumps(readme, indent=2).encode())
    _atomic_write(out_dir / "tabletop_config.yaml", yaml.safe_dump(config_raw, sort_keys=False).encode())

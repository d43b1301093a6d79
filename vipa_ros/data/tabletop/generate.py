"""Generation pipeline: split assignment, per-scene sample -> MJCF -> render -> annotate -> expressions, parallel
workers and the final RefCOCO-format files."""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing as mp
import os
import pathlib
import platform
import sys
import time
from collections import Counter
from typing import Any

import numpy as np

from vipa_ros.data.masks import bbox_of, encode_rle
from vipa_ros.data.tabletop import writer
from vipa_ros.data.tabletop.catalogue import build_catalogue
from vipa_ros.data.tabletop.config import TabletopConfig, load_config
from vipa_ros.data.tabletop.expressions import SENTENCE_TYPES, ExpressionGenerator
from vipa_ros.data.tabletop.geometry import object_geometry, projected_boxes
from vipa_ros.data.tabletop.sampling import SceneSpec, sample_scene
from vipa_ros.data.tabletop.semantics import SceneObject
from vipa_ros.data.tabletop.transforms import pose_dict

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
MAX_OBJECTS_PER_SCENE = 99  # ann_id = image_id * 100 + instance index


def assign_splits(num_scenes: int, fractions: dict[str, float], split_seed: int) -> list[str]:
    """Split of every scene index: a seeded permutation cut by the config fractions (each split gets at least one
    scene when there are enough scenes)."""
    names = list(fractions)
    counts = [int(round(fractions[n] * num_scenes)) for n in names]
    if num_scenes >= len(names):
        counts = [max(1, c) for c in counts]
    while sum(counts) > num_scenes:
        counts[int(np.argmax(counts))] -= 1
    while sum(counts) < num_scenes:
        counts[0] += 1
    order = np.random.default_rng([int(split_seed), 0x5B117]).permutation(num_scenes)
    splits = [""] * num_scenes
    start = 0
    for name, c in zip(names, counts):
        for i in order[start:start + c]:
            splits[int(i)] = name
        start += c
    return splits


@dataclasses.dataclass
class _Context:
    cfg: TabletopConfig
    out_dir: pathlib.Path
    seed: int
    width: int
    height: int
    catalogue: dict
    renderer: Any
    expressions: ExpressionGenerator


_CTX: _Context | None = None


def _init_worker(cfg_raw: dict, out_dir: str, seed: int, width: int, height: int, gl: str | None,
                 single_threaded_gl: bool = False) -> None:
    global _CTX
    if gl:
        os.environ["MUJOCO_GL"] = gl
    if single_threaded_gl:  # a spawned pool worker
        # Mesa llvmpipe rasterises with one thread per core by default; with one worker per core that
        # oversubscribes the CPU (measured: ~20% slower per scene)
        os.environ.setdefault("LP_NUM_THREADS", "1")
        # the worker only renders: skip render.py's torchvision pre-load (seconds of start-up per worker)
        os.environ.setdefault("VIPA_RENDER_ONLY", "1")
    from vipa_ros.data.tabletop.render import SceneRenderer  # imports mujoco (after MUJOCO_GL is set)

    cfg = TabletopConfig(cfg_raw)
    _CTX = _Context(cfg=cfg, out_dir=pathlib.Path(out_dir), seed=seed, width=width, height=height,
                    catalogue=build_catalogue(cfg), renderer=SceneRenderer(width, height),
                    expressions=ExpressionGenerator(cfg))


def _compile(scene: SceneSpec, catalogue: dict):
    import mujoco

    from vipa_ros.data.tabletop.mjcf import build_mjcf

    xml, assets = build_mjcf(scene, catalogue)
    model = mujoco.MjModel.from_xml_string(xml, assets)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)  # kinematics + camera and light poses
    return model, data


def render_scene(ctx: _Context, index: int, split: str) -> dict[str, Any]:
    """Sample, render and annotate one scene; writes its PNGs and returns its metadata (no ref/sent ids yet)."""
    t0 = time.perf_counter()
    cfg, cat = ctx.cfg, ctx.catalogue
    scene = sample_scene(cfg, cat, ctx.seed, index, split, ctx.width, ctx.height)
    scene.objects = scene.objects[:MAX_OBJECTS_PER_SCENE]
    model, data = _compile(scene, cat)
    geoms = object_geometry(scene, cat)
    res = ctx.renderer.render(model, data, len(scene.objects), object_boxes=projected_boxes(geoms))
    image_id = index + 1
    writer.write_scene_images(ctx.out_dir, image_id, res.rgb, res.depth)

    cam = scene.camera
    K = cam.K
    image = {
        "id": image_id, "file_name": writer.image_name(image_id), "width": ctx.width, "height": ctx.height,
        "depth_file": writer.image_name(image_id), "depth_scale": 0.001, "K": K.round(6).tolist(),
        "camera": {"K": K.round(6).tolist(), "D": [0.0] * 5, "distortion_model": "plumb_bob",
                   "width": ctx.width, "height": ctx.height, "frame": "camera_color_optical_frame",
                   "fovy_deg": round(cam.fovy, 4), "pose_world": pose_dict(cam.position, cam.R_wc)},
        "split": split, "scene_index": index,
        "scene": {"table_texture": scene.table.get("texture"), "num_lights": len(scene.lights),
                  "num_objects": len(scene.objects)},
    }
    annotations, objects = [], []
    for o, g in zip(scene.objects, geoms):
        px = int(res.visible_px[o.index])
        if px == 0:
            continue
        mask = res.instance == o.index
        ann_id = image_id * 100 + o.index
        ann = {
            "id": ann_id, "image_id": image_id, "category_id": cfg.category_id(o.category),
            "segmentation": encode_rle(mask), "area": float(px), "bbox": bbox_of(mask), "iscrowd": 0,
            "attributes": {
                "category": o.category, "colour": o.colour, "size": o.size, "rgb": [round(v, 4) for v in o.rgb],
                "scale": round(o.scale, 4), "instance_index": o.index, "visible_px": px,
                "visible_ratio": round(float(res.visible_ratio[o.index]), 4),
                "center_px": [round(float(v), 3) for v in g.center_px],
                "proj_box": [round(float(v), 2) for v in np.clip(g.proj_box, -1e5, 1e5)],
                "fwd_m": round(g.fwd_m, 5), "lat_m": round(g.lat_m, 5),
                "footprint_radius_m": round(o.footprint_radius, 5), "heldout_combo": bool(o.heldout_combo),
            },
            "pose_cam": g.pose_cam, "pose_world": g.pose_world,
            "size_m": [round(float(v), 5) for v in o.extents],
        }
        annotations.append(ann)
        # the semantics see exactly what is written (rounded values), so the files re-check identically
        objects.append(SceneObject.from_annotation(ann))
    rng = np.random.default_rng([int(ctx.seed), int(index), 0xE8])
    exprs = ctx.expressions.generate(rng, objects, split == "test", ctx.width * ctx.height)
    by_id = {a["id"]: a for a in annotations}
    targets = []
    for ann_id, lst in exprs.items():
        ann = by_id[ann_id]
        anchor_combo = any(by_id[a]["attributes"]["heldout_combo"] for e in lst for a in e.anchor_ids)
        targets.append({"ann_id": ann_id, "category_id": ann["category_id"],
                        "heldout_combo": ann["attributes"]["heldout_combo"],
                        "anchor_heldout_combo": anchor_combo,
                        "expressions": [dataclasses.asdict(e) for e in lst]})
    return {"image": image, "annotations": annotations, "targets": targets,
            "seconds": time.perf_counter() - t0}


@contextlib.contextmanager
def _main_not_reexecuted():
    """Spawned workers re-run the parent's main script unless it is import-guarded; console scripts such as the
    installed `vipa` are not. The workers need nothing from __main__, so hide its path while they start."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _work(item: tuple[int, str]) -> dict[str, Any]:
    assert _CTX is not None, "worker not initialised"
    return render_scene(_CTX, *item)


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("mujoco", "numpy", "opencv-python-headless", "pycocotools", "pybullet", "robosuite"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def generate_dataset(out_dir: str | pathlib.Path, num_scenes: int, seed: int, width: int | None = None,
                     height: int | None = None, split_seed: int | None = None, workers: int | None = None,
                     config: TabletopConfig | str | pathlib.Path | None = None, progress: bool = True,
                     gl: str | None = None) -> dict[str, Any]:
    """Generate `num_scenes` scenes into `out_dir`; returns the README dict (counts, timing)."""
    cfg = config if isinstance(config, TabletopConfig) else load_config(config)
    width = int(width or cfg.raw["image"]["width"])
    height = int(height or cfg.raw["image"]["height"])
    split_seed = seed if split_seed is None else split_seed
    out_dir = pathlib.Path(out_dir)
    writer.prepare_dirs(out_dir)
    catalogue = build_catalogue(cfg)  # fails early when assets are missing
    splits = assign_splits(num_scenes, cfg.raw["splits"], split_seed)
    items = list(enumerate(splits))
    workers = max(1, min(int(workers or os.cpu_count() or 1), num_scenes or 1))
    gl = gl or os.environ.get("MUJOCO_GL") or "egl"
    init_args = (cfg.raw, str(out_dir), int(seed), width, height, gl, workers > 1)

    from tqdm import tqdm

    t0 = time.perf_counter()
    records: list[dict[str, Any]] = []
    bar = tqdm(total=num_scenes, desc="gen-tabletop", unit="scene", disable=not progress, file=sys.stderr)
    if workers == 1:
        _init_worker(*init_args)
        try:
            for item in items:
                records.append(_work(item))
                bar.update(1)
        finally:
            _CTX.renderer.close()
    else:
        with _main_not_reexecuted():
            pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=init_args)
        with pool:
            for rec in pool.imap(_work, items, chunksize=4):
                records.append(rec)
                bar.update(1)
    bar.close()
    wall = time.perf_counter() - t0

    images, annotations, refs = [], [], []
    ref_id = sent_id = 0
    for rec in records:
        images.append(rec["image"])
        annotations.extend(rec["annotations"])
        split = rec["image"]["split"]
        for tgt in rec["targets"]:
            sentences = []
            for e in tgt["expressions"]:
                sentences.append({
                    "sent_id": sent_id, "sent": e["sent"], "raw": e["raw"], "tokens": e["tokens"],
                    "type": e["type"], "components": e["components"], "template_ids": e["template_ids"],
                    "unseen_template": e["unseen_template"],
                    "unseen_combo": bool(tgt["heldout_combo"] or any(
                        a["attributes"]["heldout_combo"] for a in rec["annotations"] if a["id"] in e["anchor_ids"])),
                    "program": e["program"],
                })
                sent_id += 1
            refs.append({
                "ref_id": ref_id, "ann_id": tgt["ann_id"], "image_id": rec["image"]["id"],
                "category_id": tgt["category_id"], "split": split, "sentences": sentences,
                "sent_ids": [s["sent_id"] for s in sentences], "file_name": rec["image"]["file_name"],
                "unseen_combo": bool(tgt["heldout_combo"]),
            })
            ref_id += 1
    categories = [{"id": cfg.category_id(n), "name": n, "supercategory": "tabletop",
                   "nouns": cfg.specific_nouns(n), "source": catalogue[n].source}
                  for n in sorted(catalogue, key=cfg.category_id)]
    readme = {
        "name": "vipa_ros synthetic tabletop", "format_version": FORMAT_VERSION, "split_by": writer.SPLIT_BY,
        "generator": "vipa gen-tabletop (vipa_ros.data.tabletop)", "seed": int(seed), "split_seed": int(split_seed),
        "width": width, "height": height, "num_scenes": num_scenes, "workers": workers, "gl_backend": gl,
        "categories": [c["name"] for c in categories],
        "missing_categories": sorted(set(cfg.categories) - set(catalogue)),
        "colours": list(cfg.colours), "heldout_combos": sorted(list(map(list, cfg.heldout_combos))),
        "config_sha256": cfg.sha256(),
        "counts": dataset_counts(images, annotations, refs),
        "timing": {"wall_s": round(wall, 2), "seconds_per_scene": round(wall / max(1, num_scenes), 4),
                   "worker_seconds_per_scene": round(float(np.mean([r["seconds"] for r in records])) if records
                                                     else 0.0, 4)},
        "versions": _versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "conventions": {
            "depth": "16UC1 PNG, millimetres along the optical axis, 0 = invalid (REP-118)",
            "camera": "K in pixels, OpenCV pixel centres; optical frame x right, y down, z forward (REP-103)",
            "pose_cam/pose_world": "position of the object's bounding-box centre (m) and orientation of the object "
                                   "frame (quaternion_wxyz and quaternion_xyzw) in the optical / world frame",
            "size_m": "bounding-box extents along the object's x, y, z axes (m)",
            "world": "origin at the centre of the table top, z up",
            "ids": "image_id = scene index + 1; ann_id = image_id * 100 + instance index",
        },
    }
    writer.write_dataset_files(out_dir, images, annotations, categories, refs, readme, cfg.raw)
    return readme


def dataset_counts(images: list[dict], annotations: list[dict], refs: list[dict]) -> dict[str, Any]:
    split_of_image = {im["id"]: im["split"] for im in images}
    out: dict[str, Any] = {}
    for split in sorted(set(split_of_image.values())):
        srefs = [r for r in refs if r["split"] == split]
        sents = [s for r in srefs for s in r["sentences"]]
        out[split] = {
            "scenes": sum(1 for s in split_of_image.values() if s == split),
            "objects": sum(1 for a in annotations if split_of_image[a["image_id"]] == split),
            "targets": len(srefs),
            "expressions": len(sents),
            "by_type": {t: c for t, c in sorted(Counter(s["type"] for s in sents).items(),
                                                 key=lambda kv: SENTENCE_TYPES.index(kv[0]))},
            "unseen_combo": sum(1 for s in sents if s["unseen_combo"]),
            "unseen_template": sum(1 for s in sents if s["unseen_template"]),
        }
    out["total"] = {"scenes": len(images), "objects": len(annotations), "targets": len(refs),
                    "expressions": sum(len(r["sentences"]) for r in refs)}
    return out

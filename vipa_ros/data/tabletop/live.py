"""One tabletop scene rendered in memory, as a camera sees it: RGB, metric depth, intrinsics, per-object ground truth
(instance masks, poses in the optical frame, sizes, boxes) and the generator's unambiguous referring expressions.

ROS-free: the simulated camera node (`vipa_ros.nodes.sim_camera_node`), the demo and the tests use it. Nothing is
re-implemented here: a scene goes through exactly the generator's pipeline (`generate.render_scene`: sample ->
MJCF -> render -> annotate -> expressions), so scene (seed, index, split) at a given size is the same scene, with
the same annotations and expressions, that `vipa gen-tabletop --seed SEED` writes as image id index + 1.

    with LiveRenderer(640, 480) as r:
        scene = r.render(seed=2024, index=3)
    scene.rgb, scene.depth_m, scene.K, scene.objects[0].position, scene.objects[0].expressions
    scene.ground_truth()  # JSON-able dict, what the sim camera publishes on sim_camera/ground_truth

Ground-truth dicts (from `LiveScene.ground_truth` or the topic) work with `ground_truth_masks`, `mask_iou` and
`match_mask`, which say which ground-truth object a predicted mask covers.
"""
from __future__ import annotations

import os
import pathlib
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vipa_ros.data.tabletop.config import TabletopConfig, load_config

FRAME_ID = "camera_color_optical_frame"
# Default scene source for live use: not the seed of the shipped training set (data/tabletop_v1 uses seed 1), so
# the simulated camera shows scenes the model has not been trained on. Split "val": no held-out material.
DEFAULT_SEED = 2024
DEFAULT_SPLIT = "val"
GROUND_TRUTH_VERSION = 1


@dataclass
class LiveObject:
    """Ground truth of one visible object (the generator's annotation, flattened)."""

    name: str                   # unique in the scene: "<category>_<instance index>", e.g. "mug_3"
    instance_index: int         # value of the object's pixels in LiveScene.instance
    ann_id: int                 # annotation id in a generated dataset (image_id * 100 + instance index)
    category: str
    colour: str
    size: str                   # size class: small | large
    rgb: list[float]
    position: np.ndarray        # bounding-box centre in the optical frame (m)
    quaternion_xyzw: np.ndarray  # object frame orientation in the optical frame
    pose_world: dict[str, Any]
    size_m: list[float]         # bounding-box extents along the object axes (m)
    bbox: list[int]             # visible pixels: x, y, width, height
    visible_px: int
    visible_ratio: float        # visible / unoccluded pixels (occlusion and image border)
    center_px: list[float]      # projection of the centre (u, v)
    referable: bool             # visible enough for the generator to write expressions for it
    expressions: list[dict[str, Any]] = field(default_factory=list)  # raw, sent, type, components
    mask_rle: dict[str, Any] = field(default_factory=dict)  # COCO compressed RLE of the visible pixels

    @property
    def description(self) -> str:
        return f"{self.size} {self.colour} {self.category.replace('_', ' ')}"

    def to_dict(self, include_mask: bool = True) -> dict[str, Any]:
        out = {
            "name": self.name, "instance_index": self.instance_index, "ann_id": self.ann_id,
            "category": self.category, "colour": self.colour, "size": self.size, "description": self.description,
            "rgb": self.rgb,
            "pose": {"frame_id": FRAME_ID, "position": [round(float(v), 6) for v in self.position],
                     "quaternion_xyzw": [round(float(v), 6) for v in self.quaternion_xyzw]},
            "pose_world": self.pose_world, "size_m": self.size_m, "bbox": self.bbox,
            "visible_px": self.visible_px, "visible_ratio": self.visible_ratio, "center_px": self.center_px,
            "referable": self.referable, "expressions": self.expressions,
        }
        if include_mask:
            out["mask_rle"] = self.mask_rle
        return out


@dataclass
class LiveScene:
    seed: int
    index: int
    split: str
    width: int
    height: int
    rgb: np.ndarray             # H x W x 3 uint8
    depth_m: np.ndarray         # H x W float32 metres along the optical axis, 0 = nothing hit
    instance: np.ndarray        # H x W uint16 instance index, 0 = table / room
    K: np.ndarray               # 3 x 3
    camera_pose_world: dict[str, Any]
    fovy_deg: float
    objects: list[LiveObject]
    render_ms: float
    noun_categories: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    # -- look-ups ---------------------------------------------------------------------------------------------
    def object(self, name: str) -> LiveObject:
        for o in self.objects:
            if o.name == name:
                return o
        raise KeyError(f"no object '{name}' in scene {self.seed}/{self.index} ({[o.name for o in self.objects]})")

    def mask(self, obj: LiveObject | str) -> np.ndarray:
        """Boolean H x W mask of the object's visible pixels."""
        obj = self.object(obj) if isinstance(obj, str) else obj
        return self.instance == obj.instance_index

    def find(self, noun: str, colour: str | None = None, size: str | None = None) -> list[LiveObject]:
        """Objects a plain description matches ("cup", "blue"), with the generator's noun meanings ("cup" =
        mug, "block" = cube, lego or jenga); every visible object counts, referable or not."""
        cats = self.noun_categories.get(noun, frozenset())
        return [o for o in self.objects if o.category in cats and (not colour or o.colour == colour)
                and (not size or o.size == size)]

    # -- sensor images ----------------------------------------------------------------------------------------
    def depth_image(self, encoding: str = "16UC1", noise_std_m: float = 0.0, dropout: float = 0.0,
                    rng: np.random.Generator | None = None) -> np.ndarray:
        """The depth as a camera driver publishes it: 16UC1 millimetres (0 = invalid) or 32FC1 metres (NaN =
        invalid), optionally with Gaussian noise (std in metres) and random dropout (fraction of valid pixels)."""
        d = self.depth_m.astype(np.float32, copy=True)
        valid = d > 0
        if noise_std_m > 0 or dropout > 0:
            rng = rng or np.random.default_rng()
            if noise_std_m > 0:
                d[valid] += rng.normal(0.0, noise_std_m, int(valid.sum())).astype(np.float32)
                valid &= d > 0
            if dropout > 0:
                valid &= rng.random(d.shape) >= dropout
        if encoding == "16UC1":
            from vipa_ros.geometry import encode_depth_16uc1

            return encode_depth_16uc1(np.where(valid, d, np.nan))
        if encoding == "32FC1":
            return np.where(valid, d, np.float32(np.nan)).astype(np.float32)
        raise ValueError(f"depth encoding must be 16UC1 or 32FC1, not '{encoding}'")

    # -- ground truth -----------------------------------------------------------------------------------------
    def ground_truth(self, include_masks: bool = True) -> dict[str, Any]:
        """JSON-able ground truth (the sim camera's `sim_camera/ground_truth` payload)."""
        return {
            "version": GROUND_TRUTH_VERSION,
            "scene": {"seed": self.seed, "index": self.index, "split": self.split,
                      "generator": "vipa_ros.data.tabletop (vipa gen-tabletop)"},
            "frame_id": FRAME_ID, "width": self.width, "height": self.height,
            "K": [round(float(v), 6) for v in self.K.reshape(-1)], "fovy_deg": round(self.fovy_deg, 4),
            "camera_pose_world": self.camera_pose_world,
            "conventions": {
                "pose": "bounding-box centre and orientation of the object frame (z up on the object) in the "
                        "optical frame (x right, y down, z forward), metres",
                "bbox": "visible pixels: x, y, width, height", "mask_rle": "COCO compressed RLE (pycocotools)",
                "expressions": "unambiguous in this scene by the generator's semantics (vipa_ros.data.tabletop)",
            },
            "objects": [o.to_dict(include_masks) for o in self.objects],
        }


class _CapturingRenderer:
    """Wraps SceneRenderer to keep the RenderResult that generate.render_scene does not return."""

    def __init__(self, renderer) -> None:
        self.renderer = renderer
        self.last = None

    def render(self, *args, **kwargs):
        self.last = self.renderer.render(*args, **kwargs)
        return self.last


class LiveRenderer:
    """Renders scenes by (seed, index) at one image size; keep one per process (it owns an OpenGL context)."""

    def __init__(self, width: int = 640, height: int = 480, config: TabletopConfig | str | pathlib.Path | None = None):
        from vipa_ros.data.tabletop import generate
        from vipa_ros.data.tabletop.catalogue import build_catalogue
        from vipa_ros.data.tabletop.expressions import ExpressionGenerator
        from vipa_ros.data.tabletop.render import SceneRenderer  # imports mujoco (MUJOCO_GL defaults to egl)

        self.width, self.height = int(width), int(height)
        cfg = config if isinstance(config, TabletopConfig) else load_config(config or None)
        self.cfg = cfg
        # render_scene writes the dataset's two PNGs per scene; they go to a scratch directory removed on close
        self._scratch = tempfile.TemporaryDirectory(prefix="vipa_live_")
        out_dir = pathlib.Path(self._scratch.name)
        from vipa_ros.data.tabletop import writer

        writer.prepare_dirs(out_dir)
        self._renderer = _CapturingRenderer(SceneRenderer(self.width, self.height))
        self._ctx = generate._Context(cfg=cfg, out_dir=out_dir, seed=0, width=self.width, height=self.height,
                                      catalogue=build_catalogue(cfg), renderer=self._renderer,
                                      expressions=ExpressionGenerator(cfg))
        self._generate = generate

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.renderer.close()
            self._renderer = None
        self._scratch.cleanup()

    def __enter__(self) -> "LiveRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def render(self, seed: int = DEFAULT_SEED, index: int = 0, split: str = DEFAULT_SPLIT) -> LiveScene:
        if self._renderer is None:
            raise RuntimeError("LiveRenderer is closed")
        t0 = time.perf_counter()
        self._ctx.seed = int(seed)
        rec = self._generate.render_scene(self._ctx, int(index), split)
        res = self._renderer.last
        for sub in ("images", "depth"):  # the scratch copies are not needed
            try:
                os.remove(self._ctx.out_dir / sub / rec["image"]["file_name"])
            except OSError:
                pass
        image = rec["image"]
        exprs = {t["ann_id"]: t["expressions"] for t in rec["targets"]}
        ex = self.cfg.expressions
        min_area = float(ex["min_target_area"]) * self.width * self.height
        objects = []
        for ann in rec["annotations"]:
            a = ann["attributes"]
            x, y, w, h = (int(v) for v in ann["bbox"])
            objects.append(LiveObject(
                name=f"{a['category']}_{a['instance_index']}", instance_index=int(a["instance_index"]),
                ann_id=int(ann["id"]), category=a["category"], colour=a["colour"], size=a["size"], rgb=a["rgb"],
                position=np.asarray(ann["pose_cam"]["position"], dtype=np.float64),
                quaternion_xyzw=np.asarray(ann["pose_cam"]["quaternion_xyzw"], dtype=np.float64),
                pose_world=ann["pose_world"], size_m=ann["size_m"], bbox=[x, y, w, h],
                visible_px=int(a["visible_px"]), visible_ratio=float(a["visible_ratio"]),
                center_px=a["center_px"],
                referable=a["visible_ratio"] >= float(ex["min_visible_ratio"]) and a["visible_px"] >= min_area,
                expressions=[{"raw": e["raw"], "sent": e["sent"], "type": e["type"],
                              "components": e["components"]} for e in exprs.get(ann["id"], [])],
                mask_rle=ann["segmentation"]))
        cam = image["camera"]
        return LiveScene(seed=int(seed), index=int(index), split=split, width=self.width, height=self.height,
                         rgb=res.rgb, depth_m=res.depth, instance=res.instance, K=np.asarray(cam["K"]),
                         camera_pose_world=cam["pose_world"], fovy_deg=float(cam["fovy_deg"]), objects=objects,
                         render_ms=(time.perf_counter() - t0) * 1e3, noun_categories=self.cfg.noun_categories)


def render_live_scene(seed: int = DEFAULT_SEED, index: int = 0, width: int = 640, height: int = 480,
                      split: str = DEFAULT_SPLIT) -> LiveScene:
    """One scene with a throw-away renderer (use LiveRenderer for several)."""
    with LiveRenderer(width, height) as r:
        return r.render(seed, index, split)


# -- predicted mask vs ground truth (works on the JSON dict, e.g. received from sim_camera/ground_truth) ----------
def ground_truth_masks(ground_truth: dict[str, Any]) -> dict[str, np.ndarray]:
    """Object name -> boolean H x W visible mask, decoded from a ground-truth dict's `mask_rle`s."""
    from vipa_ros.data.masks import decode_segmentation

    h, w = int(ground_truth["height"]), int(ground_truth["width"])
    return {o["name"]: decode_segmentation(o["mask_rle"], h, w).astype(bool) for o in ground_truth["objects"]}


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    union = int(np.count_nonzero(a | b))
    return float(np.count_nonzero(a & b)) / union if union else 0.0


def match_mask(pred_mask: np.ndarray, ground_truth: dict[str, Any],
               masks: dict[str, np.ndarray] | None = None) -> list[tuple[dict[str, Any], float]]:
    """Ground-truth objects ranked by IoU with a predicted full-size mask (best first; IoU 0 ones dropped).
    The first entry is the object the prediction picked. Pass `masks` (ground_truth_masks) to decode once."""
    masks = masks if masks is not None else ground_truth_masks(ground_truth)
    pred = np.asarray(pred_mask, dtype=bool)
    by_name = {o["name"]: o for o in ground_truth["objects"]}
    if pred.shape != (int(ground_truth["height"]), int(ground_truth["width"])):
        raise ValueError(f"predicted mask {pred.shape} does not match the ground truth image "
                         f"{ground_truth['height']}x{ground_truth['width']}")
    scored = [(by_name[name], mask_iou(pred, m)) for name, m in masks.items()]
    return sorted([s for s in scored if s[1] > 0], key=lambda s: -s[1])


def find_scenes(noun: str, colour: str | None = None, size: str | None = None, seed: int = DEFAULT_SEED,
                indices: range = range(50), width: int = 640, height: int = 480, split: str = DEFAULT_SPLIT,
                renderer: LiveRenderer | None = None) -> list[tuple[int, LiveObject]]:
    """(index, object) of scenes where the description names exactly one object and that object is referable:
    "the blue cup" is unambiguous there. Sampling alone (no rendering) rules most scenes out cheaply."""
    from vipa_ros.data.tabletop.sampling import sample_scene

    own = renderer is None
    r = renderer or LiveRenderer(width, height)
    cats = r.cfg.noun_categories.get(noun, frozenset())
    out = []
    try:
        for index in indices:
            spec = sample_scene(r.cfg, r._ctx.catalogue, seed, index, split, r.width, r.height)
            hits = [o for o in spec.objects if o.category in cats and (not colour or o.colour == colour)
                    and (not size or o.size == size)]
            if len(hits) != 1:
                continue
            scene = r.render(seed, index, split)
            found = scene.find(noun, colour, size)
            if len(found) == 1 and found[0].referable:
                out.append((index, found[0]))
    finally:
        if own:
            r.close()
    return out

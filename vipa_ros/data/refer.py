"""Loader for RefCOCO-family referring-expression datasets: RefCOCO, RefCOCO+ (split_by unc), RefCOCOg (umd,
google), ReferIt / refclef (unc, berkeley) and the synthetic tabletop set (split_by tabletop).

On disk (refer.py layout): `<dataset_dir>/refs(<split_by>).p` (a pickled list of ref dicts), `<dataset_dir>/
instances.json` (COCO images/annotations/categories) and an image folder. The refs pickle is read with a restricted
unpickler that only builds plain builtins (dict, list, str, int, float, tuple, set, bool, None, bytes), so a
tampered file cannot run code. Masks decode from polygons or RLE with pycocotools.

    refer = Refer("data/refcoco", split_by="unc", image_dir="data/images/train2014")
    for s in refer.samples("val"): ...   # one Sample per (object, sentence)
    refer.mask(s.ann_id); refer.load_image(s.image_id); refer.load_depth(s.image_id)  # depth: tabletop only
"""
from __future__ import annotations

import io
import json
import pathlib
import pickle
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from vipa_ros.data.masks import decode_segmentation

# (module, name) pairs the refs unpickler may build. Python 2 pickles name the builtins module "__builtin__";
# protocol-2 pickles of bytes call _codecs.encode(str, "latin1").
_SAFE_GLOBALS = {
    (mod, name)
    for mod in ("builtins", "__builtin__")
    for name in ("dict", "list", "tuple", "set", "frozenset", "str", "unicode", "bytes", "bytearray", "int", "long",
                 "float", "bool", "complex")
} | {("_codecs", "encode")}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle references something other than plain builtin containers and scalars."""


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        if (module, name) in _SAFE_GLOBALS:
            if module == "_codecs":
                import _codecs

                return _codecs.encode
            import builtins

            return getattr(builtins, {"unicode": "str", "long": "int"}.get(name, name))
        raise UnsafePickleError(f"refs pickle references {module}.{name}: only plain builtins are allowed")

    def persistent_load(self, pid):  # noqa: D401 - pickle API
        raise UnsafePickleError("refs pickle uses persistent ids: not allowed")


def safe_load_pickle(data: bytes | str | pathlib.Path) -> Any:
    """Unpickle `data` (bytes or a file path) allowing only plain builtins. Python 2 pickles (RefCOCO's) are read
    as UTF-8 text, falling back to latin-1 for byte strings that are not valid UTF-8."""
    if not isinstance(data, (bytes, bytearray)):
        data = pathlib.Path(data).read_bytes()
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="utf-8").load()
    except UnicodeDecodeError:
        return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


@dataclass(frozen=True)
class Sample:
    """One (object, sentence) pair."""

    ref_id: int
    ann_id: int
    image_id: int
    category_id: int
    sent_id: int
    sentence: str
    split: str
    sent_type: str = ""              # tabletop: category/colour/size/spatial/ordinal/combination/command
    components: tuple[str, ...] = ()
    unseen_combo: bool = False
    unseen_template: bool = False
    raw: str = ""


_REFS_RE = re.compile(r"^refs\((.+)\)\.p$")

# image folders the original refer.py and its forks (LAVT, CRIS) use, relative to the data root
_IMAGE_DIR_CANDIDATES = {
    "refclef": ["images/saiapr_tc-12", "saiapr_tc-12"],
    "coco": ["images/mscoco/images/train2014", "images/train2014", "train2014", "images/mscoco/train2014"],
}


@dataclass
class Refer:
    """A RefCOCO-format dataset in memory (refs, annotations, images, categories) with refer.py-style indexes."""

    dataset_dir: str | pathlib.Path
    split_by: str | None = None
    image_dir: str | pathlib.Path | None = None
    depth_dir: str | pathlib.Path | None = None
    refs: list[dict] = field(init=False, repr=False)
    Refs: dict[int, dict] = field(init=False, repr=False)
    Anns: dict[int, dict] = field(init=False, repr=False)
    Imgs: dict[int, dict] = field(init=False, repr=False)
    Cats: dict[int, str] = field(init=False, repr=False)
    Sents: dict[int, dict] = field(init=False, repr=False)
    imgToRefs: dict[int, list[dict]] = field(init=False, repr=False)
    imgToAnns: dict[int, list[dict]] = field(init=False, repr=False)
    sentToRef: dict[int, dict] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        d = pathlib.Path(self.dataset_dir)
        self.dataset_dir = d
        if not d.is_dir():
            raise FileNotFoundError(f"dataset directory {d} does not exist")
        if self.split_by is None:
            found = sorted(m.group(1) for p in d.iterdir() if (m := _REFS_RE.match(p.name)))
            if len(found) != 1:
                raise ValueError(f"{d}: choose split_by among {found}" if found else f"{d}: no refs(*).p file")
            self.split_by = found[0]
        refs_path = d / f"refs({self.split_by}).p"
        if not refs_path.is_file():
            raise FileNotFoundError(f"{refs_path} not found")
        refs = safe_load_pickle(refs_path)
        if not isinstance(refs, list):
            raise ValueError(f"{refs_path}: expected a list of refs, got {type(refs).__name__}")
        with open(d / "instances.json", encoding="utf-8") as f:
            instances = json.load(f)
        self.refs = refs
        self._index(instances)
        self.image_dir = pathlib.Path(self.image_dir) if self.image_dir else self._find_image_dir()
        if self.depth_dir is None and (d / "depth").is_dir():
            self.depth_dir = d / "depth"
        self.depth_dir = pathlib.Path(self.depth_dir) if self.depth_dir else None

    @classmethod
    def from_refer_root(cls, data_root: str | pathlib.Path, dataset: str = "refcoco", split_by: str = "unc",
                        image_dir: str | pathlib.Path | None = None) -> "Refer":
        """The refer.py layout: data_root/<dataset>/refs(<split_by>).p with images under data_root/images/..."""
        return cls(pathlib.Path(data_root) / dataset, split_by=split_by, image_dir=image_dir)

    # -- index ------------------------------------------------------------------------------------------------
    def _index(self, instances: dict[str, Any]) -> None:
        self.Anns = {a["id"]: a for a in instances["annotations"]}
        self.Imgs = {im["id"]: im for im in instances["images"]}
        self.Cats = {c["id"]: c["name"] for c in instances["categories"]}
        self.imgToAnns = {}
        for a in instances["annotations"]:
            self.imgToAnns.setdefault(a["image_id"], []).append(a)
        self.Refs, self.Sents, self.sentToRef, self.imgToRefs = {}, {}, {}, {}
        for ref in self.refs:
            self.Refs[ref["ref_id"]] = ref
            self.imgToRefs.setdefault(ref["image_id"], []).append(ref)
            for s in ref["sentences"]:
                self.Sents[s["sent_id"]] = s
                self.sentToRef[s["sent_id"]] = ref

    def _find_image_dir(self) -> pathlib.Path | None:
        d = pathlib.Path(self.dataset_dir)
        if (d / "images").is_dir() and any((d / "images").glob("*")):
            first = next(iter(self.Imgs.values()), None)
            if first is None or (d / "images" / first["file_name"]).exists():
                return d / "images"
        kind = "refclef" if d.name == "refclef" else "coco"
        for root in (d.parent, d):
            for rel in _IMAGE_DIR_CANDIDATES[kind]:
                if (root / rel).is_dir():
                    return root / rel
        return None

    # -- refer.py-style queries -------------------------------------------------------------------------------
    @staticmethod
    def _split_matches(ref_split: str, split: str) -> bool:
        """refer.py semantics: 'test' selects testA/testB/...; 'testA' selects testA and testAB; else equality."""
        if split in ("testA", "testB", "testC"):
            return split[-1] in ref_split and ref_split.startswith("test")
        if split == "test":
            return "test" in ref_split
        return ref_split == split

    def splits(self) -> list[str]:
        return sorted({r["split"] for r in self.refs})

    def get_ref_ids(self, split: str | Iterable[str] | None = None) -> list[int]:
        if split is None:
            return [r["ref_id"] for r in self.refs]
        wanted = [split] if isinstance(split, str) else list(split)
        return [r["ref_id"] for r in self.refs if any(self._split_matches(r["split"], s) for s in wanted)]

    def samples(self, split: str | Iterable[str] | None = None) -> list[Sample]:
        """One Sample per (object, sentence) of the split(s), in ref then sentence order."""
        out = []
        for rid in self.get_ref_ids(split):
            ref = self.Refs[rid]
            for s in ref["sentences"]:
                out.append(Sample(
                    ref_id=int(ref["ref_id"]), ann_id=int(ref["ann_id"]), image_id=int(ref["image_id"]),
                    category_id=int(ref["category_id"]), sent_id=int(s["sent_id"]), sentence=str(s["sent"]),
                    split=str(ref["split"]), sent_type=str(s.get("type", "")),
                    components=tuple(s.get("components", ())), unseen_combo=bool(s.get("unseen_combo", False)),
                    unseen_template=bool(s.get("unseen_template", False)), raw=str(s.get("raw", s["sent"]))))
        return out

    # -- data -------------------------------------------------------------------------------------------------
    def mask(self, ann_id: int) -> np.ndarray:
        """Binary uint8 mask (original image size) of an annotation."""
        ann = self.Anns[ann_id]
        img = self.Imgs[ann["image_id"]]
        return decode_segmentation(ann["segmentation"], int(img["height"]), int(img["width"]))

    def image_path(self, image_id: int) -> pathlib.Path:
        if self.image_dir is None:
            raise FileNotFoundError(f"{self.dataset_dir}: image directory not found; pass image_dir=")
        return pathlib.Path(self.image_dir) / self.Imgs[image_id]["file_name"]

    def load_image(self, image_id: int) -> np.ndarray:
        """RGB uint8 H x W x 3."""
        import cv2

        path = self.image_path(image_id)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read image {path}")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def has_depth(self, image_id: int) -> bool:
        return self.depth_dir is not None and "depth_file" in self.Imgs[image_id]

    def load_depth(self, image_id: int) -> np.ndarray | None:
        """Depth in metres (float32, 0 = invalid) when the dataset has it, else None."""
        if not self.has_depth(image_id):
            return None
        import cv2

        img = self.Imgs[image_id]
        path = pathlib.Path(self.depth_dir) / img["depth_file"]
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise FileNotFoundError(f"cannot read depth {path}")
        return raw.astype(np.float32) * float(img.get("depth_scale", 0.001))

    def camera_K(self, image_id: int) -> np.ndarray | None:
        """3 x 3 intrinsics when the dataset stores them, else None."""
        img = self.Imgs[image_id]
        K = img.get("K") or img.get("camera", {}).get("K")
        return None if K is None else np.asarray(K, dtype=np.float64)

    def category_name(self, category_id: int) -> str:
        return self.Cats.get(category_id, str(category_id))

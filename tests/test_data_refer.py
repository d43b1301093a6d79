"""RefCOCO-family loader: restricted unpickler, refer.py layouts and split semantics, polygon and RLE masks, and the
torch Dataset (resize/normalise, CRIS letterbox inverse, expression-safe augmentation, collate)."""
from __future__ import annotations

import json
import os
import pickle

import cv2
import numpy as np
import pytest

pytest.importorskip("pycocotools")

from vipa_ros.data.dataset import RefSegDataset, SafeAugment, collate_refseg, resize_affine  # noqa: E402
from vipa_ros.data.masks import decode_segmentation, encode_rle  # noqa: E402
from vipa_ros.data.refer import Refer, UnsafePickleError, safe_load_pickle  # noqa: E402


# -- restricted unpickler ------------------------------------------------------------------------------------------
class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


class _Custom:
    pass


@pytest.mark.parametrize("payload", [_Evil(), [{"refs": _Evil()}], _Custom(), np.zeros(3)])
def test_restricted_unpickler_rejects_code(payload, tmp_path):
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        data = pickle.dumps(payload, protocol=protocol)
        with pytest.raises(UnsafePickleError):
            safe_load_pickle(data)
    path = tmp_path / "refs(unc).p"
    path.write_bytes(pickle.dumps([_Evil()], protocol=2))
    (tmp_path / "instances.json").write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    with pytest.raises(UnsafePickleError):
        Refer(tmp_path)


def test_restricted_unpickler_reads_plain_data():
    obj = [{"ref_id": 1, "sentences": [{"sent": "the mug", "tokens": ["the", "mug"]}], "score": 0.5,
            "box": (1.0, 2.0), "tags": {1, 2}, "frozen": frozenset({3}), "blob": b"\x00\xff", "none": None,
            "flag": True, "big": 2 ** 70}]
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        assert safe_load_pickle(pickle.dumps(obj, protocol=protocol)) == obj
    # a Python 2 byte string that is not UTF-8 (SHORT_BINSTRING 'caf\xe9') falls back to latin-1
    py2 = b"\x80\x02]q\x00U\x04caf\xe9q\x01a."
    assert safe_load_pickle(py2) == ["caf\xe9"]


# -- a RefCOCO-style dataset (polygons, refer.py layout, testA/testB) -------------------------------------------------
H, W = 48, 64


def _write_refcoco(root):
    (root / "refcoco").mkdir(parents=True)
    (root / "images" / "train2014").mkdir(parents=True)
    rng = np.random.default_rng(0)
    images, anns, refs = [], [], []
    sent_id = 0
    for image_id in (1, 2, 3):
        img = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
        name = f"COCO_train2014_{image_id:012d}.jpg"
        cv2.imwrite(str(root / "images" / "train2014" / name), img)
        images.append({"id": image_id, "file_name": name, "height": H, "width": W})
        for k in range(2):
            ann_id = image_id * 10 + k
            x0 = 5 + 30 * k
            poly = [x0, 10, x0 + 20, 10, x0 + 20, 30, x0, 30]
            anns.append({"id": ann_id, "image_id": image_id, "category_id": 47, "segmentation": [poly],
                         "area": 400.0, "bbox": [x0, 10, 20, 20], "iscrowd": 0})
            split = {1: "train", 2: "testA", 3: "testB"}[image_id]
            sents = [{"sent_id": sent_id + j, "sent": f"cup {k} {j}", "raw": f"Cup {k} {j}",
                      "tokens": ["cup", str(k), str(j)]} for j in range(2)]
            sent_id += 2
            refs.append({"ref_id": len(refs), "ann_id": ann_id, "image_id": image_id, "category_id": 47,
                         "split": split, "sentences": sents, "sent_ids": [s["sent_id"] for s in sents],
                         "file_name": name[:-4] + f"_{ann_id}.jpg"})
    (root / "refcoco" / "refs(unc).p").write_bytes(pickle.dumps(refs, protocol=2))
    (root / "refcoco" / "instances.json").write_text(json.dumps(
        {"images": images, "annotations": anns, "categories": [{"id": 47, "name": "cup", "supercategory": "k"}]}))
    return root


@pytest.fixture()
def refcoco(tmp_path):
    return Refer.from_refer_root(_write_refcoco(tmp_path), "refcoco", "unc")


def test_refcoco_layout_splits_and_polygon_masks(refcoco):
    assert refcoco.image_dir.name == "train2014"
    assert refcoco.splits() == ["testA", "testB", "train"]
    assert len(refcoco.samples("train")) == 4  # one sample per (object, sentence)
    assert {s.split for s in refcoco.samples("test")} == {"testA", "testB"}
    assert {s.split for s in refcoco.samples("testA")} == {"testA"}
    assert len(refcoco.samples(["train", "testB"])) == 8
    m = refcoco.mask(11)
    assert m.shape == (H, W) and m.dtype == np.uint8
    ys, xs = np.nonzero(m)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (35, 54, 10, 29) and m.sum() == 400  # pycocotools raster
    assert refcoco.load_image(1).shape == (H, W, 3)
    assert refcoco.load_depth(1) is None and refcoco.camera_K(1) is None


def test_rle_forms_decode_identically():
    rng = np.random.default_rng(2)
    m = (rng.random((H, W)) > 0.7).astype(np.uint8)
    rle = encode_rle(m)
    np.testing.assert_array_equal(decode_segmentation(rle, H, W), m)
    np.testing.assert_array_equal(decode_segmentation([rle], H, W), m)  # ReferIt: a list holding one RLE
    # uncompressed RLE (column-major run lengths starting with zeros)
    flat = m.flatten(order="F")
    runs, cur, n = [], 0, 0
    for v in flat:
        if v == cur:
            n += 1
        else:
            runs.append(n)
            cur, n = v, 1
    runs.append(n)
    np.testing.assert_array_equal(decode_segmentation({"size": [H, W], "counts": runs}, H, W), m)
    assert decode_segmentation([], H, W).sum() == 0


# -- torch Dataset ------------------------------------------------------------------------------------------------
def test_dataset_raw_and_resized(refcoco):
    torch = pytest.importorskip("torch")
    raw = RefSegDataset(refcoco, split="train")
    item = raw[0]
    assert item["image"].dtype == np.uint8 and item["image"].shape == (H, W, 3)
    np.testing.assert_array_equal(item["mask"], item["orig_mask"])
    assert item["sentence"] == "cup 0 0" and item["ann_id"] == 10

    ds = RefSegDataset(refcoco, split="train", input_size=32)
    it = ds[0]
    assert isinstance(it["image"], torch.Tensor) and it["image"].shape == (3, 32, 32)
    assert it["mask"].shape == (32, 32) and it["orig_mask"].shape == (H, W)
    img = refcoco.load_image(1).astype(np.float32) / 255
    expected = (cv2.resize(img, (32, 32), interpolation=cv2.INTER_LINEAR) - ds.mean) / ds.std
    np.testing.assert_allclose(it["image"].numpy().transpose(1, 2, 0), expected, atol=2e-2)

    batch = collate_refseg([ds[0], ds[1], ds[2]])
    assert batch["image"].shape == (3, 3, 32, 32) and batch["mask"].shape == (3, 32, 32)
    assert len(batch["orig_mask"]) == 3 and batch["inverse"].shape == (3, 2, 3)


def test_letterbox_inverse_recovers_original_mask(refcoco):
    pytest.importorskip("torch")
    ds = RefSegDataset(refcoco, split="testA", input_size=40, resize_mode="letterbox")
    it = ds[0]
    mask = it["mask"].numpy()
    back = cv2.warpAffine(mask, it["inverse"], (W, H), flags=cv2.INTER_NEAREST)
    inter = np.logical_and(back > 0.5, it["orig_mask"] > 0).sum()
    union = np.logical_or(back > 0.5, it["orig_mask"] > 0).sum()
    assert inter / union > 0.85
    A = resize_affine((H, W), (40, 40), "letterbox")
    assert A[0, 0] == A[1, 1] == pytest.approx(40 / 64)  # aspect ratio kept


def test_augmentation_keeps_expressions_true(refcoco):
    """No flips (left stays left), objects stay in the frame, colours keep their hue."""
    aug = SafeAugment(p_geometric=1.0, p_colour=1.0)
    ds = RefSegDataset(refcoco, split="train", augment=aug, seed=3)
    for epoch in range(6):
        ds.set_epoch(epoch)
        for idx in range(len(ds)):
            it = ds[idx]
            ref = refcoco.Refs[it["ref_id"]]
            orig = refcoco.mask(ref["ann_id"])
            m = it["mask"]
            assert m.sum() >= 0.9 * orig.sum() * min(1.0, it["affine"][0, 0] ** 2)
            # the left object (ann x=5..25) stays left of the right object (x=35..55)
            cx = np.nonzero(m)[1].mean()
            assert (cx < W / 2) == (ref["ann_id"] % 10 == 0)
    red = np.zeros((8, 8, 3), np.uint8)
    red[...] = (200, 30, 30)
    rng = np.random.default_rng(0)
    for _ in range(50):
        out = aug.colour(rng, red).astype(int)
        assert out[0, 0, 0] > 2 * out[0, 0, 1] and out[0, 0, 0] > 2 * out[0, 0, 2]
    # a jitter that would push an annotated object out of the frame is refused
    A = aug.geometric(np.random.default_rng(0), (H, W), [[0, 0, W, H]])
    np.testing.assert_allclose(A, [[1, 0, 0], [0, 1, 0]])

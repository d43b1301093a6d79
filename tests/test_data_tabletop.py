"""Synthetic tabletop generator: a small low-resolution fixture is generated, read back with the RefCOCO loader and
checked against a fresh rendering of the same scenes (masks, depth, intrinsics, poses) and against the scene
semantics (every expression unambiguous, splits, held-out material)."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("pycocotools")

from vipa_ros.data.refer import Refer  # noqa: E402
from vipa_ros.data.tabletop import generate as gen  # noqa: E402
from vipa_ros.data.tabletop.catalogue import build_catalogue  # noqa: E402
from vipa_ros.data.tabletop.config import load_config  # noqa: E402
from vipa_ros.data.tabletop.expressions import SENTENCE_TYPES, components_of, normalize, type_of  # noqa: E402
from vipa_ros.data.tabletop.sampling import sample_objects, sample_scene  # noqa: E402
from vipa_ros.data.tabletop.semantics import Relations, SceneObject, resolve  # noqa: E402
from vipa_ros.data.tabletop.transforms import matrix_from_quat  # noqa: E402

W, H = 192, 144
SEED = 3
SCENES = 5


def fixture_config():
    # test scenes always take held-out colours and often held-out templates, so the fixture exercises both
    return load_config().with_overrides(heldout={"combo_prob": 1.0, "template_prob": 0.5})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("tabletop")
    readme = gen.generate_dataset(out, SCENES, SEED, width=W, height=H, workers=1, config=fixture_config(),
                                  progress=False)
    return out, readme


@pytest.fixture(scope="module")
def refer(dataset):
    return Refer(dataset[0])


@pytest.fixture(scope="module")
def rerendered(dataset):
    """The same scenes rendered again in memory (the generator is deterministic in seed and scene index)."""
    from vipa_ros.data.tabletop.render import SceneRenderer

    cfg = fixture_config()
    cat = build_catalogue(cfg)
    images = json.loads((dataset[0] / "instances.json").read_text())["images"]
    out = {}
    with SceneRenderer(W, H) as renderer:
        for im in images:
            scene = sample_scene(cfg, cat, SEED, im["scene_index"], im["split"], W, H)
            model, data = gen._compile(scene, cat)
            out[im["id"]] = (scene, renderer.render(model, data, len(scene.objects)))
    return out


def test_files_and_readme(dataset):
    out, readme = dataset
    assert (out / "instances.json").is_file() and (out / "refs(tabletop).p").is_file()
    assert len(list((out / "images").glob("*.png"))) == SCENES
    assert len(list((out / "depth").glob("*.png"))) == SCENES
    meta = json.loads((out / "README.json").read_text())
    assert meta["seed"] == SEED and meta["num_scenes"] == SCENES
    assert meta["counts"]["total"]["scenes"] == SCENES
    assert meta["counts"]["total"]["expressions"] > 0
    assert len(meta["categories"]) >= 10 and not meta["missing_categories"]
    assert meta["versions"]["mujoco"] != "not installed"


def test_refs_follow_refer_format(refer):
    assert refer.split_by == "tabletop"
    assert len(refer.refs) > 0
    for ref in refer.refs:
        keys = {"ref_id", "ann_id", "image_id", "category_id", "split", "sentences", "sent_ids", "file_name"}
        assert keys <= set(ref)
        assert ref["sent_ids"] == [s["sent_id"] for s in ref["sentences"]]
        assert refer.Anns[ref["ann_id"]]["image_id"] == ref["image_id"]
        for s in ref["sentences"]:
            assert {"sent_id", "sent", "raw", "tokens", "type"} <= set(s)
            assert s["tokens"] == s["sent"].split() and s["sent"] == normalize(s["raw"])
            assert s["type"] in SENTENCE_TYPES
            assert s["type"] == ("command" if "command" in s["components"] else type_of(components_of(s["program"])))
    assert len({s.sent_id for s in refer.samples()}) == sum(len(r["sentences"]) for r in refer.refs)


def test_masks_decode_to_rendered_instances(refer, rerendered):
    for image_id, (scene, res) in rerendered.items():
        anns = refer.imgToAnns.get(image_id, [])
        visible = {o.index for o in scene.objects if res.visible_px[o.index] > 0}
        assert {a["attributes"]["instance_index"] for a in anns} == visible
        for ann in anns:
            m = refer.mask(ann["id"])
            assert m.shape == (H, W)
            np.testing.assert_array_equal(m.astype(bool), res.instance == ann["attributes"]["instance_index"])
            assert ann["area"] == m.sum()
            x, y, w, h = ann["bbox"]
            ys, xs = np.nonzero(m)
            assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)


def test_depth_png_is_millimetres(refer, rerendered):
    for image_id, (_, res) in rerendered.items():
        depth = refer.load_depth(image_id)
        assert depth is not None and depth.dtype == np.float32 and depth.shape == (H, W)
        valid = res.depth > 0
        assert valid.mean() > 0.9  # the room closes the scene
        assert np.abs(depth[valid] - res.depth[valid]).max() <= 0.0005 + 1e-6
        assert np.all(depth[~valid] == 0)
    import cv2

    raw = cv2.imread(str(refer.depth_dir / refer.Imgs[1]["depth_file"]), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.ndim == 2


def test_intrinsics_project_object_centres_into_masks(refer):
    checked = 0
    for image_id, img in refer.Imgs.items():
        K = refer.camera_K(image_id)
        assert K.shape == (3, 3) and K[0, 0] == K[1, 1] and K[0, 1] == 0
        cam = img["camera"]["pose_world"]
        R_wc, t_wc = matrix_from_quat(cam["quaternion_wxyz"]), np.asarray(cam["position"])
        for ann in refer.imgToAnns.get(image_id, []):
            p_cam = np.asarray(ann["pose_cam"]["position"])
            p_world = np.asarray(ann["pose_world"]["position"])
            # the two poses describe the same object
            np.testing.assert_allclose(R_wc @ p_cam + t_wc, p_world, atol=1e-4)
            R_obj_w = matrix_from_quat(ann["pose_world"]["quaternion_wxyz"])
            R_obj_c = matrix_from_quat(ann["pose_cam"]["quaternion_wxyz"])
            np.testing.assert_allclose(R_wc @ R_obj_c, R_obj_w, atol=1e-4)
            q = ann["pose_cam"]["quaternion_wxyz"]
            assert ann["pose_cam"]["quaternion_xyzw"] == [q[1], q[2], q[3], q[0]]
            assert p_cam[2] > 0 and all(s > 0 for s in ann["size_m"])
            # objects rest on the table (z = 0): centre height within the half extents
            assert 0 < p_world[2] <= 0.5 * np.linalg.norm(ann["size_m"]) + 1e-3
            u, v = K[0, 0] * p_cam[0] / p_cam[2] + K[0, 2], K[1, 1] * p_cam[1] / p_cam[2] + K[1, 2]
            np.testing.assert_allclose([u, v], ann["attributes"]["center_px"], atol=0.01)
            if ann["attributes"]["visible_ratio"] > 0.97 and ann["area"] > 30:
                x, y, w, h = ann["bbox"]
                assert x - 1 <= u <= x + w + 1 and y - 1 <= v <= y + h + 1
                m = refer.mask(ann["id"])
                ui, vi = int(round(u)), int(round(v))
                # the centre of a convex-ish object shows on its own mask (mugs/trays can be hollow at the centre)
                if ann["attributes"]["category"] in ("cube", "ball", "can", "cereal_box", "milk_carton", "lemon"):
                    assert m[max(0, vi - 1):vi + 2, max(0, ui - 1):ui + 2].any()
                checked += 1
    assert checked >= 5


def test_every_expression_is_unambiguous(refer):
    cfg = fixture_config()
    rel = Relations(cfg.relations)
    n = 0
    for image_id, refs in refer.imgToRefs.items():
        objects = [SceneObject.from_annotation(a) for a in refer.imgToAnns[image_id]]
        for ref in refs:
            for s in ref["sentences"]:
                definite, possible = resolve(s["program"], objects, cfg.noun_categories, rel)
                assert definite == {ref["ann_id"]} and possible == {ref["ann_id"]}, s["raw"]
                n += 1
    assert n > 20


def test_attribute_expressions_checked_from_text(refer):
    """Independent of the program: parse colour / size / noun words from plain attribute sentences and count the
    scene's objects that fit them."""
    cfg = fixture_config()
    colour_words = {w: c for c in cfg.colours for w in cfg.colour_words(c)}
    size_words = {w: s for s in ("small", "large") for w in cfg.size_words(s)}
    nouns = sorted(cfg.noun_categories, key=len, reverse=True)
    checked = 0
    for ref in refer.refs:
        for s in ref["sentences"]:
            if s["type"] not in ("category", "colour", "size", "combination") or s["program"].get("op"):
                continue
            text = " " + s["sent"] + " "
            noun = next(n for n in nouns if f" {n} " in text)
            colours = {c for w, c in colour_words.items() if f" {w} " in text}
            sizes = {z for w, z in size_words.items() if f" {w} " in text}
            assert len(colours) <= 1 and len(sizes) <= 1
            fits = [a for a in refer.imgToAnns[ref["image_id"]]
                    if a["attributes"]["category"] in cfg.noun_categories[noun]
                    and (not colours or a["attributes"]["colour"] in colours)
                    and (not sizes or a["attributes"]["size"] in sizes)]
            assert [a["id"] for a in fits] == [ref["ann_id"]], s["raw"]
            checked += 1
    assert checked > 5


def test_targets_are_visible_enough(refer):
    cfg = fixture_config()
    for ref in refer.refs:
        a = refer.Anns[ref["ann_id"]]["attributes"]
        assert a["visible_ratio"] >= cfg.expressions["min_visible_ratio"]
        assert a["visible_px"] >= cfg.expressions["min_target_area"] * W * H


def test_splits_are_disjoint_and_test_holds_unseen_material(refer):
    cfg = fixture_config()
    split_of_image = {i: im["split"] for i, im in refer.Imgs.items()}
    assert set(split_of_image.values()) == {"train", "val", "test"}
    for ref in refer.refs:
        assert ref["split"] == split_of_image[ref["image_id"]]
    heldout_ids = {t["id"] for ts in cfg.templates.values() for t in ts if t.get("heldout")}
    for ann in refer.Anns.values():
        combo = (ann["attributes"]["category"], ann["attributes"]["colour"])
        assert ann["attributes"]["heldout_combo"] == (combo in cfg.heldout_combos)
        if split_of_image[ann["image_id"]] != "test":
            assert combo not in cfg.heldout_combos
    unseen = {"unseen_combo": 0, "unseen_template": 0}
    for ref in refer.refs:
        for s in ref["sentences"]:
            assert s["unseen_template"] == bool(heldout_ids & set(s["template_ids"]))
            if ref["split"] != "test":
                assert not s["unseen_template"] and not s["unseen_combo"]
            for key in unseen:
                unseen[key] += bool(s[key])
    assert unseen["unseen_combo"] > 0 and unseen["unseen_template"] > 0
    samples = refer.samples("test")
    assert samples and any(s.unseen_combo for s in samples)


def test_split_assignment_is_seeded_and_disjoint():
    a = gen.assign_splits(100, {"train": 0.8, "val": 0.1, "test": 0.1}, 5)
    assert a == gen.assign_splits(100, {"train": 0.8, "val": 0.1, "test": 0.1}, 5)
    assert a != gen.assign_splits(100, {"train": 0.8, "val": 0.1, "test": 0.1}, 6)
    assert (a.count("train"), a.count("val"), a.count("test")) == (80, 10, 10)
    assert set(gen.assign_splits(3, {"train": 0.8, "val": 0.1, "test": 0.1}, 0)) == {"train", "val", "test"}


def test_heldout_colours_only_in_test_scenes():
    cfg = load_config().with_overrides(heldout={"combo_prob": 1.0})
    cat = build_catalogue(cfg)
    test_pairs, train_pairs = set(), set()
    for i in range(40):
        rng = np.random.default_rng(i)
        test_pairs |= {(d["category"], d["colour"]) for d in sample_objects(rng, cfg, cat, "test")}
        rng = np.random.default_rng(i)
        train_pairs |= {(d["category"], d["colour"]) for d in sample_objects(rng, cfg, cat, "train")}
    assert not train_pairs & cfg.heldout_combos
    assert test_pairs & cfg.heldout_combos


def test_scenes_are_cluttered_and_varied():
    cfg = load_config()
    cat = build_catalogue(cfg)
    assert len(cat) >= 15 and len(cfg.colours) >= 10
    n_objects, cats, colours, dists, elevs = [], set(), set(), [], []
    for i in range(30):
        s = sample_scene(cfg, cat, 11, i, "train", 640, 480)
        n_objects.append(len(s.objects))
        cats |= {o.category for o in s.objects}
        colours |= {o.colour for o in s.objects}
        # no two footprints overlap and everything rests on the table
        for a in s.objects:
            for b in s.objects:
                if a.index < b.index:
                    assert np.linalg.norm(a.position[:2] - b.position[:2]) >= a.footprint_radius + b.footprint_radius
        look = s.camera.R_wc[:, 2]  # optical z axis
        elevs.append(np.degrees(np.arcsin(-look[2])))
        # distance from the camera to where its axis meets the table top (z = 0.03 look-at height)
        dists.append((s.camera.position[2] - 0.03) / -look[2])
    assert np.mean(n_objects) >= 6
    assert len(cats) >= 12 and len(colours) >= 10
    assert 30 - 1e-6 <= min(elevs) and max(elevs) <= 80 + 1e-6
    assert 0.4 - 1e-6 <= min(dists) and max(dists) <= 1.5 + 1e-6


def test_cli_registers_subcommand():
    from vipa_ros.cli import SUBCOMMANDS
    from vipa_ros.data.tabletop import cli

    assert SUBCOMMANDS["gen-tabletop"][0] == "vipa_ros.data.tabletop.cli"
    import argparse

    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    args = p.parse_args(["--out", "x", "--scenes", "3", "--seed", "2", "--width", "64", "--height", "48"])
    assert (args.scenes, args.seed, args.width, args.height, args.split_seed) == (3, 2, 64, 48, None)


def test_refs_pickle_holds_only_builtins(dataset):
    import pickletools

    data = (dataset[0] / "refs(tabletop).p").read_bytes()
    ops = {op.name for op, _, _ in pickletools.genops(data)}
    assert not ops & {"GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "INST", "OBJ", "NEWOBJ"}
    assert data[:2] == b"\x80\x02"  # protocol 2: readable by the original Python 2 refer.py too
    refs = pickle.loads(data)
    assert isinstance(refs, list) and isinstance(refs[0], dict)


def test_dataset_returns_depth_and_adjusted_intrinsics(refer):
    torch = pytest.importorskip("torch")
    from vipa_ros.data.dataset import RefSegDataset, collate_refseg

    ds = RefSegDataset(refer, split=None, input_size=64, return_depth=True)
    assert len(ds) == sum(len(r["sentences"]) for r in refer.refs)
    assert set(ds.groups()) <= set(SENTENCE_TYPES)
    it = ds[0]
    assert it["image"].shape == (3, 64, 64) and it["depth"].shape == (64, 64) and it["orig_mask"].shape == (H, W)
    assert it["sent_type"] in SENTENCE_TYPES and it["sentence"]
    ann = refer.Anns[it["ann_id"]]
    p = np.asarray(ann["pose_cam"]["position"])
    uv_resized = (it["K"] @ p)[:2] / p[2]
    uv_orig = np.asarray(ann["attributes"]["center_px"])
    np.testing.assert_allclose(uv_resized, it["affine"][:, :2] @ uv_orig + it["affine"][:, 2], atol=1e-3)
    depth = refer.load_depth(it["image_id"])
    assert float(it["depth"].max()) == pytest.approx(float(depth.max()), rel=0.05)
    batch = collate_refseg([ds[0], ds[1]])
    assert batch["depth"].shape == (2, 64, 64) and batch["K"].shape == (2, 3, 3)
    assert isinstance(batch["image"], torch.Tensor)


def test_parallel_workers_give_identical_datasets(tmp_path):
    """Scenes depend only on (seed, index, split): two worker processes write the same dataset as one."""
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        gen.generate_dataset(out, 3, 9, width=96, height=72, workers=workers, progress=False)
        outs.append(out)
    a, b = (json.loads((o / "instances.json").read_text()) for o in outs)
    assert a["annotations"] == b["annotations"] and a["images"] == b["images"]
    ra, rb = (pickle.loads((o / "refs(tabletop).p").read_bytes()) for o in outs)
    assert ra == rb
    for name in ("000001.png", "000003.png"):
        assert (outs[0] / "images" / name).read_bytes() == (outs[1] / "images" / name).read_bytes()


def test_room_walls_enclose_table_and_camera():
    """Walls stand `wall_distance` from the table centre, facing it, with the table and the camera inside."""
    import mujoco

    cfg = load_config()
    cat = build_catalogue(cfg)
    for i in range(6):
        s = sample_scene(cfg, cat, 21, i, "train", 64, 48)
        model, data = gen._compile(s, cat)
        d = s.room["wall_distance"]
        for k in range(4):
            gid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"wall_{k}")
            normal = data.geom_xmat[gid].reshape(3, 3)[:, 0]  # the wall's thin axis
            assert abs(normal[2]) < 1e-9
            assert float(normal @ data.geom_xpos[gid]) == pytest.approx(d, abs=1e-3)
            for p in [s.camera.position] + [np.array([sx * s.table["half_x"], sy * s.table["half_y"], 0.0])
                                            for sx in (-1, 1) for sy in (-1, 1)]:
                assert float(normal[:2] @ p[:2]) < d - 0.05

"""Issue 5 criterion: with a perfect mask, the grasp pose is where the object is.

Generated tabletop scenes at 640x480 (vipa_ros.data.tabletop.live, i.e. the dataset generator): for every
referable object (visible enough for the generator to write expressions for it), the TRUE instance mask, the
rendered depth as the simulated camera publishes it (16UC1 mm) and K go into vipa_ros.geometry.estimate_grasp
with the segment node's parameters (config/segment.yaml). The estimated position is compared with the
ground-truth object centre (pose_cam: the bounding-box centre in the optical frame).

Requirement: median centre error < 1.5 cm over >= 50 objects. The numbers (median, p90 per category) are printed
(`pytest -s` shows them). Concave objects (bowl, tray, mug with handle) are the hard cases: their bounding-box
centre lies in empty space behind the visible surface, and the centre estimator's symmetry model does not hold;
they rely on the table they stand on (vipa_ros.geometry.centre, the support cue).
"""
from __future__ import annotations

import collections

import numpy as np
import pytest
import yaml

pytest.importorskip("mujoco")

from vipa_ros.geometry import CameraIntrinsics, GraspParams, estimate_grasp  # noqa: E402

SEED = 2024
SCENES = range(12)
MIN_OBJECTS = 50
MEDIAN_BOUND_M = 0.015

pytestmark = [pytest.mark.slow]


def node_grasp_params() -> GraspParams:
    from conftest import REPO_ROOT

    params = yaml.safe_load((REPO_ROOT / "config" / "segment.yaml").read_text())["/**"]["ros__parameters"]
    return GraspParams.from_mapping({k: params[k] for k in ("min_depth", "max_depth", "mask_erode_px",
                                                            "min_valid_points", "orientation")})


@pytest.fixture(scope="module")
def measurements():
    """One row per visible object: (scene, name, category, referable, clean error m, noisy error m, pose)."""
    from vipa_ros.data.tabletop.live import LiveRenderer

    params = node_grasp_params()
    rng = np.random.default_rng(0)
    rows = []
    with LiveRenderer(640, 480) as renderer:
        for index in SCENES:
            scene = renderer.render(SEED, index)
            K = CameraIntrinsics.from_matrix(scene.K, scene.width, scene.height)
            depth = scene.depth_image("16UC1")
            # a RealSense-like degraded copy (2 mm noise, 2 % dropout): reported, not asserted
            noisy = scene.depth_image("16UC1", noise_std_m=0.002, dropout=0.02, rng=rng)
            for obj in scene.objects:
                mask = scene.mask(obj)
                errors = []
                for d in (depth, noisy):
                    pose = estimate_grasp(mask, d, K, params, encoding="16UC1")
                    errors.append(float(np.linalg.norm(pose.position - obj.position)) if pose.has_pose else np.nan)
                rows.append({"scene": index, "name": obj.name, "category": obj.category, "referable": obj.referable,
                             "visible_ratio": obj.visible_ratio, "clean": errors[0], "noisy": errors[1]})
    return rows


def _table(rows: list[dict], key: str) -> tuple[str, dict[str, tuple[int, float, float]]]:
    by_cat: dict[str, list[float]] = collections.defaultdict(list)
    for r in rows:
        by_cat[r["category"]].append(r[key])
    lines = [f"  {'category':<12} {'n':>4} {'no pose':>8} {'median cm':>10} {'p90 cm':>8} {'max cm':>8}"]
    stats = {}
    for cat in sorted(by_cat):
        e = np.array(by_cat[cat])
        ok = e[np.isfinite(e)]
        med, p90 = (float(np.median(ok)), float(np.percentile(ok, 90))) if len(ok) else (np.nan, np.nan)
        stats[cat] = (len(e), med, p90)
        lines.append(f"  {cat:<12} {len(e):>4} {int(np.isnan(e).sum()):>8} {med * 100:>10.2f} {p90 * 100:>8.2f} "
                     f"{(ok.max() if len(ok) else np.nan) * 100:>8.2f}")
    return "\n".join(lines), stats


def _summary(rows: list[dict], key: str) -> tuple[float, float, int]:
    e = np.array([r[key] for r in rows])
    ok = e[np.isfinite(e)]
    return float(np.median(ok)), float(np.percentile(ok, 90)), int(np.isnan(e).sum())


def test_true_mask_grasp_centre_median_error_below_1_5_cm(measurements):
    referable = [r for r in measurements if r["referable"]]
    assert len(referable) >= MIN_OBJECTS, f"only {len(referable)} referable objects in scenes {SCENES}"
    median, p90, no_pose = _summary(referable, "clean")
    table, _ = _table(referable, "clean")
    n_median, n_p90, n_no_pose = _summary(referable, "noisy")
    all_median, all_p90, all_no_pose = _summary(measurements, "clean")
    print(f"\n[grasp vs ground truth] seed {SEED}, scenes {SCENES.start}..{SCENES.stop - 1}, 640x480, true masks, "
          f"16UC1 depth, segment.yaml grasp parameters")
    print(f"referable objects: n={len(referable)}, median {median * 100:.2f} cm, p90 {p90 * 100:.2f} cm, "
          f"no pose {no_pose}")
    print(table)
    print(f"all visible objects (incl. heavily occluded / cut by the border): n={len(measurements)}, "
          f"median {all_median * 100:.2f} cm, p90 {all_p90 * 100:.2f} cm, no pose {all_no_pose}")
    print(f"with 2 mm depth noise + 2 % dropout (referable): median {n_median * 100:.2f} cm, "
          f"p90 {n_p90 * 100:.2f} cm, no pose {n_no_pose}")
    assert no_pose <= 0.05 * len(referable), f"{no_pose} referable objects got no pose"
    assert median < MEDIAN_BOUND_M, f"median centre error {median * 100:.2f} cm >= 1.5 cm\n{table}"

#!/usr/bin/env python3
"""Latency and accuracy benchmark of ``vipa_ros.geometry.estimate_grasp`` on synthetic tabletop scenes.

Timing (default): a box or a can on a table, seen from 0.6 m at 45 degrees by a VGA camera, scaled so the
object mask has about 5k / 10k / 20k / 60k pixels, with clean or noisy (1.5 mm Gaussian, 1 % dropouts,
0.5 % spikes) 16UC1 depth. Prints, per scene, the median and p90 of ``--runs`` timed calls (scenes are
interleaved run by run, so a load change on a shared machine hits them all alike) and the hardware.

Accuracy (``--sweep``): centre error over 288 views (9 shapes x 4 elevations x 4 yaws, clean float32 depth and
noisy 16UC1 depth with 1.5 mm noise and 2 % spikes). ``--save FILE.npz`` stores the per-view poses and
``--compare FILE.npz`` prints the largest differences to such a file (e.g. before / after a change).

    source env.sh
    python scripts/bench_geometry.py                 # timing table
    python scripts/bench_geometry.py --sweep         # accuracy statistics
    PYTHONPATH=/path/to/other/tree:$PYTHONPATH python scripts/bench_geometry.py   # another implementation
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import time

import cv2
import numpy as np

import vipa_ros.geometry as geometry
from vipa_ros.geometry import CameraIntrinsics, GraspParams, encode_depth_16uc1, estimate_grasp
from vipa_ros.geometry.synthetic import Box, Cylinder, Plane, Sphere, orbit_view, render, rot_z, sensor_noise

K = CameraIntrinsics(600.0, 600.0, 319.5, 239.5, 640, 480)  # RealSense-like VGA, as in the tests


def render_scene(shape, elevation_deg: float, azimuth_deg: float = 90.0, distance: float = 0.6, yaw_deg: float = 0.0):
    """(object in the camera frame, float32 depth with NaN, mask) of ``shape`` standing on a table (z = 0)."""
    shape = type(shape)(**{**shape.__dict__, "rotation": rot_z(np.radians(yaw_deg)) @ shape.rotation})
    T = orbit_view(shape.centre, elevation_deg, azimuth_deg, distance)
    obj = shape.transformed(T)
    depth, ids = render(K, [obj, Plane().transformed(T)])
    return obj, depth, ids == 0


# --- timing --------------------------------------------------------------------------------------------------

def _scaled(shape, s: float):
    if isinstance(shape, Box):
        return Box(centre=shape.centre * s, size=tuple(np.asarray(shape.size) * s))
    return Cylinder(centre=shape.centre * s, radius=shape.radius * s, height=shape.height * s)


def sized_scene(base, target_px: int):
    """The shape scaled so its mask has about ``target_px`` pixels (the mask area grows with the scale^2)."""
    s = 1.0
    for _ in range(3):
        obj, depth, mask = render_scene(_scaled(base, s), 45.0, yaw_deg=30.0)
        s *= np.sqrt(target_px / mask.sum())
    return render_scene(_scaled(base, s), 45.0, yaw_deg=30.0)


def timing_scenes(sizes: list[int]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    box = Box(centre=np.array([0.0, 0.0, 0.02]), size=(0.12, 0.06, 0.04))
    can = Cylinder(centre=np.array([0.0, 0.0, 0.06]), radius=0.033, height=0.12)
    scenes = []
    for n in sizes:
        for name, base, noisy in [("box", box, False), ("box", box, True), ("can", can, True)]:
            obj, depth, mask = sized_scene(base, n)
            if noisy:
                depth = sensor_noise(depth, seed=n, dropouts=0.01, spikes=0.005)
            label = f"{name:3s} {'noisy' if noisy else 'clean'}"
            scenes.append((label, mask, encode_depth_16uc1(depth)))
    return scenes


def hardware() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{cpu}, {os.cpu_count()} logical CPUs, load average {load}; python {platform.python_version()}, "
            f"numpy {np.__version__}, opencv {cv2.__version__} ({cv2.getNumThreads()} threads)")


def run_timing(sizes: list[int], runs: int, warmup: int = 3) -> None:
    scenes = timing_scenes(sizes)
    params = GraspParams()
    for _, mask, depth in scenes:  # warm-up: imports, caches, allocator
        for _ in range(warmup):
            estimate_grasp(mask, depth, K, params)
    times = np.zeros((len(scenes), runs))
    for i in range(runs):  # interleaved: a load change on a shared machine hits every scene alike
        for j, (_, mask, depth) in enumerate(scenes):
            t = time.perf_counter()
            estimate_grasp(mask, depth, K, params)
            times[j, i] = time.perf_counter() - t
    print(f"estimate_grasp latency, 640x480 16UC1 depth, {runs} runs per scene ({geometry.__file__})")
    print(f"hardware: {hardware()}")
    print(f"{'scene':11s} {'mask px':>8s} {'median ms':>10s} {'p90 ms':>8s} {'min ms':>8s}")
    for (label, mask, _), t in zip(scenes, times * 1e3):
        print(f"{label:11s} {int(mask.sum()):8d} {np.median(t):10.2f} {np.percentile(t, 90):8.2f} {t.min():8.2f}")


# --- accuracy sweep ------------------------------------------------------------------------------------------

SWEEP_SHAPES = {
    "ball30": Sphere(centre=np.array([0.0, 0.0, 0.03]), radius=0.03),
    "ball50": Sphere(centre=np.array([0.0, 0.0, 0.05]), radius=0.05),
    "brick": Box(centre=np.array([0.0, 0.0, 0.02]), size=(0.12, 0.06, 0.04)),
    "cube": Box(centre=np.array([0.0, 0.0, 0.03]), size=(0.06, 0.06, 0.06)),
    "tallbox": Box(centre=np.array([0.0, 0.0, 0.04]), size=(0.04, 0.04, 0.08)),
    "longbox": Box(centre=np.array([0.0, 0.0, 0.02]), size=(0.2, 0.04, 0.04)),
    "flatbox": Box(centre=np.array([0.0, 0.0, 0.01]), size=(0.1, 0.08, 0.02)),
    "can": Cylinder(centre=np.array([0.0, 0.0, 0.06]), radius=0.033, height=0.12),
    "jar": Cylinder(centre=np.array([0.0, 0.0, 0.08]), radius=0.04, height=0.16),
}
SWEEP_ELEVATIONS = (30, 45, 60, 85)
SWEEP_YAWS = (0, 30, 60, 90)


def run_sweep(save: str | None, compare: str | None) -> None:
    names, errors, positions, rotations, extents, sources = [], [], [], [], [], []
    for (name, shape), el, yaw, noisy in itertools.product(SWEEP_SHAPES.items(), SWEEP_ELEVATIONS, SWEEP_YAWS,
                                                           (False, True)):
        obj, depth, mask = render_scene(shape, el, azimuth_deg=90 + yaw / 3, yaw_deg=yaw)
        if noisy:
            depth = encode_depth_16uc1(sensor_noise(depth, seed=len(names), spikes=0.02))
        pose = estimate_grasp(mask, depth, K)
        names.append(f"{name} el{el} yaw{yaw} {'noisy' if noisy else 'clean'}")
        errors.append(np.linalg.norm(pose.position - obj.centre) if pose.has_pose else np.inf)
        positions.append(pose.position)
        rotations.append(pose.rotation)
        extents.append(pose.extent)
        sources.append(pose.centre_source)
    e = np.array(errors) * 1e3
    print(f"centre error over {len(e)} views ({geometry.__file__}):")
    print(f"  mean {e.mean():.2f} mm, median {np.median(e):.2f} mm, p90 {np.percentile(e, 90):.2f} mm, "
          f"max {e.max():.2f} mm, within 5 mm {np.mean(e < 5) * 100:.1f} %")
    for noisy in (False, True):
        sel = np.array([n.endswith("noisy") == noisy for n in names])
        print(f"  {'noisy' if noisy else 'clean'}: mean {e[sel].mean():.2f} mm, median {np.median(e[sel]):.2f} mm, "
              f"p90 {np.percentile(e[sel], 90):.2f} mm")
    print("  sources: " + ", ".join(f"{s} {sources.count(s)}" for s in sorted(set(sources))))
    if save:
        np.savez(save, names=np.array(names), errors=np.array(errors), positions=np.array(positions),
                 rotations=np.array(rotations), extents=np.array(extents), sources=np.array(sources))
    if compare:
        ref = np.load(compare)
        dp = np.linalg.norm(np.array(positions) - ref["positions"], axis=1) * 1e3
        cosang = np.clip((np.einsum("nij,nij->n", np.array(rotations), ref["rotations"]) - 1) / 2, -1, 1)
        dr = np.degrees(np.arccos(cosang))
        de = np.abs(np.array(extents) - ref["extents"]).max(axis=1) * 1e3
        changed = np.array(sources) != ref["sources"]
        print(f"vs {compare}: position diff max {dp.max():.4f} mm (mean {dp.mean():.4f}), rotation diff max "
              f"{dr.max():.4f} deg, extent diff max {de.max():.4f} mm, centre source changed in {changed.sum()} views")
        for i in np.argsort(-dp)[:5]:
            print(f"  {names[i]}: {dp[i]:.4f} mm, {dr[i]:.4f} deg, source {ref['sources'][i]} -> {sources[i]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50, help="timed calls per scene (>= 50 for the table)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 20000, 60000], help="mask sizes (px)")
    ap.add_argument("--sweep", action="store_true", help="accuracy sweep instead of timing")
    ap.add_argument("--save", help="with --sweep: save the per-view poses to this .npz")
    ap.add_argument("--compare", help="with --sweep: compare the per-view poses with this .npz")
    args = ap.parse_args()
    if args.sweep:
        run_sweep(args.save, args.compare)
    else:
        run_timing(args.sizes, args.runs)


if __name__ == "__main__":
    main()

"""`vipa demo` (`make demo`): the whole pipeline on a simulated tabletop, no hardware.

Starts exactly the processes `vipa launch use_sim:=true` starts (same launch plan, parameter file and
remappings: vipa_sim_camera + vipa_segment, real DDS between them), waits until vipa_segment is active, then
sends "pick the blue cup" and a few commands taken from the scene's ground truth (sim_camera/ground_truth). For
each command it prints which ground-truth object the predicted mask covers (IoU), the score, the 3D pose and
its error against the ground-truth centre, and saves an overlay image. All child processes are stopped at the
end (also on Ctrl-C or failure).

It judges the model honestly: a wrong object, a poor mask or no match is reported as such (the demo still
exits 0 when the pipeline itself worked; it exits 1 when a process failed or timed out).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BLUE_CUP = "pick the blue cup"
# Sentence types tried, in order, for the extra commands (one command per type, distinct targets first).
EXTRA_TYPES = ("colour", "spatial", "ordinal", "combination", "size", "command", "category")
IOU_CORRECT = 0.5


# -- ROS-free helpers (tests use them too) ----------------------------------------------------------------------
@dataclass
class Outcome:
    """How one Segmentation compares with the ground truth."""

    command: str
    expression: str
    expected: str | None          # ground-truth object the command refers to (None: unknown / ambiguous)
    chosen: str | None            # ground-truth object the target mask overlaps most (IoU), None: no mask
    iou: float                    # IoU of the target mask with `chosen`
    expected_iou: float           # IoU of the target mask with `expected` (0 when unknown)
    score: float | None           # the target's score (None: no instance)
    has_pose: bool = False
    position: list[float] | None = None
    quaternion_xyzw: list[float] | None = None
    centre_error_m: float | None = None         # |position - expected object's centre|
    chosen_centre_error_m: float | None = None  # |position - chosen object's centre| (pose accuracy on what it hit)
    others: list[tuple[str, float]] = field(default_factory=list)  # further overlapped objects (name, IoU)

    @property
    def verdict(self) -> str:
        if self.score is None:
            return "NO MATCH"
        if self.chosen is None:
            return "MISSED"  # the target mask lies on the table / background
        if self.expected is None:
            return "UNKNOWN TARGET"
        if self.chosen != self.expected:
            return "WRONG OBJECT"
        if self.iou < IOU_CORRECT:
            return "POOR MASK"
        return "CORRECT"

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["verdict"] = self.verdict
        return d


def instance_mask(instance, height: int, width: int) -> np.ndarray:
    """Full-size boolean mask of a vipa_ros/Instance (its mask is cropped to its roi)."""
    from vipa_ros.nodes.conversions import image_to_numpy

    full = np.zeros((height, width), dtype=bool)
    roi = instance.roi
    if roi.width == 0 or roi.height == 0:
        return full
    crop = image_to_numpy(instance.mask) > 0
    full[roi.y_offset:roi.y_offset + crop.shape[0], roi.x_offset:roi.x_offset + crop.shape[1]] = crop
    return full


def evaluate(seg, ground_truth: dict[str, Any], expected: str | None,
             masks: dict[str, np.ndarray] | None = None) -> Outcome:
    """Compare a vipa_ros/Segmentation's target (instances[0]) with the ground truth dict of its scene."""
    from vipa_ros.data.tabletop.live import ground_truth_masks, mask_iou, match_mask

    masks = masks if masks is not None else ground_truth_masks(ground_truth)
    out = Outcome(command=seg.command, expression=seg.expression, expected=expected, chosen=None, iou=0.0,
                  expected_iou=0.0, score=None)
    if not seg.instances:
        return out
    target = seg.instances[0]
    pred = instance_mask(target, int(ground_truth["height"]), int(ground_truth["width"]))
    ranked = match_mask(pred, ground_truth, masks)
    by_name = {o["name"]: o for o in ground_truth["objects"]}
    out.score = float(target.score)
    if ranked:
        out.chosen, out.iou = ranked[0][0]["name"], ranked[0][1]
        out.others = [(o["name"], round(i, 3)) for o, i in ranked[1:4]]
    if expected in masks:
        out.expected_iou = mask_iou(pred, masks[expected])
    if target.has_pose:
        p, q = target.pose.pose.position, target.pose.pose.orientation
        out.has_pose = True
        out.position = [p.x, p.y, p.z]
        out.quaternion_xyzw = [q.x, q.y, q.z, q.w]
        pos = np.array(out.position)
        if expected in by_name:
            out.centre_error_m = float(np.linalg.norm(pos - by_name[expected]["pose"]["position"]))
        if out.chosen in by_name:
            out.chosen_centre_error_m = float(np.linalg.norm(pos - by_name[out.chosen]["pose"]["position"]))
    return out


def objects_described(ground_truth: dict[str, Any], noun: str, colour: str | None = None,
                      size: str | None = None) -> list[dict[str, Any]]:
    """Ground-truth objects a plain description matches, with the generator's noun meanings ("cup" = mug)."""
    from vipa_ros.data.tabletop.config import load_config

    cats = load_config().noun_categories.get(noun, frozenset())
    return [o for o in ground_truth["objects"] if o["category"] in cats and (not colour or o["colour"] == colour)
            and (not size or o["size"] == size)]


def choose_commands(ground_truth: dict[str, Any], extra: int) -> list[tuple[str, str | None]]:
    """(command, expected object name): "pick the blue cup" first, then up to `extra` generator expressions of
    different types (colour, spatial, ordinal, ...), on different objects where possible. Deterministic."""
    blue_cups = objects_described(ground_truth, "cup", "blue")
    out: list[tuple[str, str | None]] = [(BLUE_CUP, blue_cups[0]["name"] if len(blue_cups) == 1 else None)]
    objects = sorted((o for o in ground_truth["objects"] if o["expressions"]), key=lambda o: -o["visible_px"])
    used_targets = {out[0][1]}
    used_texts = {BLUE_CUP}
    for kind in EXTRA_TYPES:
        if len(out) > extra:
            break
        candidates = [(o, e) for o in objects for e in o["expressions"] if e["type"] == kind]
        candidates.sort(key=lambda oe: oe[0]["name"] in used_targets)  # stable: new targets first
        for o, e in candidates:
            if e["raw"] not in used_texts:
                out.append((e["raw"], o["name"]))
                used_targets.add(o["name"])
                used_texts.add(e["raw"])
                break
    return out


def expected_for(command: str, ground_truth: dict[str, Any]) -> str | None:
    """The object a user-given command refers to, when its expression (after the command parser strips "pick",
    "could you", ...) is one of the scene's generator expressions, or "the blue cup" with one blue mug."""
    from vipa_ros.language.parser import parse_command

    want = parse_command(command).expression
    if not want:
        return None
    for o in ground_truth["objects"]:
        if any(parse_command(e["raw"]).expression == want for e in o["expressions"]):
            return o["name"]
    if want == parse_command(BLUE_CUP).expression:
        hits = objects_described(ground_truth, "cup", "blue")
        return hits[0]["name"] if len(hits) == 1 else None
    return None


def annotate(image_rgb: np.ndarray, outcome: Outcome, ground_truth: dict[str, Any],
             masks: dict[str, np.ndarray]) -> np.ndarray:
    """The overlay plus the expected object's ground-truth outline (white, dashed box) and a verdict line."""
    import cv2

    out = image_rgb.copy()
    h = out.shape[0]
    if outcome.expected in masks:
        m = masks[outcome.expected].astype(np.uint8)
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
        x, y, w, hh = next(o["bbox"] for o in ground_truth["objects"] if o["name"] == outcome.expected)
        for t in range(0, w, 8):
            cv2.line(out, (x + t, y - 3), (x + min(t + 4, w), y - 3), (255, 255, 255), 1)
        cv2.putText(out, "GT", (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    text = f"{outcome.verdict}: chose {outcome.chosen or '-'} (IoU {outcome.iou:.2f})"
    if outcome.expected:
        text += f", expected {outcome.expected}"
    if outcome.centre_error_m is not None:
        text += f", centre error {outcome.centre_error_m * 100:.1f} cm"
    cv2.rectangle(out, (0, h - 22), (out.shape[1], h), (0, 0, 0), -1)
    colour = (80, 255, 80) if outcome.verdict == "CORRECT" else (255, 90, 90)
    cv2.putText(out, text, (6, h - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return out


def slug(text: str, n: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:n] or "command"


# -- command line ---------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", default="", help="checkpoint (.safetensors); default: the shipped weights "
                        "for --model (weights/<model>.safetensors)")
    parser.add_argument("--model", default="", help="model config (default: config/segment.yaml's, vipa_s)")
    parser.add_argument("--device", default="", help="auto | cpu | cuda:N (default: config/segment.yaml's)")
    parser.add_argument("--backend", default="", help="auto | torch | onnxruntime (default: config's)")
    parser.add_argument("--command", action="append", default=[], dest="commands", metavar="TEXT",
                        help="command to send (repeatable); default: 'pick the blue cup' + --extra from the "
                             "scene's ground truth")
    parser.add_argument("--extra", type=int, default=3, help="commands chosen from the ground truth (default 3)")
    parser.add_argument("--namespace", default="vipa")
    parser.add_argument("--out", default="out/demo", help="folder for overlays, results.json and node logs")
    parser.add_argument("--startup-timeout", type=float, default=600.0,
                        help="seconds to wait for the camera and the model to be ready")
    parser.add_argument("--command-timeout", type=float, default=180.0, help="seconds to wait per command")


def run(args: argparse.Namespace) -> int:
    from vipa_ros import resources
    from vipa_ros.nodes.launch_plan import dds_environment

    os.environ.update(dds_environment())  # the nodes and this client alike
    out_dir = pathlib.Path(args.out).resolve()
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("[0-9][0-9]_*.png"):
        old.unlink()
    if args.weights and not pathlib.Path(args.weights).expanduser().is_file():
        print(f"[demo] error: weights file not found: {args.weights}")
        return 2
    if not args.weights:
        shipped = resources.weights_path(f"{pathlib.Path(args.model or 'vipa_s').stem}.safetensors")
        if not shipped.is_file():
            print(f"[demo] error: no shipped weights at {shipped}; pass --weights PATH to a vipa_ros checkpoint")
            return 2
    procs = Processes(out_dir / "logs")
    rc = 1
    try:
        procs.start(launch_commands(args))
        rc = Demo(args, out_dir, procs).run()
    except KeyboardInterrupt:
        print("\n[demo] interrupted")
        rc = 130
    finally:
        clean = procs.stop()
        print(f"[demo] child processes stopped {'cleanly' if clean else 'with errors (see logs)'}: "
              + ", ".join(f"{name} rc={rc_}" for name, rc_ in procs.exit_codes()))
    return rc if clean or rc else 1


def launch_commands(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """The node commands of `vipa launch use_sim:=true [model/weights/device/backend]` (same plan and files)."""
    from vipa_ros import resources
    from vipa_ros.nodes.cli_launch import node_command
    from vipa_ros.nodes.launch_plan import plan

    launch_args = {"use_sim": "true", "namespace": args.namespace}
    for key in ("model", "weights", "device", "backend"):
        if getattr(args, key):
            launch_args[key] = str(pathlib.Path(args.weights).expanduser().resolve()) if key == "weights" \
                else getattr(args, key)
    specs = plan(launch_args, str(resources.config_path("segment.yaml")))
    print("[demo] vipa launch " + " ".join(f"{k}:={v}" for k, v in launch_args.items()))
    return [(spec.name, node_command(spec, "info")) for spec in specs]


class Processes:
    """The node processes; each logs to logs/<name>.log. stop() sends SIGINT (as Ctrl-C in ros2 launch)."""

    def __init__(self, log_dir: pathlib.Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen, Any]] = []

    def start(self, commands: list[tuple[str, list[str]]]) -> None:
        for name, cmd in commands:
            log = open(self.log_dir / f"{name}.log", "w")
            print(f"[demo] starting {name}: {' '.join(cmd)}")
            # own process group: a Ctrl-C in the terminal reaches the demo only; the demo stops the nodes
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
                                    start_new_session=True)
            self.procs.append((name, proc, log))

    def failed(self) -> str | None:
        for name, proc, _ in self.procs:
            if proc.poll() is not None:
                return f"{name} exited with code {proc.returncode}:\n{self.tail(name)}"
        return None

    def tail(self, name: str, lines: int = 25) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join("    " + line for line in text[-lines:])

    def stop(self, timeout: float = 15.0) -> bool:
        for _, proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        clean = True
        deadline = time.monotonic() + timeout
        for name, proc, log in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"[demo] {name} did not stop within {timeout:.0f} s of SIGINT; killing it")
                proc.kill()
                proc.wait()
                clean = False
            if proc.returncode not in (0, -signal.SIGINT):
                clean = False
            log.close()
        return clean

    def exit_codes(self) -> list[tuple[str, int | None]]:
        return [(name, proc.returncode) for name, proc, _ in self.procs]


class Demo:
    def __init__(self, args: argparse.Namespace, out_dir: pathlib.Path, procs: Processes) -> None:
        self.args, self.out_dir, self.procs = args, out_dir, procs

    def run(self) -> int:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        context = rclpy.context.Context()
        rclpy.init(context=context)
        try:
            self.node = rclpy.create_node("vipa_demo", context=context)
            self.executor = SingleThreadedExecutor(context=context)
            self.executor.add_node(self.node)
            self._setup()
            return self._run()
        finally:
            if getattr(self, "executor", None) is not None:
                self.executor.shutdown()
            if getattr(self, "node", None) is not None:
                self.node.destroy_node()
            context.try_shutdown()

    # --- ROS plumbing -------------------------------------------------------------------------------------
    def _setup(self) -> None:
        from lifecycle_msgs.srv import GetState
        from rclpy.qos import (QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data)
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        from vipa_ros.msg import Segmentation
        from vipa_ros.srv import SetCommand

        ns = "/" + self.args.namespace.strip("/")
        seg_ns = f"{ns}/vipa_segment"
        n = self.node
        latched = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                             durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        reliable = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
        self.ground_truth: dict[str, Any] | None = None
        self.frames: dict[tuple[int, int], Any] = {}
        self.segs: list = []
        self.debug: dict[tuple[int, int], Any] = {}
        n.create_subscription(String, f"{ns}/sim_camera/ground_truth", self._on_gt, latched)
        n.create_subscription(Image, f"{ns}/sim_camera/color/image_raw", self._on_frame, qos_profile_sensor_data)
        n.create_subscription(Segmentation, f"{seg_ns}/segmentation", self.segs.append, reliable)
        # subscribing makes vipa_segment publish its overlay (it only renders it for subscribers)
        n.create_subscription(Image, f"{seg_ns}/debug_image", self._on_debug, reliable)
        self.get_state = n.create_client(GetState, f"{seg_ns}/get_state")
        self.set_command = n.create_client(SetCommand, f"{seg_ns}/set_command")

    def _on_gt(self, msg) -> None:
        self.ground_truth = json.loads(msg.data)

    def _on_frame(self, msg) -> None:
        _keep_recent(self.frames, _key(msg.header), msg)

    def _on_debug(self, msg) -> None:
        _keep_recent(self.debug, _key(msg.header), msg)

    def _spin_until(self, condition, timeout: float, waiting_for: str = "") -> bool:
        deadline = time.monotonic() + timeout
        next_note = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            if condition():
                return True
            failed = self.procs.failed()
            if failed:
                raise RuntimeError(failed)
            self.executor.spin_once(timeout_sec=0.05)
            if waiting_for and time.monotonic() > next_note:
                print(f"[demo]   still waiting for {waiting_for} ...", flush=True)
                next_note = time.monotonic() + 20.0
        return condition()

    def _call(self, client, request, timeout: float):
        from vipa_ros.nodes.service_call import call_service

        return call_service(client, request, self._spin_until, timeout)

    def _segment_state(self, timeout: float) -> str:
        from lifecycle_msgs.srv import GetState

        if not self.get_state.service_is_ready():
            return "starting"
        # "configuring" while the model loads (autostart runs it beside the executor), then "active"
        return self._call(self.get_state, GetState.Request(), timeout).current_state.label

    # --- the demo -----------------------------------------------------------------------------------------
    def _run(self) -> int:
        from vipa_ros.data.tabletop.live import ground_truth_masks
        from vipa_ros.srv import SetCommand

        t0 = time.monotonic()
        timeout = self.args.startup_timeout
        try:
            if not self._spin_until(lambda: self.ground_truth is not None and self.frames, min(timeout, 180.0),
                                    "the simulated camera"):
                print("[demo] error: no frames / ground truth from vipa_sim_camera\n"
                      + self.procs.tail("vipa_sim_camera"))
                return 1
            gt = self.ground_truth
            s = gt["scene"]
            print(f"[demo] camera ready after {time.monotonic() - t0:.1f} s: scene seed {s['seed']} index "
                  f"{s['index']}, {gt['width']}x{gt['height']}, {len(gt['objects'])} visible objects:")
            for o in gt["objects"]:
                print(f"         {o['name']:<14} {o['description']:<26} at "
                      f"{_fmt(o['pose']['position'])} m, {o['visible_px']} px")
            print("[demo] waiting for vipa_segment to load the model and become active ...", flush=True)
            state, last_poll = "", 0.0
            deadline = time.monotonic() + timeout

            def active() -> bool:
                nonlocal state, last_poll
                if time.monotonic() - last_poll < 1.0:
                    return False
                state = self._segment_state(max(1.0, deadline - time.monotonic()))
                last_poll = time.monotonic()
                if state == "unconfigured" and "configure failed" in self.procs.tail("vipa_segment", 200):
                    raise RuntimeError("vipa_segment could not configure (model/weights):\n"
                                       + self.procs.tail("vipa_segment"))
                return state == "active"

            if not self._spin_until(active, timeout, "vipa_segment (loading the model)"):
                print(f"[demo] error: vipa_segment not active after {timeout:.0f} s (state '{state}')\n"
                      f"{self.procs.tail('vipa_segment')}")
                return 1
            print(f"[demo] vipa_segment active after {time.monotonic() - t0:.1f} s")
        except (RuntimeError, TimeoutError) as exc:
            print(f"[demo] error: {exc}")
            return 1

        masks = ground_truth_masks(gt)
        if self.args.commands:
            commands = [(c, expected_for(c, gt)) for c in self.args.commands]
        else:
            commands = choose_commands(gt, self.args.extra)
        outcomes: list[Outcome] = []
        files: list[pathlib.Path] = []
        try:
            for i, (command, expected) in enumerate(commands, start=1):
                outcome, image_path = self._one(i, command, expected, gt, masks)
                outcomes.append(outcome)
                if image_path:
                    files.append(image_path)
            self._call(self.set_command, SetCommand.Request(command="stop"), 30.0)
        except (RuntimeError, TimeoutError) as exc:
            print(f"[demo] error: {exc}")
            return 1
        finally:
            (self.out_dir / "results.json").write_text(json.dumps(
                {"scene": gt["scene"], "weights": self.args.weights or "(shipped)",
                 "results": [o.to_dict() for o in outcomes]}, indent=2))
        correct = sum(o.verdict == "CORRECT" for o in outcomes)
        print(f"\n[demo] summary: {correct} of {len(outcomes)} commands picked the expected object "
              f"(same object as the ground truth and IoU >= {IOU_CORRECT})")
        chosen = {o.chosen for o in outcomes if o.score is not None}
        if len(outcomes) > 2 and len(chosen) == 1 and None not in chosen:
            print(f"[demo] note: every command selected {chosen.pop()}: the model is not following the text "
                  "(untrained or undertrained weights?)")
        errors = [o.centre_error_m for o in outcomes if o.verdict == "CORRECT" and o.centre_error_m is not None]
        if errors:
            print(f"[demo] centre error of the correct picks: median {np.median(errors) * 100:.1f} cm, "
                  f"max {max(errors) * 100:.1f} cm")
        print(f"[demo] overlays: {', '.join(p.name for p in files)}")
        print(f"[demo] results and overlays saved in: {self.out_dir}  (node logs in {self.out_dir / 'logs'})")
        return 0

    def _one(self, i: int, command: str, expected: str | None, gt: dict[str, Any],
             masks: dict[str, np.ndarray]) -> tuple[Outcome, pathlib.Path | None]:
        import cv2

        from vipa_ros.srv import SetCommand

        by_name = {o["name"]: o for o in gt["objects"]}
        exp_text = f"{expected} ({by_name[expected]['description']})" if expected else \
            "unknown (not a unique ground-truth referent)"
        print(f"\n[{i}] command: \"{command}\"\n    expected object: {exp_text}", flush=True)
        n_before = len(self.segs)
        reply = self._call(self.set_command, SetCommand.Request(command=command), 30.0)
        if not reply.success:
            print(f"    rejected by vipa_segment: {reply.message}")
            return Outcome(command, "", expected, None, 0.0, 0.0, None), None
        t_sent = time.monotonic()

        def answered():
            return any(m.expression == reply.expression for m in self.segs[n_before:])

        if not self._spin_until(answered, self.args.command_timeout, "the segmentation"):
            raise RuntimeError(f"no Segmentation for '{command}' within {self.args.command_timeout:.0f} s\n"
                               + self.procs.tail("vipa_segment"))
        latency = time.monotonic() - t_sent

        def answers():
            return [m for m in self.segs[n_before:] if m.expression == reply.expression]

        def usable(m) -> bool:  # a target with a pose, or no target at all
            return not m.instances or m.instances[0].has_pose

        # A frame whose depth image was dropped on the way (best-effort QoS) has a mask but no pose; like a
        # robot would, wait a few more frames for one with a pose before reporting "no pose".
        self._spin_until(lambda: any(usable(m) for m in answers()), 10.0)
        seg = next((m for m in answers() if usable(m)), answers()[0])
        skipped = answers().index(seg)
        key = _key(seg.header)
        self._spin_until(lambda: key in self.debug, 5.0)
        outcome = evaluate(seg, gt, expected, masks)
        print(f"    parsed: action='{seg.action}' expression='{seg.expression}'  "
              f"(first answer after {latency:.1f} s, inference {seg.inference_ms:.0f} ms, "
              f"{len(seg.instances)} instances" + (f"; {skipped} earlier frame(s) without a pose skipped" if skipped
                                                   else "") + ")")
        if outcome.score is None:
            print("    NO MATCH: no instance scored above score_threshold (config/segment.yaml)")
        else:
            chosen = outcome.chosen
            desc = f"{chosen} ({by_name[chosen]['description']})" if chosen else "nothing (mask on table/background)"
            print(f"    chosen object: {desc}, IoU {outcome.iou:.3f}, score {outcome.score:.3f}"
                  + (f"; also overlaps {outcome.others}" if outcome.others else ""))
            if outcome.has_pose:
                print(f"    3D pose ({seg.header.frame_id}): position {_fmt(outcome.position)} m, "
                      f"quaternion xyzw {_fmt(outcome.quaternion_xyzw)}")
                if outcome.centre_error_m is not None:
                    print(f"    error vs ground-truth centre of {expected}: "
                          f"{outcome.centre_error_m * 100:.1f} cm")
                if outcome.chosen and outcome.chosen != expected and outcome.chosen_centre_error_m is not None:
                    print(f"    (vs the chosen object {outcome.chosen}: {outcome.chosen_centre_error_m * 100:.1f} cm)")
            else:
                target = seg.instances[0]
                print(f"    no 3D pose (valid depth points: {target.valid_points})")
        print(f"    verdict: {outcome.verdict}")
        image = self._overlay_base(seg, key)
        path = None
        if image is not None:
            path = self.out_dir / f"{i:02d}_{slug(command)}.png"
            cv2.imwrite(str(path), cv2.cvtColor(annotate(image, outcome, gt, masks), cv2.COLOR_RGB2BGR))
            print(f"    overlay: {path}")
        return outcome, path

    def _overlay_base(self, seg, key) -> np.ndarray | None:
        """vipa_segment's own overlay of that frame; else drawn here from the camera frame."""
        from vipa_ros.nodes.conversions import image_to_rgb
        from vipa_ros.runtime.overlay import draw_overlay
        from vipa_ros.runtime.postprocess import InstanceMask

        if key in self.debug:
            return image_to_rgb(self.debug[key])
        frame = self.frames.get(key)
        if frame is None:
            return None
        rgb = image_to_rgb(frame)
        h, w = rgb.shape[:2]
        instances = []
        for inst in seg.instances:
            m = instance_mask(inst, h, w)
            instances.append(InstanceMask(id=inst.id, score=inst.score, mask=m, area=int(m.sum()),
                                          bbox=(inst.roi.x_offset, inst.roi.y_offset, inst.roi.width,
                                                inst.roi.height)))
        return draw_overlay(rgb, instances, seg.expression)


def _keep_recent(store: dict, key, value, size: int = 60) -> None:
    store[key] = value
    while len(store) > size:
        store.pop(next(iter(store)))


def _key(header) -> tuple[int, int]:
    return int(header.stamp.sec), int(header.stamp.nanosec)


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:+.3f}" for v in values) + "]"


def main() -> int:  # python -m vipa_ros.nodes.demo
    parser = argparse.ArgumentParser(prog="vipa demo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())

"""`vipa launch [name:=value ...]`: run segment.launch.py's nodes where `ros2 launch` is not installed.

Same arguments, parameter file and remappings as launch/segment.launch.py (both use launch_plan); each node
runs as its own process from the package's lib/vipa_ros executables. Ctrl-C stops them all.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

from vipa_ros.nodes.launch_plan import ARGUMENTS, NodeSpec, dds_environment, plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("launch_args", nargs="*", metavar="NAME:=VALUE",
                        help="launch arguments: " + ", ".join(ARGUMENTS))
    parser.add_argument("--show-args", action="store_true", help="list the launch arguments and exit")
    parser.add_argument("--dry-run", action="store_true", help="print the node commands without starting them")


def executable_path(name: str) -> pathlib.Path:
    """lib/vipa_ros/<name> of the install space (as ros2 run finds it), else the source tree's bin/<name>."""
    try:
        from ament_index_python.packages import get_package_prefix

        candidate = pathlib.Path(get_package_prefix("vipa_ros")) / "lib" / "vipa_ros" / name
        if candidate.is_file():
            return candidate
    except Exception:  # noqa: BLE001 - no ament index: running from a source checkout
        pass
    return pathlib.Path(__file__).resolve().parents[2] / "bin" / name


def node_command(spec: NodeSpec, log_level: str) -> list[str]:
    cmd = [sys.executable, str(executable_path(spec.executable)), "--ros-args", "-r", f"__node:={spec.name}",
           "-r", f"__ns:=/{spec.namespace}", "--log-level", log_level]
    for params in spec.parameters:
        if isinstance(params, dict):
            for key, value in params.items():
                cmd += ["-p", f"{key}:={value if value != '' else chr(39) * 2}"]
        else:
            cmd += ["--params-file", str(params)]
    for src, dst in spec.remappings:
        cmd += ["-r", f"{src}:={dst}"]
    return cmd


def parse_launch_args(items: list[str]) -> dict[str, str]:
    args = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or name not in ARGUMENTS:
            raise SystemExit(f"bad launch argument '{item}': use NAME:=VALUE with NAME in {', '.join(ARGUMENTS)}")
        args[name] = value
    return args


def run(args: argparse.Namespace) -> int:
    if args.show_args:
        for name, (default, text) in ARGUMENTS.items():
            print(f"  {name}:={default!r:40} {text}")
        return 0
    from vipa_ros import resources

    launch_args = parse_launch_args(args.launch_args)
    log_level = launch_args.get("log_level", ARGUMENTS["log_level"][0])
    specs = plan(launch_args, str(resources.config_path("segment.yaml")))
    commands = [node_command(spec, log_level) for spec in specs]
    if launch_args.get("rviz", "false").lower() == "true":
        if shutil.which("rviz2"):
            commands.append(["rviz2", "-d", str(resources.config_path("vipa.rviz"))])
        else:
            print("[vipa launch] rviz:=true but rviz2 is not installed here; continuing without it", flush=True)
    if args.dry_run:
        for cmd in commands:
            print(" ".join(cmd))
        return 0
    env = {**os.environ, **dds_environment()}
    procs = [subprocess.Popen(cmd, env=env) for cmd in commands]
    stop = False

    def on_signal(signum, frame):  # noqa: ARG001
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop and all(p.poll() is None for p in procs):
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    failed = [p.returncode for p in procs if p.returncode not in (0, -signal.SIGINT, None)]
    return 1 if failed else 0

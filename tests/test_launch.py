"""What segment.launch.py / `vipa launch` start: the launch plan (ROS-free), the node commands, `vipa launch
--dry-run`, the rviz config, and -- where launch_ros is installed (not in the pip-only set-up) -- the launch file
itself."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
import yaml

from conftest import REPO_ROOT
from vipa_ros.nodes.cli_launch import executable_path, node_command, parse_launch_args
from vipa_ros.nodes.launch_plan import ARGUMENTS, SIM_TOPICS, NodeSpec, plan

PARAMS = "/share/vipa_ros/config/segment.yaml"
SPEECH_PARAMS = "/share/vipa_ros/config/speech.yaml"
REALSENSE = {"image": "/camera/camera/color/image_raw", "depth": "/camera/camera/aligned_depth_to_color/image_raw",
             "camera_info": "/camera/camera/color/camera_info"}


def by_exe(nodes: list[NodeSpec]) -> dict[str, NodeSpec]:
    return {n.executable: n for n in nodes}


def remaps(node: NodeSpec) -> dict[str, str]:
    return dict(node.remappings)


# -- the plan -----------------------------------------------------------------------------------------------------
def test_defaults_start_only_the_segment_node_on_realsense_topics():
    nodes = plan({}, PARAMS)
    assert [(n.executable, n.name, n.namespace) for n in nodes] == [("segment_node", "vipa_segment", "vipa")]
    seg = nodes[0]
    assert seg.parameters == [PARAMS]  # no overrides: the parameter file alone
    assert remaps(seg) == {"image": REALSENSE["image"], "image/compressed": REALSENSE["image"] + "/compressed",
                           "depth": REALSENSE["depth"], "camera_info": REALSENSE["camera_info"]}


def test_every_argument_has_a_default_and_a_description():
    assert set(ARGUMENTS) == {"namespace", "params_file", "model", "weights", "device", "backend", "image",
                              "depth", "camera_info", "command", "use_speech", "use_sim", "rviz", "log_level"}
    for name, (default, text) in ARGUMENTS.items():
        assert isinstance(default, str) and text, name


@pytest.mark.parametrize("value", ["true", "True", "1", "yes", "on"])
def test_use_sim_starts_the_sim_camera_and_wires_its_topics(value):
    nodes = plan({"use_sim": value}, PARAMS)
    assert [n.executable for n in nodes] == ["sim_camera_node", "segment_node"]
    sim, seg = nodes
    assert (sim.name, sim.namespace, sim.parameters, sim.remappings) == ("vipa_sim_camera", "vipa", [PARAMS], [])
    # relative names: both nodes resolve them in the same namespace
    assert remaps(seg) == {"image": SIM_TOPICS["image"], "image/compressed": SIM_TOPICS["image"] + "/compressed",
                           "depth": SIM_TOPICS["depth"], "camera_info": SIM_TOPICS["camera_info"]}
    assert not SIM_TOPICS["image"].startswith("/")


def test_sim_topics_are_those_the_sim_camera_publishes():
    pytest.importorskip("rclpy", reason="sim_camera_node imports rclpy")
    from vipa_ros.nodes.sim_camera_node import TOPICS

    assert {k: TOPICS[k] for k in SIM_TOPICS} == SIM_TOPICS


@pytest.mark.parametrize("value", ["false", "False", "0", "no", ""])
def test_false_values_start_no_optional_node(value):
    nodes = plan({"use_sim": value, "use_speech": value}, PARAMS)
    assert [n.executable for n in nodes] == ["segment_node"]


def test_use_sim_overrides_camera_remappings():
    nodes = plan({"use_sim": "true", "image": "/my/cam/image"}, PARAMS)
    assert remaps(by_exe(nodes)["segment_node"])["image"] == SIM_TOPICS["image"]


def test_camera_topic_remappings():
    nodes = plan({"image": "/d435/color/image_raw", "depth": "/d435/depth/image_rect_raw",
                  "camera_info": "/d435/color/camera_info"}, PARAMS)
    assert remaps(nodes[0]) == {
        "image": "/d435/color/image_raw", "image/compressed": "/d435/color/image_raw/compressed",
        "depth": "/d435/depth/image_rect_raw", "camera_info": "/d435/color/camera_info"}


def test_model_overrides_and_command_go_to_the_segment_node_only():
    args = {"model": "vipa_tiny", "weights": "/w/tiny.safetensors", "device": "cuda:1", "backend": "onnxruntime",
            "command": "pick the blue cup", "use_sim": "true", "use_speech": "true"}
    nodes = by_exe(plan(args, PARAMS))
    assert nodes["segment_node"].parameters == [PARAMS, {
        "model": "vipa_tiny", "weights": "/w/tiny.safetensors", "device": "cuda:1", "backend": "onnxruntime",
        "default_command": "pick the blue cup"}]
    assert nodes["sim_camera_node"].parameters == [PARAMS]
    assert nodes["speech_node"].parameters == [SPEECH_PARAMS, PARAMS]


def test_empty_overrides_are_not_passed():
    seg = plan({"model": "", "weights": "", "device": "", "backend": "", "command": ""}, PARAMS)[0]
    assert seg.parameters == [PARAMS]
    assert plan({"device": "cpu"}, PARAMS)[0].parameters == [PARAMS, {"device": "cpu"}]


@pytest.mark.parametrize("given,expected", [("robot1", "robot1"), ("/robot1", "robot1"), ("/robot1/", "robot1"),
                                            ("/arm/vipa", "arm/vipa"), ("", "")])
def test_namespace_applies_to_every_node(given, expected):
    nodes = plan({"namespace": given, "use_sim": "true", "use_speech": "true"}, PARAMS)
    assert {n.namespace for n in nodes} == {expected}


def test_use_speech_adds_the_speech_node():
    nodes = plan({"use_speech": "true"}, PARAMS)
    assert [(n.executable, n.name) for n in nodes] == [("segment_node", "vipa_segment"), ("speech_node", "vipa_speech")]


def test_params_file_replaces_the_default_for_every_node():
    nodes = plan({"params_file": "/my/params.yaml", "use_sim": "true", "use_speech": "true", "device": "cpu"}, PARAMS)
    assert all(n.parameters[0] == "/my/params.yaml" for n in nodes if n.executable != "speech_node")
    assert all(PARAMS not in n.parameters for n in nodes)
    # speech_node's own defaults come first, so the user's file overrides them
    assert by_exe(nodes)["speech_node"].parameters == [SPEECH_PARAMS, "/my/params.yaml"]


# -- node commands and `vipa launch` -----------------------------------------------------------------------------
def test_node_command_has_name_namespace_params_in_order_and_remappings():
    spec = NodeSpec("segment_node", "vipa_segment", "vipa", [PARAMS, {"weights": "/w.safetensors", "device": ""}],
                    [("image", "sim_camera/color/image_raw")])
    cmd = node_command(spec, "debug")
    assert cmd[0] == sys.executable and cmd[1].endswith("segment_node") and cmd[2] == "--ros-args"
    joined = " ".join(cmd)
    assert "-r __node:=vipa_segment" in joined and "-r __ns:=/vipa" in joined and "--log-level debug" in joined
    # later parameter sources win: the file comes before the -p overrides
    assert joined.index("--params-file " + PARAMS) < joined.index("-p weights:=/w.safetensors")
    assert "-p device:=''" in joined  # empty string survives the shell-less argv
    assert joined.endswith("-r image:=sim_camera/color/image_raw")


@pytest.mark.parametrize("exe", ["segment_node", "sim_camera_node", "speech_node", "vipa"])
def test_executables_exist(exe):
    path = executable_path(exe)
    assert path.is_file(), path
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env python3") and 'if __name__ == "__main__":' in text


def test_node_executables_are_installed_where_ros2_run_finds_them():
    cmake = (REPO_ROOT / "CMakeLists.txt").read_text()
    block = cmake[cmake.index("install(PROGRAMS"):]
    block = block[:block.index(")")]
    assert "DESTINATION lib/${PROJECT_NAME}" in block
    planned = {n.executable for n in plan({"use_sim": "true", "use_speech": "true"}, PARAMS)}
    present = sorted(exe for exe in planned if (REPO_ROOT / "bin" / exe).is_file())
    assert {"segment_node", "sim_camera_node", "speech_node"} <= set(present)
    for exe in present:
        assert f"bin/{exe}" in block, f"bin/{exe} is not installed to lib/vipa_ros (CMakeLists.txt)"


def test_parse_launch_args():
    assert parse_launch_args(["use_sim:=true", "command:=pick the blue cup", "weights:="]) == {
        "use_sim": "true", "command": "pick the blue cup", "weights": ""}
    with pytest.raises(SystemExit, match="bad launch argument 'nonsense:=1'"):
        parse_launch_args(["nonsense:=1"])
    with pytest.raises(SystemExit, match="NAME:=VALUE"):
        parse_launch_args(["use_sim=true"])


def _vipa(capsys, *argv: str) -> tuple[int, list[str]]:
    from vipa_ros.cli import main

    rc = main(list(argv))
    return rc, capsys.readouterr().out.strip().splitlines()


def test_dry_run_prints_the_sim_pipeline(capsys):
    rc, lines = _vipa(capsys, "launch", "--dry-run", "use_sim:=true", "command:=pick the blue cup",
                      "namespace:=demo", "log_level:=warn")
    assert rc == 0 and len(lines) == 2
    sim, seg = lines
    assert "sim_camera_node --ros-args -r __node:=vipa_sim_camera -r __ns:=/demo --log-level warn" in sim
    assert sim.endswith("config/segment.yaml")
    assert "segment_node --ros-args -r __node:=vipa_segment -r __ns:=/demo" in seg
    assert "-p default_command:=pick the blue cup" in seg
    assert "-r image:=sim_camera/color/image_raw" in seg and "-r depth:=sim_camera/depth/image_raw" in seg
    assert "-r camera_info:=sim_camera/color/camera_info" in seg


def test_dry_run_defaults_and_rviz(capsys):
    import shutil

    rc, lines = _vipa(capsys, "launch", "--dry-run", "rviz:=true", "use_speech:=true")
    assert rc == 0
    seg = [x for x in lines if "segment_node --ros-args" in x]
    assert len(seg) == 1 and f"-r image:={REALSENSE['image']}" in seg[0] and " -p " not in seg[0]
    assert any("speech_node --ros-args -r __node:=vipa_speech -r __ns:=/vipa" in x for x in lines)
    assert not any("sim_camera_node" in x for x in lines)
    if shutil.which("rviz2"):
        assert lines[-1].startswith("rviz2 -d") and lines[-1].endswith("config/vipa.rviz")
    else:
        assert any("rviz2 is not installed" in x for x in lines)


def test_show_args_lists_every_argument(capsys):
    rc, lines = _vipa(capsys, "launch", "--show-args")
    assert rc == 0
    assert [x.split(":=")[0].strip() for x in lines] == list(ARGUMENTS)


def test_vipa_launch_dry_run_from_the_command_line():
    out = subprocess.run([sys.executable, str(REPO_ROOT / "bin" / "vipa"), "launch", "--dry-run", "use_sim:=true",
                          "weights:=/tmp/w.safetensors"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2 and "sim_camera_node" in lines[0] and "-p weights:=/tmp/w.safetensors" in lines[1]


def test_demo_starts_exactly_what_vipa_launch_use_sim_starts(capsys):
    import argparse

    from vipa_ros.nodes import demo

    args = argparse.Namespace(model="", weights="", device="cpu", backend="", namespace="vipa")
    commands = demo.launch_commands(args)
    capsys.readouterr()
    _, lines = _vipa(capsys, "launch", "--dry-run", "use_sim:=true", "device:=cpu")
    assert [" ".join(cmd) for _, cmd in commands] == lines
    assert [name for name, _ in commands] == ["vipa_sim_camera", "vipa_segment"]


# -- rviz -----------------------------------------------------------------------------------------------------------
def test_rviz_config_shows_overlay_markers_pose_and_tf_in_the_optical_frame():
    cfg = yaml.safe_load((REPO_ROOT / "config" / "vipa.rviz").read_text())
    manager = cfg["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "camera_color_optical_frame"
    displays = {d["Class"]: d for d in manager["Displays"]}
    ns = "/" + ARGUMENTS["namespace"][0]
    assert displays["rviz_default_plugins/Image"]["Topic"]["Value"] == f"{ns}/vipa_segment/debug_image"
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == f"{ns}/vipa_segment/markers"
    assert displays["rviz_default_plugins/Pose"]["Topic"]["Value"] == f"{ns}/vipa_segment/target_pose"
    assert "rviz_default_plugins/TF" in displays
    assert all(d["Enabled"] for d in displays.values())
    # segment_node publishes its outputs reliably; a best-effort or transient-local subscription would not match
    for cls in ("Image", "MarkerArray", "Pose"):
        topic = displays[f"rviz_default_plugins/{cls}"]["Topic"]
        assert (topic["Reliability Policy"], topic["Durability Policy"]) == ("Reliable", "Volatile")


# -- the launch file (real ROS installations only) ----------------------------------------------------------------
def _text(value) -> str:
    """A launch value given as str, or as substitutions (launch_ros versions differ)."""
    if isinstance(value, str):
        return value
    return "".join(getattr(s, "text", str(s)) for s in value)


def _load_launch_file():
    # launch_ros first: the repository's own launch/ folder makes `import launch` succeed as a namespace package
    pytest.importorskip("launch_ros", reason="launch_ros is not installed (pip-only set-up); `vipa launch` is used")
    pytest.importorskip("launch.actions")
    spec = importlib.util.spec_from_file_location("segment_launch", REPO_ROOT / "launch" / "segment.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_file_declares_every_argument_with_its_default():
    module = _load_launch_file()
    from launch.actions import DeclareLaunchArgument

    description = module.generate_launch_description()
    declared = {a.name: a for a in description.entities if isinstance(a, DeclareLaunchArgument)}
    assert list(declared) == list(ARGUMENTS)
    for name, (default, _) in ARGUMENTS.items():
        value = declared[name].default_value
        assert _text(value) == default, name


@pytest.mark.parametrize("args,expected", [
    ({}, ["segment_node"]),
    ({"use_sim": "true"}, ["sim_camera_node", "segment_node"]),
    ({"use_sim": "true", "use_speech": "true"}, ["sim_camera_node", "segment_node", "speech_node"]),
])
def test_launch_file_starts_the_planned_nodes(args, expected):
    module = _load_launch_file()
    from launch import LaunchContext
    from launch.actions import OpaqueFunction
    from launch_ros.actions import Node

    description = module.generate_launch_description()
    context = LaunchContext()
    for name, (default, _) in ARGUMENTS.items():
        context.launch_configurations[name] = args.get(name, default)
    opaque = next(e for e in description.entities if isinstance(e, OpaqueFunction))
    nodes = [a for a in opaque.execute(context) or [] if isinstance(a, Node)]
    assert [_text(n.node_executable) for n in nodes] == expected
    assert all(_text(n.node_package) == "vipa_ros" for n in nodes)
    rviz = [e for e in description.entities if isinstance(e, Node) and _text(e.node_executable) == "rviz2"]
    assert len(rviz) == 1 and rviz[0].condition is not None

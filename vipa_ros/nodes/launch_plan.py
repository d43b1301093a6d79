"""Which nodes `segment.launch.py` starts, with which parameters and remappings: one plan, two launchers.

`launch/segment.launch.py` turns the plan into launch_ros Nodes on a ROS installation; `vipa launch` runs the
same plan as processes where the `ros2` command line is not installed (the pip-only set-up). Keeping the plan
here (no launch imports) means both start exactly the same thing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

# Launch arguments with their defaults (ROS_INTERFACE.md): the camera topics are those of realsense2_camera.
ARGUMENTS: dict[str, tuple[str, str]] = {
    "namespace": ("vipa", "namespace of all vipa_ros nodes"),
    "params_file": ("", "parameter YAML (default: the package's config/segment.yaml)"),
    "model": ("", "model config name or YAML (overrides params_file)"),
    "weights": ("", "model weights .safetensors (overrides params_file)"),
    "device": ("", "auto | cpu | cuda:N (overrides params_file)"),
    "backend": ("", "auto | torch | onnxruntime (overrides params_file)"),
    "image": ("/camera/camera/color/image_raw", "colour image topic"),
    "depth": ("/camera/camera/aligned_depth_to_color/image_raw", "depth topic aligned to the colour image"),
    "camera_info": ("/camera/camera/color/camera_info", "CameraInfo of the colour image"),
    "command": ("", "command to start with, e.g. 'pick the blue cup'"),
    "use_speech": ("false", "start speech_node (spoken commands -> command topic)"),
    "use_sim": ("false", "start the simulated MuJoCo tabletop camera instead of using camera topics"),
    "rviz": ("false", "start rviz2 with config/vipa.rviz"),
    "log_level": ("info", "debug | info | warn | error"),
}

# Fast DDS's default shared-memory segment (512 KB) drops best-effort camera frames whole; see the XML's comment.
LARGE_DATA_PROFILE = "fastdds_large_data.xml"
FASTDDS_PROFILE_VARIABLES = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")

SIM_TOPICS = {"image": "sim_camera/color/image_raw", "depth": "sim_camera/depth/image_raw",
              "camera_info": "sim_camera/color/camera_info"}


@dataclass
class NodeSpec:
    executable: str
    name: str
    namespace: str
    parameters: list = field(default_factory=list)  # YAML paths and dicts, in order (later wins)
    remappings: list[tuple[str, str]] = field(default_factory=list)


def _true(value: str) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def plan(args: dict[str, str], default_params_file: str) -> list[NodeSpec]:
    """The nodes to start for launch arguments `args` (missing ones take their defaults).

    `default_params_file` is the package's config/segment.yaml; speech_node also gets config/speech.yaml next to
    it, before params_file (whose /**/vipa_speech section, if any, wins)."""
    a = {name: args.get(name, default) for name, (default, _) in ARGUMENTS.items()}
    ns = a["namespace"].strip("/")
    params_file = a["params_file"] or default_params_file
    overrides = {k: a[k] for k in ("model", "weights", "device", "backend") if a[k]}
    if a["command"]:
        overrides["default_command"] = a["command"]
    topics = {k: a[k] for k in ("image", "depth", "camera_info")}
    nodes: list[NodeSpec] = []
    if _true(a["use_sim"]):
        topics = dict(SIM_TOPICS)
        nodes.append(NodeSpec("sim_camera_node", "vipa_sim_camera", ns, [params_file]))
    remaps = [("image", topics["image"]), ("image/compressed", topics["image"] + "/compressed"),
              ("depth", topics["depth"]), ("camera_info", topics["camera_info"])]
    nodes.append(NodeSpec("segment_node", "vipa_segment", ns, [params_file, overrides] if overrides
                          else [params_file], remaps))
    if _true(a["use_speech"]):
        speech_params = os.path.join(os.path.dirname(default_params_file), "speech.yaml")
        nodes.append(NodeSpec("speech_node", "vipa_speech", ns, [speech_params, params_file]))
    return nodes


def dds_environment(config_dir: str | None = None, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Environment variables to add so Fast DDS carries camera frames (config/fastdds_large_data.xml of
    `config_dir`, default: this installation's config directory).

    Empty when another RMW is selected or a Fast DDS profile is already set: the user's own choice wins."""
    env = os.environ if environ is None else environ
    if not env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp").startswith("rmw_fastrtps"):
        return {}
    if any(env.get(name) for name in FASTDDS_PROFILE_VARIABLES):
        return {}
    if config_dir is None:
        from vipa_ros import resources

        config_dir = str(resources.config_path())
    profile = os.path.join(config_dir, LARGE_DATA_PROFILE)
    return {name: profile for name in FASTDDS_PROFILE_VARIABLES}

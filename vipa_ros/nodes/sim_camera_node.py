"""vipa_sim_camera: a MuJoCo tabletop scene published the way an RGB-D camera driver publishes it.

Topics (relative to the node's namespace, like realsense2_camera's):
  sim_camera/color/image_raw      sensor_msgs/Image rgb8
  sim_camera/depth/image_raw      sensor_msgs/Image aligned to colour: 16UC1 mm (0 = invalid) or 32FC1 m (NaN)
  sim_camera/color/camera_info    sensor_msgs/CameraInfo (K, P, plumb_bob D = 0)
  sim_camera/depth/camera_info    the same intrinsics (depth is registered to colour)
  sim_camera/ground_truth         std_msgs/String JSON: objects, poses in the optical frame, sizes, boxes, masks
                                  (COCO RLE) and unambiguous expressions; reliable + transient local (latched)
All camera messages of one frame carry the same stamp and frame_id `camera_color_optical_frame` (REP-103);
camera topics use SENSOR_DATA QoS. The scene is rendered once and re-published at `rate_hz`; it is rendered
again only when the scene parameters change (`ros2 param set ... scene_index 3`) or on `~/next_scene`
(std_srvs/Trigger). Depth noise and dropout, when enabled, are drawn afresh for every frame.
The scene itself comes from vipa_ros.data.tabletop.live (ROS-free), i.e. the dataset generator.
"""
from __future__ import annotations

import json
import os

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy,
                       qos_profile_sensor_data)
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from vipa_ros.nodes.conversions import numpy_to_image
from vipa_ros.nodes.spin import run_node

TOPICS = {
    "image": "sim_camera/color/image_raw",
    "depth": "sim_camera/depth/image_raw",
    "camera_info": "sim_camera/color/camera_info",
    "depth_camera_info": "sim_camera/depth/camera_info",
    "ground_truth": "sim_camera/ground_truth",
}

# name -> (default, description). Defaults: scene 207 of seed 2024 holds exactly one (large) blue mug among
# other blue objects and another mug, so "pick the blue cup" is unambiguous and not trivial (the demo's scene).
PARAMETERS: dict[str, tuple[object, str]] = {
    "seed": (2024, "scene generator seed (the training set data/tabletop_v1 uses seed 1)"),
    "scene_index": (207, "scene index for that seed; change it (or call ~/next_scene) to switch scenes"),
    "split": ("val", "train | val | test (test scenes may contain held-out colour/category pairs)"),
    "width": (640, "image width (pixels)"),
    "height": (480, "image height (pixels)"),
    "rate_hz": (5.0, "publishing rate of the camera topics"),
    "frame_id": ("camera_color_optical_frame", "frame_id of every message (REP-103 optical frame)"),
    "depth_encoding": ("16UC1", "16UC1 (millimetres, 0 = invalid, like a RealSense) | 32FC1 (metres, NaN = invalid)"),
    "depth_noise_std_m": (0.0, "std of Gaussian noise added to valid depth, metres (0 = off)"),
    "depth_dropout": (0.0, "fraction of valid depth pixels randomly set invalid per frame (0 = off)"),
    "noise_seed": (-1, "seed of the noise generator (-1 = random)"),
    "tabletop_config": ("", "generator config YAML ('' = the package's config/tabletop.yaml)"),
    "ground_truth_masks": (True, "include each object's COCO RLE mask in the ground-truth JSON"),
}
SCENE_PARAMETERS = ("seed", "scene_index", "split", "width", "height", "tabletop_config", "ground_truth_masks")
MAX_SIDE = 4096


def latched_qos() -> QoSProfile:
    return QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                      durability=QoSDurabilityPolicy.TRANSIENT_LOCAL, history=QoSHistoryPolicy.KEEP_LAST)


def camera_info_msg(header, K: np.ndarray, width: int, height: int) -> CameraInfo:
    K = np.asarray(K, dtype=np.float64)
    info = CameraInfo(header=header, width=int(width), height=int(height), distortion_model="plumb_bob")
    info.d = [0.0] * 5
    info.k = [float(v) for v in K.reshape(-1)]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [float(K[0, 0]), 0.0, float(K[0, 2]), 0.0, 0.0, float(K[1, 1]), float(K[1, 2]), 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


class SimCameraNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("vipa_sim_camera", **kwargs)
        self._renderer = None
        self._renderer_key = None
        self._scene = None
        self._scene_key = None
        self._messages: dict[str, object] = {}
        self._depth_cache: Image | None = None
        self._gt_json: dict = {}
        self._gt_pending = False
        self._rng = None
        self._frames = 0
        # validated from the start: a bad value in the params file fails at start-up with the reason
        self.add_on_set_parameters_callback(self._validate)
        for name, (default, text) in PARAMETERS.items():
            # float parameters accept integers too ("rate_hz:=5" on the command line)
            self.declare_parameter(name, default, ParameterDescriptor(
                description=text, dynamic_typing=isinstance(default, float)))
        sensor = qos_profile_sensor_data
        self._pub_image = self.create_publisher(Image, TOPICS["image"], sensor)
        self._pub_depth = self.create_publisher(Image, TOPICS["depth"], sensor)
        self._pub_info = self.create_publisher(CameraInfo, TOPICS["camera_info"], sensor)
        self._pub_depth_info = self.create_publisher(CameraInfo, TOPICS["depth_camera_info"], sensor)
        self._pub_gt = self.create_publisher(String, TOPICS["ground_truth"], latched_qos())
        self._next_srv = self.create_service(Trigger, "~/next_scene", self._on_next_scene)
        self._timer = None
        self._timer_rate = None
        self._tick()  # render the first scene now: a failing config is reported at start-up
        self._ensure_timer()

    # --- parameters -------------------------------------------------------------------------------------------
    def _p(self, name: str):
        return self.get_parameter(name).value

    def _validate(self, params: list[Parameter]) -> SetParametersResult:
        for p in params:
            v = p.value
            bad = ""
            if p.name in ("width", "height") and not (isinstance(v, int) and 16 <= v <= MAX_SIDE):
                bad = f"must be an integer in [16, {MAX_SIDE}]"
            elif p.name == "scene_index" and not (isinstance(v, int) and v >= 0):
                bad = "must be an integer >= 0"
            elif p.name == "rate_hz" and not (isinstance(v, (int, float)) and not isinstance(v, bool)
                                              and 0.0 < v <= 200.0):
                bad = "must be in (0, 200]"
            elif p.name == "depth_encoding" and v not in ("16UC1", "32FC1"):
                bad = "must be 16UC1 or 32FC1"
            elif p.name == "depth_noise_std_m" and not (isinstance(v, (int, float)) and 0.0 <= v < 1.0):
                bad = "must be in [0, 1) metres"
            elif p.name == "depth_dropout" and not (isinstance(v, (int, float)) and 0.0 <= v < 1.0):
                bad = "must be in [0, 1)"
            elif p.name == "split" and v not in ("train", "val", "test"):
                bad = "must be train, val or test"
            elif p.name == "frame_id" and not str(v):
                bad = "must not be empty"
            if bad:
                return SetParametersResult(successful=False, reason=f"{p.name} {bad} (got {v!r})")
            if p.name == "noise_seed":
                self._rng = None  # re-seeded on the next frame
        return SetParametersResult(successful=True)

    def _on_next_scene(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        index = int(self._p("scene_index")) + 1
        result = self.set_parameters([Parameter("scene_index", Parameter.Type.INTEGER, index)])[0]
        response.success = bool(result.successful)
        if response.success:
            self._tick(publish_frame=False)  # render now, so the reply describes the new scene
            response.success = self._scene is not None and self._scene.index == index
        response.message = (f"scene {self._p('seed')}/{index}: {len(self._scene.objects)} objects"
                            if response.success else f"cannot switch to scene {index}: {result.reason}")
        return response

    # --- rendering --------------------------------------------------------------------------------------------
    def _render_if_needed(self) -> None:
        key = tuple(self._p(n) for n in SCENE_PARAMETERS)
        if key == self._scene_key:
            return
        seed, index, split, width, height, config, with_masks = key
        from vipa_ros.data.tabletop.live import LiveRenderer  # imports mujoco

        try:
            if self._renderer is None or self._renderer_key != (width, height, config):
                if self._renderer is not None:
                    self._renderer.close()
                    self._renderer = None
                self._renderer = LiveRenderer(width, height, config or None)
                self._renderer_key = (width, height, config)
            scene = self._renderer.render(seed, index, split)
        except Exception as exc:  # noqa: BLE001 - a bad scene/config must not kill the camera
            self._scene_key = key  # do not retry every tick; a parameter change retries
            self.get_logger().error(f"cannot render scene {seed}/{index} ({split}, {width}x{height}): "
                                    f"{type(exc).__name__}: {exc}"
                                    + ("; still publishing the previous scene" if self._scene else ""))
            return
        self._scene, self._scene_key = scene, key
        header = Image().header
        header.frame_id = self._p("frame_id")
        self._messages = {"image": numpy_to_image(scene.rgb, "rgb8", header),
                          "info": camera_info_msg(header, scene.K, scene.width, scene.height)}
        self._messages["depth_info"] = camera_info_msg(header, scene.K, scene.width, scene.height)
        self._depth_cache = None
        self._gt_pending = True
        with_masks = bool(with_masks)
        self._gt_json = scene.ground_truth(include_masks=with_masks)
        names = ", ".join(o.name for o in scene.objects)
        self.get_logger().info(
            f"scene {seed}/{index} ({split}) rendered in {scene.render_ms:.0f} ms: {scene.width}x{scene.height}, "
            f"{len(scene.objects)} visible objects ({names})")

    def _depth_message(self, header) -> Image:
        encoding = self._p("depth_encoding")
        noise, dropout = float(self._p("depth_noise_std_m")), float(self._p("depth_dropout"))
        if noise <= 0 and dropout <= 0:
            if self._depth_cache is None or self._depth_cache.encoding != encoding:
                self._depth_cache = numpy_to_image(self._scene.depth_image(encoding), encoding, header)
            msg = self._depth_cache
        else:
            if self._rng is None:
                seed = int(self._p("noise_seed"))
                self._rng = np.random.default_rng(None if seed < 0 else seed)
            msg = numpy_to_image(self._scene.depth_image(encoding, noise, dropout, self._rng), encoding, header)
        msg.header = header
        return msg

    # --- publishing -------------------------------------------------------------------------------------------
    def _ensure_timer(self) -> None:
        rate = float(self._p("rate_hz"))
        if self._timer is not None and rate == self._timer_rate:
            return
        if self._timer is not None:
            self.destroy_timer(self._timer)
        self._timer = self.create_timer(1.0 / rate, self._tick)
        self._timer_rate = rate

    def _tick(self, publish_frame: bool = True) -> None:
        self._render_if_needed()
        if self._timer is not None:
            self._ensure_timer()
        if self._scene is None:
            return
        header = self._messages["image"].header
        header.stamp = self.get_clock().now().to_msg()
        header.frame_id = self._p("frame_id")
        if self._gt_pending:
            gt = dict(self._gt_json)
            gt["frame_id"] = header.frame_id
            gt["valid_from"] = {"sec": int(header.stamp.sec), "nanosec": int(header.stamp.nanosec)}
            self._pub_gt.publish(String(data=json.dumps(gt, separators=(",", ":"))))
            self._gt_pending = False
        if not publish_frame:
            return
        for key in ("info", "depth_info"):
            self._messages[key].header = header
        depth = self._depth_message(header)
        # info and depth first: a consumer that acts on the colour image has its partners already
        self._pub_info.publish(self._messages["info"])
        self._pub_depth_info.publish(self._messages["depth_info"])
        self._pub_depth.publish(depth)
        self._pub_image.publish(self._messages["image"])
        self._frames += 1
        if self._frames == 1:
            self.get_logger().info(f"publishing on '{self.resolve_topic_name(TOPICS['image'])}' at "
                                   f"{self._p('rate_hz'):g} Hz (depth {self._p('depth_encoding')})")

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def main(args: list[str] | None = None) -> None:
    # this process only renders: skip render.py's torchvision pre-load (seconds and memory; no torch here)
    os.environ.setdefault("VIPA_RENDER_ONLY", "1")
    os.environ.setdefault("MUJOCO_GL", "egl")
    run_node(SimCameraNode, SimCameraNode.close, args=args)


if __name__ == "__main__":
    main()

"""vipa_segment: camera + command in; instance masks, grasp-ready 3D poses and rviz outputs out.

A lifecycle node that configures and activates itself (`autostart`). Camera callbacks only store the newest
frame; a worker thread runs the Segmenter and the grasp-pose estimation and publishes every output stamped
with the source image's header. Bad input is logged, counted and reported in /diagnostics; the node keeps
serving.
"""
from __future__ import annotations

import collections
import dataclasses
import statistics
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.publisher import Publisher
from rclpy.qos import QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data, qos_profile_system_default
from rclpy.task import Future
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import String
from std_srvs.srv import SetBool
from visualization_msgs.msg import MarkerArray

from vipa_ros.geometry import CameraIntrinsics, GraspParams, GraspPose, estimate_grasp, warm_up
from vipa_ros.language.parser import ParsedCommand, parse_command
from vipa_ros.msg import Segmentation
from vipa_ros.nodes import conversions
from vipa_ros.nodes.frame_sync import DepthBuffer, Frame, LatestFrameSlot
from vipa_ros.nodes.messages import segmentation_msg, target_markers, pose_stamped
from vipa_ros.nodes.lifecycle import SelfActivatingNode
from vipa_ros.nodes.spin import run_node
from vipa_ros.runtime.overlay import draw_overlay
from vipa_ros.runtime.postprocess import InstanceParams, instance_id_image
from vipa_ros.srv import Segment, SetCommand

# Parameters that need the model reloaded: changing them at runtime requires cleanup + configure.
MODEL_PARAMETERS = ("model", "weights", "backend", "device", "precision", "onnx_providers", "engine_cache_dir")
GRASP_PARAMETERS = ("min_depth", "max_depth", "mask_erode_px", "min_valid_points", "orientation", "depth_scale",
                    "max_mask_px")
# The per-frame output publishers (besides the optional vision_msgs ones), by attribute.
OUTPUT_PUBLISHERS = ("_pub_seg", "_pub_mask", "_pub_ids", "_pub_pose", "_pub_markers", "_pub_debug")
# Parameters read once when the node configures its interfaces.
INTERFACE_PARAMETERS = ("image_qos", "image_qos_depth", "depth_qos", "depth_qos_depth", "camera_info_qos",
                        "camera_info_qos_depth", "image_transport", "target_frame", "diagnostics_period_s")

DEFAULTS: dict[str, object] = {
    "autostart": True,
    "model": "vipa_s", "weights": "", "backend": "auto", "device": "auto", "precision": "fp32",
    "onnx_providers": [""], "engine_cache_dir": "~/.cache/vipa_ros",
    "default_command": "", "score_threshold": 0.5, "mask_threshold": 0.5, "max_instances": 5,
    "min_instance_area_px": 100, "keep_target": True, "max_rate_hz": 10.0, "max_image_age_ms": 500.0,
    "depth_slop_s": 0.05,
    "depth_scale": 0.0, "min_depth": 0.1, "max_depth": 5.0, "mask_erode_px": 3, "min_valid_points": 30,
    "max_mask_px": 4000, "max_poses": 1,
    "orientation": "pca",
    "target_frame": "",
    "image_qos": "sensor_data", "image_qos_depth": 1, "depth_qos": "sensor_data", "depth_qos_depth": 1,
    "camera_info_qos": "sensor_data", "camera_info_qos_depth": 1,
    "publish_debug_image": True, "publish_markers": True, "image_transport": "raw", "diagnostics_period_s": 1.0,
    "image_timeout_s": 5.0,
}


def make_qos(name: str, depth: int) -> QoSProfile:
    profiles = {"sensor_data": qos_profile_sensor_data, "system_default": qos_profile_system_default}
    if name in profiles:
        base = profiles[name]
        return QoSProfile(depth=depth, reliability=base.reliability, durability=base.durability,
                          history=base.history)
    if name in ("reliable", "best_effort"):
        reliability = QoSReliabilityPolicy.RELIABLE if name == "reliable" else QoSReliabilityPolicy.BEST_EFFORT
        return QoSProfile(depth=depth, reliability=reliability)
    raise ValueError(f"unknown QoS '{name}' (sensor_data | reliable | best_effort | system_default)")


def _subscribed(publisher: Publisher) -> bool:
    return publisher.get_subscription_count() > 0


def stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


@dataclass
class OneShot:
    """A `~/segment` request waiting for the next frame; `done` completes once the worker served it, or once
    `deadline` (time.monotonic()) passed without a frame."""

    command: ParsedCommand
    timeout_s: float
    deadline: float
    done: Future = field(default_factory=Future)
    result: Segmentation | None = None
    error: str = ""


@dataclass
class Stats:
    processed: int = 0
    dropped_stale: int = 0
    bad_input: int = 0
    no_target: int = 0
    last_error: str = ""
    last_error_time: float = 0.0
    last_warning: str = ""
    stage_ms: dict[str, collections.deque] = field(default_factory=dict)
    done_times: collections.deque = field(default_factory=lambda: collections.deque(maxlen=50))

    def record(self, timings: dict[str, float]) -> None:
        for stage, ms in timings.items():
            self.stage_ms.setdefault(stage, collections.deque(maxlen=50)).append(ms)
        self.done_times.append(time.monotonic())

    def rate_hz(self) -> float:
        if len(self.done_times) < 2 or time.monotonic() - self.done_times[-1] > 5.0:
            return 0.0
        return (len(self.done_times) - 1) / max(self.done_times[-1] - self.done_times[0], 1e-6)


class SegmentNode(SelfActivatingNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("vipa_segment", **kwargs)
        for name, default in DEFAULTS.items():
            descriptor = ParameterDescriptor(read_only=False, dynamic_typing=False)
            self.declare_parameter(name, default, descriptor)
        self._segmenter = None
        self._configure_error = ""
        self._configuring_since: float | None = None  # time.monotonic() while on_configure loads the model
        self._color = LatestFrameSlot()
        self._depth = DepthBuffer()
        self._camera_info: CameraInfo | None = None
        self._lock = threading.Lock()
        self._command: ParsedCommand | None = None
        self._last_command: ParsedCommand | None = None  # the cleared one: what "it" refers to
        self._command_done = False  # keep_target == False: segmented once already
        self._one_shots: collections.deque[OneShot] = collections.deque()
        # Triggered by the worker when a one-shot request is done: wakes the executor, which then resumes the
        # `~/segment` coroutine awaiting it (completing a Future alone does not wake a waiting executor).
        self._one_shot_done = self.create_guard_condition(lambda: None)
        self._inference_enabled = True
        self._active = False
        self._activated_at, self._last_image = 0.0, None  # time.monotonic() of activation / of the last image
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._stats = Stats()
        self._last_run = 0.0
        self._inputs = []
        self._tf_buffer = None
        self._vision = None
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._start_diagnostics_and_autostart(self.get_parameter("diagnostics_period_s").value,
                                              self.get_parameter("autostart").value)

    # --- lifecycle ----------------------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        from vipa_ros.runtime.segmenter import ModelLoadError, Segmenter, SegmenterConfig

        p = self._params(MODEL_PARAMETERS)
        self._configuring_since = time.monotonic()
        config = SegmenterConfig(model=p["model"], weights=p["weights"], backend=p["backend"], device=p["device"],
                                 precision=p["precision"], onnx_providers=[x for x in p["onnx_providers"] if x],
                                 engine_cache_dir=p["engine_cache_dir"])
        try:
            self._segmenter = Segmenter(config)
            warm_up()  # the grasp estimator's compiled kernels: loaded now, not on the first frame
        except (ModelLoadError, RuntimeError, ValueError, OSError) as exc:
            self._configuring_since = None
            self._configure_error = f"configure failed, node stays unconfigured: {exc}"
            self._error(self._configure_error)
            return TransitionCallbackReturn.FAILURE
        self._configure_error = ""
        self._configuring_since = None
        info = self._segmenter.info
        self.get_logger().info(
            f"VIPA loaded: model={info['model']} backend={info['backend']} device={info['device']} "
            f"precision={info['precision']} input={info['input_size']} weights={info['weights']}")
        try:
            self._create_interfaces()
        except ValueError as exc:
            self._error(f"configure failed: {exc}")
            self._segmenter = None
            return TransitionCallbackReturn.FAILURE
        default = self.get_parameter("default_command").value
        if default:
            self._set_command(default)
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="vipa_inference", daemon=True)
        self._worker.start()
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self._active = True
        self._activated_at, self._last_image = time.monotonic(), None
        topic = "image/compressed" if self._p("image_transport") == "compressed" else "image"
        self.get_logger().info(f"active: waiting for images on '{self.resolve_topic_name(topic)}'")
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self.shutdown_worker()
        self._destroy_interfaces()
        self._segmenter = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self.shutdown_worker()
        return TransitionCallbackReturn.SUCCESS

    def shutdown_worker(self) -> None:
        self._active = False
        self._stop.set()
        self._color.wake()
        if self._worker is not None:
            self._worker.join(timeout=5.0)
            self._worker = None
        with self._lock:
            pending, self._one_shots = list(self._one_shots), collections.deque()
        for job in pending:  # nobody else will answer them
            job.error = "the node stopped before a frame was taken"
            self._finish_one_shot(job, None)

    # --- interfaces -----------------------------------------------------------------------------------------
    def _create_interfaces(self) -> None:
        p = self._params(INTERFACE_PARAMETERS)
        image_qos = make_qos(p["image_qos"], p["image_qos_depth"])
        sensors = MutuallyExclusiveCallbackGroup()
        services = ReentrantCallbackGroup()
        if p["image_transport"] == "compressed":
            self._inputs.append(self.create_subscription(
                CompressedImage, "image/compressed", self._on_image, image_qos, callback_group=sensors))
        elif p["image_transport"] == "raw":
            self._inputs.append(self.create_subscription(
                Image, "image", self._on_image, image_qos, callback_group=sensors))
        else:
            raise ValueError(f"image_transport must be raw or compressed, not '{p['image_transport']}'")
        self._inputs += [
            self.create_subscription(Image, "depth", self._on_depth,
                                     make_qos(p["depth_qos"], p["depth_qos_depth"]), callback_group=sensors),
            self.create_subscription(CameraInfo, "camera_info", self._on_camera_info,
                                     make_qos(p["camera_info_qos"], p["camera_info_qos_depth"]),
                                     callback_group=sensors),
            self.create_subscription(String, "command", self._on_command, 10, callback_group=services),
        ]
        reliable = QoSProfile(depth=5, reliability=QoSReliabilityPolicy.RELIABLE)
        self._pub_seg = self.create_lifecycle_publisher(Segmentation, "~/segmentation", reliable)
        self._pub_mask = self.create_lifecycle_publisher(Image, "~/mask", reliable)
        self._pub_ids = self.create_lifecycle_publisher(Image, "~/instance_mask", reliable)
        self._pub_pose = self.create_lifecycle_publisher(PoseStamped, "~/target_pose", reliable)
        self._pub_markers = self.create_lifecycle_publisher(MarkerArray, "~/markers", reliable)
        self._pub_debug = self.create_lifecycle_publisher(Image, "~/debug_image", reliable)
        self._service_handles = [
            self.create_service(SetCommand, "~/set_command", self._on_set_command, callback_group=services),
            self.create_service(Segment, "~/segment", self._on_segment, callback_group=services),
            self.create_service(SetBool, "~/enable", self._on_enable, callback_group=services),
        ]
        self._setup_optional_outputs(p["target_frame"], reliable)

    def _setup_optional_outputs(self, target_frame: str, qos: QoSProfile) -> None:
        try:
            from vision_msgs.msg import Detection2DArray, Detection3DArray

            self._vision = (self.create_lifecycle_publisher(Detection2DArray, "~/detections", qos),
                            self.create_lifecycle_publisher(Detection3DArray, "~/detections_3d", qos))
        except ImportError:
            self._vision = None
            self.get_logger().info("vision_msgs not installed: ~/detections and ~/detections_3d are not published")
        self._tf_buffer = None
        if target_frame:
            try:
                import tf2_ros

                self._tf_buffer = tf2_ros.Buffer()
                self._tf_listener = tf2_ros.TransformListener(self._tf_buffer, self)
            except ImportError:
                self._error(f"target_frame '{target_frame}' is set but tf2_ros is not installed: "
                            "poses stay in the camera optical frame")

    def _destroy_interfaces(self) -> None:
        for sub in self._inputs:
            self.destroy_subscription(sub)
        self._inputs = []
        for srv in getattr(self, "_service_handles", []):
            self.destroy_service(srv)
        self._service_handles = []
        for pub in self._output_publishers():
            self.destroy_publisher(pub)
        for name in OUTPUT_PUBLISHERS:
            setattr(self, name, None)
        self._vision = None

    # --- callbacks: store only ------------------------------------------------------------------------------
    def _on_image(self, msg) -> None:
        self._last_image = time.monotonic()
        if self._active:
            self._color.put(msg, stamp_ns(msg.header))

    def _on_depth(self, msg: Image) -> None:
        self._depth.put(msg, stamp_ns(msg.header))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _on_command(self, msg: String) -> None:
        self._set_command(msg.data)

    def _on_set_command(self, request: SetCommand.Request, response: SetCommand.Response):
        parsed = self._set_command(request.command)
        response.success = not parsed.error
        response.message = parsed.error or ("cleared" if parsed.is_stop or not parsed.expression
                                            else f"segmenting '{parsed.expression}'")
        response.action, response.expression = parsed.action, parsed.expression
        return response

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response):
        self._inference_enabled = bool(request.data)
        response.success = True
        response.message = "inference enabled" if self._inference_enabled else "inference paused (model stays loaded)"
        self.get_logger().info(response.message)
        return response

    async def _on_segment(self, request: Segment.Request, response: Segment.Response) -> Segment.Response:
        with self._lock:
            parsed = self._resolve_pronoun(parse_command(request.command))
        if parsed.error or not parsed.expression:
            response.success = False
            response.message = parsed.error or f"nothing to segment in command '{request.command[:80]}'"
            return response
        if not self._active:
            response.success, response.message = False, "node is not active"
            return response
        timeout = request.timeout_s if request.timeout_s > 0 else 10.0
        job = OneShot(parsed, timeout, time.monotonic() + timeout)
        with self._lock:
            self._one_shots.append(job)
        # awaited, not blocked on: the executor keeps taking camera frames and serving everything else meanwhile
        # (one thread is enough for the node, see main())
        await job.done
        response.success = job.result is not None
        response.message = job.error or "ok"
        if job.result is not None:
            response.segmentation = job.result
        return response

    def _resolve_pronoun(self, parsed: ParsedCommand) -> ParsedCommand:
        """"put it down", "give it to me": the object is the one the previous command selected."""
        if not parsed.uses_previous_target or parsed.expression:
            return parsed
        previous = self._command or self._last_command
        if previous is None:
            self._warn(f"'{parsed.raw[:80]}' refers to a previous object, but there was no previous command")
            return parsed
        return dataclasses.replace(parsed, expression=previous.expression)

    def _set_command(self, text: str) -> ParsedCommand:
        parsed = parse_command(text)
        with self._lock:
            parsed = self._resolve_pronoun(parsed)
            if parsed.error:
                self._warn(f"command rejected: {parsed.error}")
                self._command = None
            elif parsed.is_stop or not parsed.expression:
                self._last_command = self._command or self._last_command
                self._command = None
                self.get_logger().info("command cleared")
            else:
                self._command = parsed
                self._command_done = False
                self.get_logger().info(f"command: action='{parsed.action}' expression='{parsed.expression}'"
                                       + (" (truncated)" if parsed.truncated else ""))
        return parsed

    def _on_set_parameters(self, params) -> SetParametersResult:
        for param in params:
            if param.name in MODEL_PARAMETERS + INTERFACE_PARAMETERS and self._segmenter is not None:
                return SetParametersResult(successful=False, reason=(
                    f"'{param.name}' takes effect on configure: deactivate, cleanup, set it, configure"))
            if param.name == "default_command":
                self._set_command(str(param.value))
            if param.name == "orientation" and param.value not in ("pca", "camera"):
                return SetParametersResult(successful=False, reason="orientation must be pca or camera")
        return SetParametersResult(successful=True)

    # --- worker ---------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            frame = self._color.take(timeout=0.1)
            self._expire_one_shots()
            if frame is None or not self._active or not self._inference_enabled:
                continue
            with self._lock:
                one_shot = self._one_shots.popleft() if self._one_shots else None
                command = self._command
                if one_shot is None and (command is None or self._command_done):
                    continue
            age_ms = (time.monotonic() - frame.received) * 1e3
            if one_shot is None and age_ms > self.get_parameter("max_image_age_ms").value:
                self._stats.dropped_stale += 1
                continue
            max_rate = self.get_parameter("max_rate_hz").value
            if one_shot is None and max_rate > 0 and time.monotonic() - self._last_run < 1.0 / max_rate:
                continue
            self._last_run = time.monotonic()
            try:
                result = self._process(frame, one_shot.command if one_shot else command, publish=one_shot is None)
            except conversions.ImageConversionError as exc:
                self._stats.bad_input += 1
                self._error(f"bad image: {exc}")
                result = None
                if one_shot:
                    one_shot.error = f"bad image: {exc}"
            except Exception as exc:  # noqa: BLE001 - the worker must survive anything and report it
                self._error(f"processing failed: {type(exc).__name__}: {exc}")
                result = None
                if one_shot:
                    one_shot.error = f"processing failed: {exc}"
            if one_shot is not None:
                self._finish_one_shot(one_shot, result)
            elif result is not None and not self.get_parameter("keep_target").value:
                self._command_done = True

    def _expire_one_shots(self) -> None:
        now = time.monotonic()
        with self._lock:
            expired = [job for job in self._one_shots if now > job.deadline]
            for job in expired:
                self._one_shots.remove(job)
        for job in expired:
            job.error = f"no camera frame within {job.timeout_s:.1f} s"
            self._finish_one_shot(job, None)

    def _finish_one_shot(self, job: OneShot, result: Segmentation | None) -> None:
        job.result = result
        job.done.set_result(None)
        self._one_shot_done.trigger()

    def _process(self, frame: Frame, command: ParsedCommand, publish: bool) -> Segmentation:
        queue_ms = (time.monotonic() - frame.received) * 1e3  # image callback -> worker: executor and hand-over
        t0 = time.perf_counter()
        msg = frame.msg
        rgb = conversions.compressed_to_rgb(msg) if isinstance(msg, CompressedImage) else conversions.image_to_rgb(msg)
        header = msg.header
        decode_ms = (time.perf_counter() - t0) * 1e3
        params = InstanceParams(mask_threshold=self._p("mask_threshold"), score_threshold=self._p("score_threshold"),
                                min_instance_area_px=self._p("min_instance_area_px"),
                                max_instances=self._p("max_instances"))
        result = self._segmenter.segment(rgb, command.expression, params)
        t3 = time.perf_counter()
        poses, pose_header = self._estimate_poses(header, rgb.shape[:2], result.instances)
        timings = dict(result.timings_ms)
        timings["preprocess"] += decode_ms
        timings["3d"] = (time.perf_counter() - t3) * 1e3
        seg = segmentation_msg(header, command.raw, command.action, command.expression, result.instances, poses,
                               pose_header, timings["model"])
        if not result.instances:
            self._stats.no_target += 1
            self._warn(f"no object matches '{command.expression}' (best score below score_threshold)")
        if publish:
            self._publish(seg, header, pose_header, rgb, result, poses, command)
        timings["publish"] = (time.perf_counter() - t0) * 1e3 - sum(timings.values())
        timings["queue"] = queue_ms
        self._stats.processed += 1
        self._stats.record(timings)
        return seg

    def _estimate_poses(self, header, shape, instances) -> tuple[list[GraspPose], object]:
        """Grasp pose per instance, or has_pose False with the reason (which also goes to diagnostics)."""
        reason = ""
        info = self._camera_info
        depth_frame = self._depth.nearest(stamp_ns(header), self._p("depth_slop_s"))
        depth = None
        if info is None:
            reason = "no CameraInfo received on 'camera_info'"
        elif depth_frame is None:
            reason = ("no depth frame within depth_slop_s of the image stamp" if len(self._depth)
                      else "no depth received on 'depth'")
        else:
            try:
                depth = conversions.depth_to_numpy(depth_frame.msg)
            except conversions.ImageConversionError as exc:
                self._stats.bad_input += 1
                reason = f"bad depth image: {exc}"
            else:
                if depth.shape[:2] != tuple(shape):
                    reason = (f"depth {depth.shape[1]}x{depth.shape[0]} does not match image {shape[1]}x{shape[0]}"
                              " (depth must be aligned to the colour image)")
                    depth = None
        if reason and instances:
            self._warn(f"no 3D pose: {reason}")
        pose_header = header
        if depth is None:
            return [GraspPose.invalid(reason) for _ in instances], pose_header
        try:
            intrinsics = CameraIntrinsics.from_k(info.k, info.width, info.height).for_image(shape[0], shape[1])
        except ValueError as exc:
            self._warn(f"no 3D pose: bad CameraInfo: {exc}")
            return [GraspPose.invalid(f"bad CameraInfo: {exc}") for _ in instances], pose_header
        grasp = GraspParams.from_mapping(self._params(GRASP_PARAMETERS))
        encoding = depth_frame.msg.encoding.replace("mono16", "16UC1")
        limit = self._p("max_poses")
        # the grasp pipeline needs the target's pose; each further one costs ~6 ms of CPU on the critical path
        poses = [estimate_grasp(inst.mask, depth, intrinsics, grasp, encoding=encoding)
                 if limit <= 0 or k < limit else GraspPose.invalid(f"not estimated (max_poses = {limit})")
                 for k, inst in enumerate(instances)]
        failed = next((p.reason for p in poses[:1] if not p.has_pose), "")
        if failed:
            self._warn(f"no 3D pose for the target: {failed}")
        return self._to_target_frame(poses, header)

    def _to_target_frame(self, poses: list[GraspPose], header):
        target = self.get_parameter("target_frame").value
        if not target or self._tf_buffer is None or target == header.frame_id:
            return poses, header
        from rclpy.time import Time

        from vipa_ros.geometry import transform_from_tq, transform_pose

        try:
            tf = self._tf_buffer.lookup_transform(target, header.frame_id, Time.from_msg(header.stamp))
        except Exception as exc:  # noqa: BLE001 - tf2 raises several lookup exception types
            self._warn(f"no transform {header.frame_id} -> {target}: {exc}; poses stay in {header.frame_id}")
            return poses, header
        t, q = tf.transform.translation, tf.transform.rotation
        matrix = transform_from_tq((t.x, t.y, t.z), (q.x, q.y, q.z, q.w))
        out_header = type(header)(stamp=header.stamp, frame_id=target)
        return [transform_pose(p, matrix) if p.has_pose else p for p in poses], out_header

    # --- outputs --------------------------------------------------------------------------------------------
    def _publish(self, seg, header, pose_header, rgb, result, poses, command) -> None:
        self._pub_seg.publish(seg)
        # The other outputs repeat parts of `seg` for rviz and other tools. Building them (a full-size 16-bit id
        # image, markers) cost ~1.5 ms per frame on the critical path, so each is only built while something
        # subscribes to it, as ROS drivers do; `seg` always goes out.
        shape = rgb.shape[:2]
        target = result.target
        if _subscribed(self._pub_mask):
            mask = target.mask.astype(np.uint8) * 255 if target is not None else np.zeros(shape, np.uint8)
            self._pub_mask.publish(conversions.numpy_to_image(mask, "mono8", header))
        if _subscribed(self._pub_ids):
            ids = instance_id_image(result.instances, shape)
            self._pub_ids.publish(conversions.numpy_to_image(ids, "16UC1", header))
        target_pose = poses[0] if poses and poses[0].has_pose else None
        if target_pose is not None and _subscribed(self._pub_pose):
            self._pub_pose.publish(pose_stamped(pose_header, target_pose))
        if self._p("publish_markers") and _subscribed(self._pub_markers):
            label = f"{command.expression} ({target.score:.2f})" if target is not None else ""
            self._pub_markers.publish(target_markers(pose_header, target_pose, label, "vipa_target"))
        if self._p("publish_debug_image") and _subscribed(self._pub_debug):
            note = "" if target_pose is not None or target is None else "(no 3D pose)"
            overlay = draw_overlay(rgb, result.instances, command.expression, note)
            self._pub_debug.publish(conversions.numpy_to_image(overlay, "rgb8", header))
        if self._vision is not None:
            from vipa_ros.nodes.vision_outputs import detections_2d, detections_3d

            if _subscribed(self._vision[0]):
                self._vision[0].publish(detections_2d(header, command.expression, result.instances))
            if _subscribed(self._vision[1]):
                self._vision[1].publish(detections_3d(pose_header, command.expression, result.instances, poses))

    def _subscribed_outputs(self) -> str:
        """The per-frame outputs something subscribes to (the others are not built), for diagnostics."""
        names = [pub.topic_name.rsplit("/", 1)[-1] for pub in self._output_publishers() if _subscribed(pub)]
        return ", ".join(names) or "none"

    def _output_publishers(self) -> list[Publisher]:
        pubs = [getattr(self, name, None) for name in OUTPUT_PUBLISHERS] + list(self._vision or ())
        return [pub for pub in pubs if pub is not None]

    def _publish_diagnostics(self) -> None:
        stats = self._stats
        status = DiagnosticStatus(name=f"{self.get_fully_qualified_name()}: pipeline", hardware_id=self._hardware_id())
        recent_error = stats.last_error and time.monotonic() - stats.last_error_time < 10.0
        with self._lock:
            command = self._command
        silent = self._image_input_problem()
        if recent_error:
            status.level, status.message = DiagnosticStatus.ERROR, stats.last_error
        elif silent:
            status.level, status.message = DiagnosticStatus.WARN, silent
            self.get_logger().warning(silent, throttle_duration_sec=30.0)
        elif self._segmenter is None and self._configuring_since is not None:
            status.level = DiagnosticStatus.OK
            status.message = f"configuring: loading the model ({time.monotonic() - self._configuring_since:.0f} s)"
        elif self._segmenter is None:
            status.level = DiagnosticStatus.ERROR
            status.message = self._configure_error or "not configured (model not loaded)"
        elif not self._inference_enabled:
            status.level, status.message = DiagnosticStatus.OK, "paused (~/enable false)"
        elif command is None:
            status.level, status.message = DiagnosticStatus.OK, "idle: no command"
        elif stats.last_warning:
            status.level, status.message = DiagnosticStatus.WARN, stats.last_warning
        else:
            status.level, status.message = DiagnosticStatus.OK, f"segmenting '{command.expression}'"
        values = {
            "command": command.raw if command else "", "expression": command.expression if command else "",
            "rate_hz": f"{stats.rate_hz():.2f}", "frames_processed": str(stats.processed),
            "frames_dropped_stale": str(stats.dropped_stale), "frames_replaced": str(self._color.replaced),
            "bad_input": str(stats.bad_input), "no_target": str(stats.no_target),
            "camera_info": "yes" if self._camera_info is not None else "missing",
            "image_age_s": f"{time.monotonic() - self._last_image:.1f}" if self._last_image is not None else "never",
            "last_error": stats.last_error, "last_warning": stats.last_warning,
            "subscribed_outputs": self._subscribed_outputs(),
        }
        for stage, samples in stats.stage_ms.items():
            values[f"latency_{stage}_ms"] = f"{statistics.median(samples):.2f}"
        if self._segmenter is not None:
            values.update({f"{k}": v for k, v in self._segmenter.info.items()})
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._pub_diag.publish(array)
        stats.last_warning = ""  # warnings are per period; errors age out after 10 s

    def _image_input_problem(self) -> str:
        """Why no camera image has arrived for image_timeout_s while active ("" when images flow). The usual
        causes differ in whether anyone publishes the topic, so that is said too."""
        timeout = self._p("image_timeout_s")
        if not self._active or timeout <= 0 or not self._inputs:
            return ""
        since = self._last_image if self._last_image is not None else self._activated_at
        silent_s = time.monotonic() - since
        if silent_s < timeout:
            return ""
        topic = self._inputs[0].topic_name
        what = f"no image on '{topic}' for {silent_s:.0f} s"
        publishers = self.count_publishers(topic)
        if publishers == 0:
            return f"{what}: nobody publishes it (is the camera running? check the 'image' remapping)"
        return (f"{what} although {publishers} publisher(s) exist: incompatible QoS (image_qos reliable against "
                "a best-effort camera) or, with Fast DDS, frames larger than its default shared-memory segment "
                "(load config/fastdds_large_data.xml in the camera's process too)")

    def _hardware_id(self) -> str:
        if self._segmenter is None:
            return "vipa"
        info = self._segmenter.info
        return f"{info['backend']}:{info['device']}"

    # --- helpers ------------------------------------------------------------------------------------------
    def _p(self, name: str):
        return self.get_parameter(name).value

    def _params(self, names) -> dict:
        return {name: self.get_parameter(name).value for name in names}

    def _error(self, text: str) -> None:
        self._stats.last_error, self._stats.last_error_time = text, time.monotonic()
        self.get_logger().error(text, throttle_duration_sec=2.0)

    def _warn(self, text: str) -> None:
        self._stats.last_warning = text
        self.get_logger().warning(text, throttle_duration_sec=5.0)


def main(args: list[str] | None = None) -> None:
    # One executor thread: every callback only stores or answers at once (`~/segment` awaits the worker as a
    # coroutine), and a single-threaded executor hands each message to its callback sooner than a thread pool
    # (a 1 MB image echo between two processes: 2.6 ms round trip against 5.1 ms with 4 threads).
    run_node(SegmentNode, SegmentNode.shutdown_worker, args=args)


if __name__ == "__main__":
    main()

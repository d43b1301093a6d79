"""Grasp pose from synthetic RGB-D: analytic ray-cast scenes with known centres, axes and sizes.

Scenes are tabletop views: a camera at 0.6 m looking down at an object standing on a table (the table is in
the depth image, so masks shifted onto the background really do sample the table behind the object).
"""
from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from vipa_ros.geometry import (CameraIntrinsics, GraspParams, GraspPose, encode_depth_16uc1, estimate_grasp,
                               make_transform, matrix_from_quaternion, transform_pose)
from vipa_ros.geometry.synthetic import (Box, Cylinder, Plane, Sphere, look_at, orbit_view, render, rot_x, rot_z,
                                         sensor_noise)

K = CameraIntrinsics(600.0, 600.0, 319.5, 239.5, 640, 480)  # a RealSense-like VGA camera

BALL = Sphere(centre=np.array([0.0, 0.0, 0.03]), radius=0.03)              # 6 cm ball on the table
BRICK = Box(centre=np.array([0.0, 0.0, 0.02]), size=(0.12, 0.06, 0.04))      # 12 x 6 x 4 cm block
CUBE = Box(centre=np.array([0.0, 0.0, 0.03]), size=(0.06, 0.06, 0.06))
CAN = Cylinder(centre=np.array([0.0, 0.0, 0.06]), radius=0.033, height=0.12)


SHAPES = {"ball": BALL, "brick": BRICK, "cube": CUBE, "can": CAN}


def yawed(shape, yaw_deg: float):
    """The shape turned about the vertical by yaw (degrees)."""
    return type(shape)(**{**shape.__dict__, "rotation": rot_z(np.radians(yaw_deg)) @ shape.rotation})


def scene(shape, elevation_deg: float, azimuth_deg: float = 90.0, distance: float = 0.6,
          look_offset=(0.0, 0.0, 0.0), yaw: float = 0.0):
    """Render ``shape`` (a name in SHAPES or a Shape; world frame, table at z = 0) turned by ``yaw`` degrees,
    from a camera ``distance`` away at the given elevation and azimuth (degrees).

    Returns (object in the camera frame, depth float32 metres with NaN, object mask); cached, so callers must
    not modify the arrays in place. ``look_offset`` aims the camera beside the object (off the image centre).
    """
    if isinstance(shape, str):
        return _scene(shape, float(elevation_deg), float(azimuth_deg), float(distance), tuple(look_offset),
                      float(yaw))
    return _render_scene(yawed(shape, yaw), elevation_deg, azimuth_deg, distance, look_offset)


@functools.lru_cache(maxsize=64)
def _scene(name, elevation_deg, azimuth_deg, distance, look_offset, yaw):
    obj, depth, mask = _render_scene(yawed(SHAPES[name], yaw), elevation_deg, azimuth_deg, distance, look_offset)
    depth.flags.writeable = False  # shared between tests
    mask.flags.writeable = False
    return obj, depth, mask


def _render_scene(shape, elevation_deg, azimuth_deg, distance, look_offset):
    T = orbit_view(shape.centre, elevation_deg, azimuth_deg, distance, look_offset)
    obj = shape.transformed(T)
    depth, ids = render(K, [obj, Plane().transformed(T)])
    return obj, depth, ids == 0


def centre_error(pose: GraspPose, obj) -> float:
    return float(np.linalg.norm(pose.position - obj.centre))


def assert_valid_frame(pose: GraspPose) -> None:
    R = pose.rotation
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-9)
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-9)          # right-handed
    np.testing.assert_allclose(matrix_from_quaternion(pose.quaternion), R, atol=1e-9)
    assert pose.quaternion[3] >= 0.0
    np.testing.assert_allclose(pose.z_axis, pose.position / np.linalg.norm(pose.position), atol=1e-9)
    assert pose.z_axis[2] > 0.0                                        # away from the camera


# --- centre: the unseen-half correction --------------------------------------------------------------------

VIEWS = [(30, 90, 0), (45, 60, 0), (60, 120, 0), (45, 90, (0.1, 0.05, 0.0)), (35, 90, (-0.12, -0.06, 0.0))]


@pytest.mark.parametrize("elevation,azimuth,offset", VIEWS)
@pytest.mark.parametrize("radius", [0.03, 0.05])
def test_ball_centre_within_5mm_and_visible_centroid_is_not(elevation, azimuth, offset, radius):
    ball = Sphere(centre=np.array([0.0, 0.0, radius]), radius=radius)
    obj, depth, mask = scene(ball, elevation, azimuth, look_offset=offset if offset else (0, 0, 0))
    pose = estimate_grasp(mask, depth, K)
    assert pose.has_pose, pose.reason
    assert centre_error(pose, obj) < 0.005
    # without the correction the visible surface is ~2R/3 in front of the centre
    assert np.linalg.norm(pose.visible_centroid - obj.centre) > 0.5 * radius
    assert_valid_frame(pose)


@pytest.mark.parametrize("shape,elevation,yaw", [
    ("brick", 30, 20), ("brick", 45, 35), ("brick", 45, 70), ("brick", 60, 120), ("brick", 40, 160),
    ("cube", 30, 30), ("cube", 50, 10), ("cube", 60, 45), ("can", 30, 0), ("can", 55, 0),
])
def test_box_and_cylinder_centre_within_5mm(shape, elevation, yaw):
    obj, depth, mask = scene(shape, elevation, yaw=yaw)
    pose = estimate_grasp(mask, depth, K)
    assert pose.has_pose, pose.reason
    err = centre_error(pose, obj)
    naive = np.linalg.norm(pose.visible_centroid - obj.centre)
    assert err < 0.005, (err, pose.centre_source)
    assert naive > 0.015 and naive > 4 * err  # the correction is what gets it within tolerance
    assert_valid_frame(pose)


@pytest.mark.parametrize("shape", ["can", "brick", "cube"])
@pytest.mark.parametrize("noisy", [False, True])
def test_top_down_view_uses_the_support_plane(shape, noisy):
    # looking (almost) straight down only the top face is visible: the table around the object gives the height
    obj, depth, mask = scene(shape, 85, yaw=25)
    if noisy:  # sensor noise and 2 % spikes, also on the table ring the support plane is fitted to
        rng = np.random.default_rng(3)
        depth = depth + rng.normal(0.0, 0.0015, depth.shape).astype(np.float32)
        spikes = rng.random(depth.shape) < 0.02
        depth[spikes] = rng.uniform(0.2, 2.0, spikes.sum())
    pose = estimate_grasp(mask, depth, K)
    assert pose.centre_source == "support"
    assert centre_error(pose, obj) < 0.005
    # without the table cue a can seen from the top looks like a disc: the footprint prior alone is far off
    flat = estimate_grasp(mask, np.where(mask, depth, np.nan), K)
    assert flat.centre_source != "support"
    if shape == "can":
        assert centre_error(flat, obj) > 0.02


# open-topped, thin-walled cylinders: concave, their bounding-box centre in the empty space inside
BOWL = Cylinder(centre=np.array([0.0, 0.0, 0.025]), radius=0.08, height=0.05, wall=0.004)
TRAY = Cylinder(centre=np.array([0.0, 0.0, 0.015]), radius=0.12, height=0.03, wall=0.005)


@pytest.mark.parametrize("name,shape", [("bowl", BOWL), ("tray", TRAY)])
@pytest.mark.parametrize("elevation", [45, 60])
@pytest.mark.parametrize("noisy", [False, True])
def test_concave_object_on_a_table_is_centred_by_the_support_plane(name, shape, elevation, noisy):
    # the symmetry of the outline does not hold for an open bowl seen obliquely; its rim and the table do
    obj, depth, mask = scene(shape, elevation, azimuth_deg=110)
    # with noise, flying pixels (2 %) must not stretch the rim's extent
    measured = encode_depth_16uc1(sensor_noise(depth, seed=elevation, spikes=0.02)) if noisy else depth
    pose = estimate_grasp(mask, measured, K)
    assert pose.centre_source == "support"
    assert centre_error(pose, obj) < 0.004
    # without the table the outline cues alone are off by 4.8 (bowl at 45 degrees) to 53 mm (tray at 60)
    flat = estimate_grasp(mask, np.where(mask, depth, np.nan), K)
    assert flat.centre_source != "support" and centre_error(flat, obj) > 2 * centre_error(pose, obj)


def test_support_referee_stands_down_when_part_of_the_object_may_be_hidden():
    # a box in front hides part of the bowl's rim (the middle of the visible rim is not the bowl's), and a
    # bowl cut by the image border: the outline cues decide, as without a table
    T = orbit_view(BOWL.centre, 45, 90, 0.6)
    bowl = BOWL.transformed(T)
    blocker = Box(centre=np.array([0.03, 0.12, 0.05]), size=(0.06, 0.06, 0.1)).transformed(T)
    depth, ids = render(K, [bowl, blocker, Plane().transformed(T)])
    assert (ids == 1).sum() > 1000
    assert estimate_grasp(ids == 0, depth, K).centre_source != "support"
    _, depth, mask = scene(BOWL, 45, look_offset=(0.3, 0.0, 0.0))
    pose = estimate_grasp(mask, depth, K)
    assert pose.truncated and pose.centre_source != "support"
    # the same bowl, unoccluded and whole, is the support cue's
    _, depth, mask = scene(BOWL, 45)
    assert estimate_grasp(mask, depth, K).centre_source == "support"


# --- orientation ---------------------------------------------------------------------------------------------

def _long_axis_in_plane(obj, z: np.ndarray) -> np.ndarray:
    a = obj.rotation[:, 0]  # the box's local x is its long side
    a = a - (a @ z) * z
    return a / np.linalg.norm(a)


@pytest.mark.parametrize("yaw", [0, 20, 45, 70, 110, 150])
def test_x_axis_follows_the_long_side_with_a_deterministic_sign(yaw):
    obj, depth, mask = scene("brick", 45, yaw=yaw)
    pose = estimate_grasp(mask, depth, K)
    assert pose.orientation_source == "pca"
    long_axis = _long_axis_in_plane(obj, pose.z_axis)
    assert abs(pose.x_axis @ long_axis) > np.cos(np.radians(5.0))
    # sign rule: x points to the right half of the image (+u) at the object
    p = pose.position
    du = pose.x_axis[0] * p[2] - p[0] * pose.x_axis[2]
    assert du > 0


def test_pose_does_not_flip_between_frames():
    obj, depth, mask = scene("brick", 45, yaw=30)
    rng = np.random.default_rng(0)
    quats = []
    for _ in range(4):  # the same scene with fresh sensor noise, like consecutive frames
        noisy = depth + rng.normal(0, 0.001, depth.shape).astype(np.float32)
        quats.append(estimate_grasp(mask, noisy, K).quaternion)
    for q in quats[1:]:
        assert abs(float(q @ quats[0])) > np.cos(np.radians(2.0))  # within 4 degrees of rotation
        assert float(q @ quats[0]) > 0  # same hemisphere: no sign flip of the quaternion either


def test_round_footprint_falls_back_to_camera_aligned_axes():
    obj, depth, mask = scene("ball", 45)
    pose = estimate_grasp(mask, depth, K)
    assert pose.orientation_source == "camera_isotropic"
    assert pose.x_axis[0] > 0.99  # the camera's x, tilted only by the ray's direction


def test_camera_orientation_mode():
    obj, depth, mask = scene("brick", 45, yaw=40)
    pose = estimate_grasp(mask, depth, K, GraspParams(orientation="camera"))
    assert pose.orientation_source == "camera"
    x_expected = np.array([1.0, 0.0, 0.0]) - pose.z_axis[0] * pose.z_axis
    np.testing.assert_allclose(pose.x_axis, x_expected / np.linalg.norm(x_expected), atol=1e-9)
    assert_valid_frame(pose)


# --- extent and grasp width -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,elevation,yaw", [("brick", 45, 30), ("brick", 35, 60), ("cube", 45, 20),
                                                 ("ball", 45, 0), ("can", 40, 0)])
def test_extent_and_grasp_width(shape, elevation, yaw):
    obj, depth, mask = scene(shape, elevation, yaw=yaw)
    pose = estimate_grasp(mask, depth, K)
    true = [obj.extent_along(pose.rotation[:, i]) for i in range(3)]
    # across the ray: the mask outline, within a few pixels (1 px = 1 mm here)
    assert pose.extent[0] == pytest.approx(true[0], abs=0.004)
    assert pose.extent[1] == pytest.approx(true[1], abs=0.004)
    assert pose.grasp_width == pose.extent[1]
    # along the ray: estimated (unseen), looser
    assert pose.extent[2] == pytest.approx(true[2], abs=0.012)
    if pose.orientation_source == "pca":
        assert pose.extent[0] >= pose.extent[1]  # x is the major axis


# --- depth encodings, invalid data, borders, misregistration, noise -------------------------------------------

def test_16uc1_and_32fc1_give_the_same_pose():
    obj, depth, mask = scene("brick", 45, yaw=30)
    mm = encode_depth_16uc1(depth)
    metres = np.where(mm > 0, mm.astype(np.float32) / 1000.0, np.nan).astype(np.float32)
    a = estimate_grasp(mask, mm, K)                       # 16UC1, auto scale 0.001
    b = estimate_grasp(mask, metres, K)                   # 32FC1, auto scale 1.0
    c = estimate_grasp(mask, mm, K, GraspParams(depth_scale=0.001), encoding="16UC1")
    np.testing.assert_allclose(a.position, b.position, atol=1e-5)
    np.testing.assert_allclose(a.rotation, b.rotation, atol=1e-5)
    np.testing.assert_allclose(a.extent, b.extent, atol=1e-5)
    np.testing.assert_allclose(a.position, c.position, atol=1e-12)
    assert centre_error(a, obj) < 0.005  # 1 mm quantisation does not hurt


@pytest.mark.parametrize("invalid", ["zeros16", "nan32", "inf32", "zeros32", "out_of_range"])
def test_all_invalid_depth_gives_no_pose_with_a_reason(invalid):
    obj, depth, mask = scene("ball", 45)
    depth_in = {"zeros16": np.zeros(depth.shape, np.uint16), "nan32": np.full(depth.shape, np.nan, np.float32),
                "inf32": np.full(depth.shape, np.inf, np.float32), "zeros32": np.zeros(depth.shape, np.float32),
                "out_of_range": depth}[invalid]
    params = GraspParams(max_depth=0.3) if invalid == "out_of_range" else GraspParams()
    pose = estimate_grasp(mask, depth_in, K, params)
    assert not pose.has_pose
    assert "no valid depth" in pose.reason
    assert pose.valid_points == 0


def test_other_failures_have_reasons():
    obj, depth, mask = scene("ball", 45)
    empty = estimate_grasp(np.zeros_like(mask), depth, K)
    assert not empty.has_pose and empty.reason == "empty mask"
    wrong = estimate_grasp(mask, depth[:-1], K)
    assert not wrong.has_pose and "shape" in wrong.reason
    tiny = np.zeros_like(mask)
    tiny[240, 320] = True  # one pixel on the ball
    few = estimate_grasp(tiny, depth, K)
    assert not few.has_pose and "min_valid_points" in few.reason
    bad_encoding = estimate_grasp(mask, depth, K, encoding="32SC1")
    assert not bad_encoding.has_pose and "encoding" in bad_encoding.reason


def test_partial_depth_still_gives_a_pose():
    obj, depth, mask = scene("brick", 45, yaw=30)
    holes = depth.copy()
    rows, cols = np.nonzero(mask)
    holes[:, cols.min() + (cols.max() - cols.min()) * 2 // 3:] = np.nan  # no depth on the right third
    rng = np.random.default_rng(1)
    holes[rng.random(depth.shape) < 0.3] = np.nan                          # and 30 % dropouts elsewhere
    pose = estimate_grasp(mask, holes, K)
    assert pose.has_pose
    assert centre_error(pose, obj) < 0.008
    assert pose.valid_points < 0.6 * mask.sum()


def test_thin_object_survives_erosion():
    # a 4 px wide stick: erosion by 2 px would empty it, so the un-eroded mask is used
    stick = Box(centre=np.array([0.0, 0.0, 0.002]), size=(0.15, 0.004, 0.004))
    obj, depth, mask = scene(stick, 70)
    pose = estimate_grasp(mask, depth, K, GraspParams(mask_erode_px=3, min_valid_points=20))
    assert pose.has_pose, pose.reason
    assert centre_error(pose, obj) < 0.01


def test_object_cut_by_the_image_border():
    obj, depth, mask = scene("brick", 45, look_offset=(0.32, 0.0, 0.0), yaw=30)
    rows, cols = np.nonzero(mask)
    assert cols.max() == K.width - 1 and mask.sum() > 5000  # about a fifth of the brick is out of view
    pose = estimate_grasp(mask, depth, K)
    assert pose.has_pose and pose.truncated
    # the centre is biased towards the visible part (measured ~18 mm here): usable, and flagged as such
    assert centre_error(pose, obj) < 0.03
    assert np.all(np.isfinite(pose.position)) and np.all(pose.extent > 0)
    assert_valid_frame(pose)


def test_object_touching_the_border_but_fully_visible():
    obj, depth, mask = scene("ball", 45, look_offset=(0.31, 0.0, 0.0))
    rows, cols = np.nonzero(mask)
    assert cols.max() == K.width - 1
    pose = estimate_grasp(mask, depth, K)
    assert pose.has_pose and pose.truncated
    assert centre_error(pose, obj) < 0.005


@pytest.mark.parametrize("shift", [(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1)])
@pytest.mark.parametrize("shape,yaw", [("brick", 30), ("ball", 0)])
def test_depth_misregistered_by_one_pixel(shift, shape, yaw):
    obj, depth, mask = scene(shape, 45, yaw=yaw)
    shifted = np.roll(depth, shift, axis=(0, 1))  # depth one pixel off the colour image the mask came from
    pose = estimate_grasp(mask, shifted, K)
    assert centre_error(pose, obj) < 0.005
    # without erosion the boundary samples the table behind the object (and the outlier filter has to cope)
    raw = estimate_grasp(mask, shifted, K, GraspParams(mask_erode_px=0))
    assert raw.has_pose


def test_flying_pixels_at_edges_are_what_erosion_is_for():
    # real sensors blend object and background depth on pixels at a depth edge ("flying pixels"); with the
    # depth also one pixel off the mask, those blends sit inside the mask's boundary ring
    from scipy.ndimage import maximum_filter, minimum_filter

    rng = np.random.default_rng(0)
    errors = {0: [], 2: []}
    for shape, el, yaw in [("brick", 45, 30), ("brick", 60, 70), ("can", 45, 0)]:
        obj, depth, mask = scene(shape, el, yaw=yaw)
        d = np.nan_to_num(depth, nan=10.0)
        hi, lo = maximum_filter(d, 3), minimum_filter(d, 3)
        blend = lo + rng.uniform(0.0, 1.0, d.shape) * (hi - lo)
        flying = np.where(hi - lo > 0.02, blend, depth).astype(np.float32)
        flying = np.roll(flying, (1, 1), axis=(0, 1))
        for erode in errors:
            # at full resolution: the ring of blended pixels is what the erosion width is chosen for
            pose = estimate_grasp(mask, flying, K, GraspParams(mask_erode_px=erode, max_mask_px=0))
            errors[erode].append(centre_error(pose, obj))
    assert max(errors[2]) < 0.0025, errors
    assert max(errors[0]) > 2 * max(errors[2]), errors


def test_noisy_depth_with_outliers():
    rng = np.random.default_rng(2)
    errors = []
    for shape, yaw in [("brick", 30), ("ball", 0), ("cube", 20), ("can", 0)]:
        obj, depth, mask = scene(shape, 45, yaw=yaw)
        noisy = depth + rng.normal(0.0, 0.0015, depth.shape) * (depth / 0.6) ** 2  # ~1.5 mm at 0.6 m, grows with z^2
        spikes = rng.random(depth.shape) < 0.03
        noisy[spikes] = rng.uniform(0.2, 2.0, spikes.sum())                        # 3 % flying pixels / multipath
        pose = estimate_grasp(mask, encode_depth_16uc1(noisy), K)
        errors.append(centre_error(pose, obj))
    assert max(errors) < 0.005, errors


def test_mask_bleeding_onto_an_object_behind():
    # over-segmentation: the mask spills 8 px onto a tall box standing just behind the ball
    import cv2

    c = BALL.centre
    eye = c + 0.6 * np.array([0.0, np.cos(np.radians(45)), np.sin(np.radians(45))])
    T = look_at(eye, c)
    ball = BALL.transformed(T)
    behind = Box(centre=np.array([0.04, -0.08, 0.1]), size=(0.1, 0.05, 0.2)).transformed(T)
    depth, ids = render(K, [ball, behind, Plane().transformed(T)])
    mask = ids == 0
    bleed = cv2.dilate(mask.astype(np.uint8), np.ones((17, 17), np.uint8)).astype(bool) & (ids == 1)
    assert bleed.sum() > 300
    pose = estimate_grasp(mask | bleed, depth, K)
    assert centre_error(pose, ball) < 0.005  # the outlier filters reject the spill and cut it from the outline
    assert pose.extent[0] == pytest.approx(0.06, abs=0.004)


def test_intrinsics_from_another_resolution_are_rescaled():
    obj, depth, mask = scene("brick", 45, yaw=30)
    hi_res = CameraIntrinsics(1200.0, 1200.0, 639.5, 479.5, 1280, 960)  # CameraInfo of the same camera at 2x
    a = estimate_grasp(mask, depth, K)
    b = estimate_grasp(mask, depth, hi_res)
    np.testing.assert_allclose(a.position, b.position, atol=1e-9)


def test_transform_pose_to_another_frame():
    obj, depth, mask = scene("brick", 45, yaw=30)
    pose = estimate_grasp(mask, depth, K)
    T = make_transform(rot_x(0.3) @ rot_z(-1.1), [0.4, -0.2, 1.0])  # camera -> base_link
    moved = transform_pose(pose, T)
    np.testing.assert_allclose(moved.matrix, T @ pose.matrix, atol=1e-12)
    np.testing.assert_allclose(matrix_from_quaternion(moved.quaternion), moved.rotation, atol=1e-9)
    assert moved.grasp_width == pose.grasp_width and moved.has_pose
    invalid = GraspPose.invalid("no depth")
    assert transform_pose(invalid, T) is invalid


def test_grasp_params_validation_and_mapping():
    with pytest.raises(ValueError):
        GraspParams(orientation="random")
    with pytest.raises(ValueError):
        GraspParams(min_depth=2.0, max_depth=1.0)
    p = GraspParams.from_mapping({"min_depth": 0.2, "orientation": "CAMERA", "image_qos": "sensor_data"})
    assert p.min_depth == 0.2 and p.orientation == "camera"


def test_tabletop_sweep_accuracy():
    """Regression guard over a grid of views, including the known weak ones (long side pointing at the camera).

    The docs claim: most within 5 mm, none beyond 15 mm, and the correction always beats the visible centroid.
    """
    errors, naive = [], []
    for shape, el, yaw in itertools.product(["brick", "cube", "can"], [35, 60], [0, 45, 90]):
        obj, depth, mask = scene(shape, el, azimuth_deg=90 + yaw / 3, yaw=yaw)
        pose = estimate_grasp(mask, depth, K)
        errors.append(centre_error(pose, obj))
        naive.append(np.linalg.norm(pose.visible_centroid - obj.centre))
    errors, naive = np.array(errors), np.array(naive)
    assert np.mean(errors < 0.005) >= 0.85, np.round(errors * 1000, 1)
    assert errors.max() < 0.015, np.round(errors * 1000, 1)
    assert np.all(errors < naive)


@pytest.mark.parametrize("shape", ["brick", "can"])
def test_large_masks_are_sampled_on_a_coarser_grid_with_the_same_accuracy(shape):
    """A close-up object (tens of thousands of mask pixels) is processed on every s-th pixel: the pose stays
    within a few mm of the full-resolution one and of the truth, and the extent within the sampling pitch."""
    obj, depth, mask = scene(shape, 45.0, distance=0.3, yaw=30.0)
    assert mask.sum() > 20000
    full = estimate_grasp(mask, depth, K, GraspParams(max_mask_px=0))
    sampled = estimate_grasp(mask, depth, K, GraspParams(max_mask_px=5000))
    assert sampled.has_pose and full.has_pose
    assert np.linalg.norm(sampled.position - full.position) < 0.003
    assert centre_error(sampled, obj) < 0.005
    assert np.allclose(sampled.extent[:2], full.extent[:2], atol=0.003)
    assert abs(sampled.z_axis @ full.z_axis) > 0.999
    assert_valid_frame(sampled)
    # masks under the default limit (these objects seen from 1 m) are processed at full resolution
    obj, depth, mask = scene(shape, 45.0, distance=1.0, yaw=30.0)
    assert 1000 < mask.sum() < GraspParams().max_mask_px
    assert np.array_equal(estimate_grasp(mask, depth, K).position,
                          estimate_grasp(mask, depth, K, GraspParams(max_mask_px=0)).position)

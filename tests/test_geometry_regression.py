"""The optimised grasp estimator gives the same poses as the original, straightforward implementation.

The reference values below were computed with the original code (full-image operations, sort-based window
medians) before it was optimised (bounding-box crops, OpenCV filters, convex-hull widths); an entry whose
estimate was since changed on purpose was re-computed and says so. The optimisations are exact rewrites (same
points, same medians, same extremes), so the poses agree to floating-point rounding, except the symmetric
pairing's nearest-outline table, which in rare near-ties takes a partner up to 0.2 px farther than the nearest
one (tested below; it moves these poses by well under the tolerance). The tolerances (0.5 mm, 0.5 degree) leave
room for that and summation order, not for a different estimate.
Scenes cover every centre source, noise with spikes, dropouts, a misregistered depth, a mask spilling onto a
neighbour, an object cut by the image border and a large (~60k px) mask.
"""
from __future__ import annotations

import numpy as np
import pytest

from vipa_ros.geometry import CameraIntrinsics, GraspParams, encode_depth_16uc1, estimate_grasp
from vipa_ros.geometry.synthetic import Box, Cylinder, Plane, Sphere, orbit_view, render, rot_z, sensor_noise

K = CameraIntrinsics(600.0, 600.0, 319.5, 239.5, 640, 480)


def _render(shapes, elevation_deg, azimuth_deg=90.0, distance=0.6, look_offset=(0.0, 0.0, 0.0), yaw_deg=0.0):
    """Depth (float32 m, NaN) and ids of ``shapes`` (world frame, table at z = 0; the first is the target,
    turned by ``yaw_deg``) seen from ``distance`` at the given elevation / azimuth, aimed at the target."""
    target = shapes[0]
    target = type(target)(**{**target.__dict__, "rotation": rot_z(np.radians(yaw_deg)) @ target.rotation})
    T = orbit_view(target.centre, elevation_deg, azimuth_deg, distance, look_offset)
    return render(K, [s.transformed(T) for s in [target, *shapes[1:]]] + [Plane().transformed(T)])


BRICK = Box(centre=np.array([0.0, 0.0, 0.02]), size=(0.12, 0.06, 0.04))
CUBE = Box(centre=np.array([0.0, 0.0, 0.03]), size=(0.06, 0.06, 0.06))
CAN = Cylinder(centre=np.array([0.0, 0.0, 0.06]), radius=0.033, height=0.12)
BALL = Sphere(centre=np.array([0.0, 0.0, 0.03]), radius=0.03)
BIG_BOX = Box(centre=np.array([0.0, 0.0, 0.052]), size=(0.312, 0.156, 0.104))  # ~60k px mask


def scene(name):
    """(mask, raw depth, params) of a named regression scene (full resolution: no coarse grid for large masks,
    which is a deliberate approximation tested in test_geometry_pose.py)."""
    params = GraspParams(max_mask_px=0)
    if name == "brick_clean":
        depth, ids = _render([BRICK], 45, yaw_deg=30)
        return ids == 0, depth, params
    if name == "brick_camera_no_erosion":
        depth, ids = _render([BRICK], 35, yaw_deg=60)
        params = GraspParams(orientation="camera", mask_erode_px=0, max_mask_px=0)
        return ids == 0, encode_depth_16uc1(sensor_noise(depth, 1)), params
    if name == "can_noisy_spikes":
        depth, ids = _render([CAN], 55)
        return ids == 0, encode_depth_16uc1(sensor_noise(depth, 2, spikes=0.03)), params
    if name == "cube_top_down_noisy":
        depth, ids = _render([CUBE], 85, yaw_deg=25)
        return ids == 0, sensor_noise(depth, 3, spikes=0.02), params
    if name == "ball_misregistered":
        depth, ids = _render([BALL], 45)
        return ids == 0, np.roll(depth, (1, 1), axis=(0, 1)), params
    if name == "brick_dropouts":
        depth, ids = _render([BRICK], 45, yaw_deg=30)
        return ids == 0, sensor_noise(depth, 4, dropouts=0.3), params
    if name == "brick_cut_by_border":
        depth, ids = _render([BRICK], 45, look_offset=(0.32, 0.0, 0.0), yaw_deg=30)
        return ids == 0, depth, params
    if name == "ball_mask_bleeding":
        import cv2

        behind = Box(centre=np.array([0.04, -0.08, 0.1]), size=(0.1, 0.05, 0.2))
        depth, ids = _render([BALL, behind], 45)
        bleed = cv2.dilate((ids == 0).astype(np.uint8), np.ones((17, 17), np.uint8)).astype(bool) & (ids == 1)
        return (ids == 0) | bleed, depth, params
    if name == "big_box_noisy":
        depth, ids = _render([BIG_BOX], 45, yaw_deg=30)
        return ids == 0, encode_depth_16uc1(sensor_noise(depth, 5, spikes=0.005, dropouts=0.01)), params
    raise KeyError(name)


# Computed with the original implementation (see the module docstring):
# position (m), rotation (3x3, columns x y z), extent (m), valid_points, centre_source, orientation_source, truncated
REFERENCE = {
    "brick_clean": dict(  # 8885 mask px
        position=[-0.0005402, 0.0002813, 0.5993799],
        rotation=[[0.9412335, 0.3377552, -0.0009013],
                  [-0.337755, 0.941234, 0.0004692],
                  [0.0010068, -0.0001372, 0.9999995]],
        extent=[0.1375262, 0.0765167, 0.1035238], valid_points=8157,
        centre_source="symmetry", orientation_source="pca", truncated=False),
    "brick_camera_no_erosion": dict(  # 7854 mask px
        position=[-0.0001539, -1.13e-05, 0.599682],
        rotation=[[1.0, -0.0, -0.0002567],
                  [-0.0, 1.0, -1.89e-05],
                  [0.0002567, 1.89e-05, 1.0]],
        extent=[0.1139393, 0.1089423, 0.1311163], valid_points=7854,
        centre_source="symmetry", orientation_source="camera", truncated=False),
    "can_noisy_spikes": dict(  # 7440 mask px
        position=[9.29e-05, -0.0003046, 0.5991981],
        rotation=[[0.0011618, -0.9999993, 0.0001551],
                  [0.9999992, 0.0011617, -0.0005083],
                  [0.0005081, 0.0001557, 0.9999999]],
        extent=[0.1228476, 0.0719132, 0.1343227], valid_points=6587,
        centre_source="symmetry", orientation_source="pca", truncated=False),
    # support cue changed on purpose (the middle of the top's extent, not its mean): 0.8 mm nearer the true
    # centre (0, 0, 0.6) than the original's [0.0010635, 0.0011939, 0.5994903]
    "cube_top_down_noisy": dict(  # 4074 mask px
        position=[0.0003196, 0.0006382, 0.5999242],
        rotation=[[0.9999999, 0.0, 0.0005328],
                  [-6e-07, 0.9999994, 0.0010637],
                  [-0.0005328, -0.0010637, 0.9999993]],
        extent=[0.0819904, 0.0839901, 0.0698481], valid_points=3509,
        centre_source="support", orientation_source="camera_isotropic", truncated=False),
    "ball_misregistered": dict(  # 2836 mask px
        position=[0.0, 0.0, 0.6000711],
        rotation=[[1.0, 0.0, 0.0],
                  [0.0, 1.0, 0.0],
                  [0.0, 0.0, 1.0]],
        extent=[0.0600071, 0.0600071, 0.060067], valid_points=2460,
        centre_source="footprint_min", orientation_source="camera_isotropic", truncated=False),
    "brick_dropouts": dict(  # 8885 mask px
        position=[-0.0004576, 0.0002778, 0.5997697],
        rotation=[[0.9436733, 0.3308778, -0.0007629],
                  [-0.3308775, 0.9436736, 0.0004633],
                  [0.0008732, -0.0001847, 0.9999996]],
        extent=[0.1377062, 0.0772739, 0.1063625], valid_points=5729,
        centre_source="symmetry", orientation_source="pca", truncated=False),
    "brick_cut_by_border": dict(  # 8684 mask px
        position=[0.2371905, 0.1188276, 0.5309247],
        rotation=[[0.9050883, -0.1452781, 0.3996367],
                  [0.0684766, 0.9773571, 0.2002099],
                  [-0.4196739, -0.1538418, 0.8945426]],
        extent=[0.0922362, 0.0767847, 0.0901342], valid_points=8107,
        centre_source="symmetry", orientation_source="pca", truncated=True),
    "ball_mask_bleeding": dict(  # 3306 mask px
        position=[-9e-06, -5.8e-06, 0.6003163],
        rotation=[[1.0, -0.0, -1.5e-05],
                  [-0.0, 1.0, -9.7e-06],
                  [1.5e-05, 9.7e-06, 1.0]],
        extent=[0.0600316, 0.0600316, 0.0605574], valid_points=2531,
        centre_source="footprint_min", orientation_source="camera_isotropic", truncated=False),
    "big_box_noisy": dict(  # 60524 mask px
        position=[0.0022861, -0.0008994, 0.6008983],
        rotation=[[0.9415431, 0.336871, 0.0038045],
                  [-0.3368677, 0.9415508, -0.0014968],
                  [-0.0040863, 0.0001277, 0.9999916]],
        extent=[0.3591455, 0.2054912, 0.2767816], valid_points=57749,
        centre_source="symmetry", orientation_source="pca", truncated=False),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_pose_matches_the_original_implementation(name):
    ref = REFERENCE[name]
    mask, depth, params = scene(name)
    pose = estimate_grasp(mask, depth, K, params)
    assert pose.has_pose, pose.reason
    assert (pose.centre_source, pose.orientation_source, pose.truncated) == (
        ref["centre_source"], ref["orientation_source"], ref["truncated"])
    assert pose.valid_points == ref["valid_points"]
    np.testing.assert_allclose(pose.position, ref["position"], atol=5e-4)
    np.testing.assert_allclose(pose.extent, ref["extent"], atol=5e-4)
    # rotation angle between the two frames: arccos((trace(R_ref^T R) - 1) / 2)
    cos_angle = (np.trace(np.asarray(ref["rotation"]).T @ pose.rotation) - 1.0) / 2.0
    assert np.degrees(np.arccos(np.clip(cos_angle, -1.0, 1.0))) < 0.5


# --- the rewrites behind the speed-up are exact -------------------------------------------------------------

def _range_image(seed, shape=(60, 80), border=2):
    """A noisy slanted range image with dropouts, spikes and a NaN border, and its valid pixels."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    timg = 0.6 + 0.002 * cols + rng.normal(0.0, 0.0015, shape)
    timg[rng.random(shape) < 0.15] = np.nan                                   # dropouts
    spikes = rng.random(shape) < 0.03
    timg[spikes] = rng.uniform(0.4, 0.9, spikes.sum())                        # spikes
    timg[20:35, 30:50] += 0.05                                                 # a depth step
    timg[:border], timg[-border:], timg[:, :border], timg[:, -border:] = np.nan, np.nan, np.nan, np.nan
    r, c = np.nonzero(np.isfinite(timg))
    return timg, r, c


@pytest.mark.parametrize("seed", range(5))
def test_despike_and_front_range_equal_the_window_medians(seed):
    from vipa_ros.geometry.windows import despike, front_range, window_median

    def nanmedian_windows(img, rows, cols, size, min_support):  # the definition, with np.nanmedian
        r = size // 2
        padded = np.pad(img, r, constant_values=np.nan)
        out = []
        for row, col in zip(rows, cols):
            win = padded[row:row + size, col:col + size]
            out.append(np.nanmedian(win) if np.isfinite(win).sum() >= min_support else np.nan)
        return np.array(out)

    timg, r, c = _range_image(seed)
    t = timg[r, c]
    tol = 0.008
    reference = nanmedian_windows(timg, r, c, 5, 9)
    np.testing.assert_array_equal(window_median(timg, r, c, 5, 9), reference)
    expected = np.abs(t - reference) > tol
    np.testing.assert_array_equal(despike(timg, r, c, t, tol), expected)
    assert 0 < expected.sum() < len(t)
    timg[r[expected], c[expected]] = np.nan
    assert front_range(timg, r, c) == np.nanmin(nanmedian_windows(timg, r, c, 3, 5))
    assert front_range(np.full((5, 5), np.nan), np.array([2]), np.array([2])) is None
    # pixels on the image's edge: outside counts as missing
    timg, r, c = _range_image(seed, border=0)
    np.testing.assert_array_equal(window_median(timg, r, c, 5, 9), nanmedian_windows(timg, r, c, 5, 9))


def test_compiled_pairing_percentile_equals_numpy_to_the_last_bit():
    from vipa_ros.geometry.pairing import percentile_sorted

    rng = np.random.default_rng(0)
    for trial in range(400):
        values = rng.normal(size=int(rng.integers(1, 60)))
        if trial % 2:
            values = np.round(values, 1)  # ties
        s = np.sort(values)
        for q in (90.0, 67.0, 25.0, 50.0, 0.0, 100.0):
            assert percentile_sorted(s, q) == np.percentile(values, q)


@pytest.mark.parametrize("seed", range(3))
def test_outline_widths_from_the_convex_hull_equal_those_from_every_pixel(seed):
    import cv2

    from vipa_ros.geometry.centre import Silhouette, outline_widths
    from vipa_ros.geometry.crop import Crop

    rng = np.random.default_rng(seed)
    mask = np.zeros((480, 640), np.uint8)
    for _ in range(4):  # a blob of ellipses, partly off the image
        centre = (int(rng.integers(100, 700)), int(rng.integers(50, 450)))
        axes = (int(rng.integers(10, 120)), int(rng.integers(10, 80)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    mask = mask.astype(bool)
    crop = Crop.around(mask, 11)
    sil = Silhouette.from_mask(crop.of(mask), crop)
    rows, cols = np.nonzero(mask)
    np.testing.assert_array_equal(sil.centroid, [cols.mean(), rows.mean()])
    z = np.array([0.1, -0.2, 1.0]) / np.linalg.norm([0.1, -0.2, 1.0])
    axes = [np.cross(z, [0.0, 1.0, 0.0]), np.cross(z, [1.0, 0.0, 0.0])]
    axes = [a / np.linalg.norm(a) for a in axes]
    assert len(sil.hull) < 200 < len(rows)
    np.testing.assert_allclose(outline_widths(sil.hull_rays(K), z, 0.7, axes, 0.001),
                               outline_widths(K.rays(cols, rows), z, 0.7, axes, 0.001), rtol=0, atol=1e-12)


@pytest.mark.parametrize("offset", [(0.0, 0.0, 0.0), (0.32, 0.0, 0.0)])  # the second touches the image border
def test_target_points_on_a_crop_equal_those_on_the_whole_image(offset):
    from vipa_ros.geometry.crop import Crop
    from vipa_ros.geometry.points import target_points_in_crop

    depth, ids = _render([BRICK], 45, look_offset=offset, yaw_deg=30)
    depth = sensor_noise(depth, 6, spikes=0.02)
    mask = ids == 0
    whole = target_points_in_crop(mask, depth, K, Crop(0, 0, *mask.shape, mask.shape))
    crop = Crop.around(mask, 3)
    cropped = target_points_in_crop(crop.of(mask), crop.of(depth), K, crop)
    assert whole.rejected == cropped.rejected and whole.count == cropped.count > 1000
    np.testing.assert_array_equal(whole.points, cropped.points)
    np.testing.assert_array_equal(whole.pixels, cropped.pixels)
    np.testing.assert_array_equal(whole.rejected_pixels, cropped.rejected_pixels)


def test_blocked_products_equal_plain_ones():
    from vipa_ros.geometry.products import gram, matmul_rows, rowdot

    rng = np.random.default_rng(0)
    a, b, v = rng.normal(size=(70_000, 7)), rng.normal(size=(7, 6)), rng.normal(size=3)
    np.testing.assert_allclose(matmul_rows(a, b), a @ b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gram(a), a.T @ a, rtol=1e-12)
    np.testing.assert_allclose(rowdot(a[:, :3], v), a[:, :3] @ v, rtol=1e-12, atol=1e-12)


def test_numpy_shortcuts_give_the_same_bits():
    from vipa_ros.geometry.products import cross3, median, percentiles

    rng = np.random.default_rng(1)
    for n in [*range(1, 30), 100, 101, 4999, 5000]:
        for _ in range(5):
            x = rng.normal(size=n) * rng.uniform(0.001, 10.0)
            if rng.random() < 0.3:
                x = np.round(x, 2)  # ties
            for qs in ([25.0, 75.0], [98.0], [0.0, 100.0], [50.0]):
                assert percentiles(x, qs) == list(np.percentile(x, qs))
            assert median(x) == np.median(x)
            points = rng.normal(size=(n, 3))
            assert np.array_equal(median(points, axis=0), np.median(points, axis=0))
            a, b = rng.normal(size=3), rng.normal(size=3)
            assert np.array_equal(cross3(a, b), np.cross(a, b))


def test_outline_lookup_finds_the_nearest_outline_pixel_up_to_near_ties():
    import cv2
    from scipy.spatial import cKDTree

    from vipa_ros.geometry.centre import MIRROR_TOL_PX
    from vipa_ros.geometry.pairing import OutlineLookup

    rng = np.random.default_rng(0)
    queries = differ = 0
    for trial in range(40):
        m = np.zeros((200, 200), np.uint8)
        axes = (int(rng.integers(10, 80)), int(rng.integers(10, 80)))
        cv2.ellipse(m, (100, 100), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        if trial % 2:
            cv2.rectangle(m, (int(rng.integers(20, 90)), int(rng.integers(20, 90))),
                          (int(rng.integers(110, 180)), int(rng.integers(110, 180))), 1, -1)
        v, u = np.nonzero(m & ~cv2.erode(m, np.ones((3, 3), np.uint8)).astype(bool))
        u, v = u.astype(float), v.astype(float)
        q = np.stack([rng.uniform(u.min() - 5, u.max() + 5, 2000), rng.uniform(v.min() - 5, v.max() + 5, 2000)], 1)
        q[:5] = np.nan  # a reflection behind the camera projects to NaN
        found, index = OutlineLookup(u, v, MIRROR_TOL_PX).nearest(q)
        dist, nearest = cKDTree(np.stack([u, v], 1)).query(np.nan_to_num(q, nan=-1e6),
                                                           distance_upper_bound=MIRROR_TOL_PX)
        assert not found[:5].any() and not index[~found].any()
        chosen = np.hypot(u[index] - q[:, 0], v[index] - q[:, 1])
        assert np.all(chosen[found] < MIRROR_TOL_PX)
        both = found & np.isfinite(dist)
        slack = 0.25  # px: a near-tie may pick a slightly farther partner
        assert np.all(chosen[both] - dist[both] <= slack)
        # a query with a partner well within tol is found; only the tol boundary may differ
        assert not np.any(np.isfinite(dist) & ~found & (dist < MIRROR_TOL_PX - slack))
        queries += len(q)
        differ += int(np.sum(both & (index != nearest)))
    assert differ / queries < 0.005


@pytest.mark.parametrize("seed", range(4))
def test_compiled_support_plane_fit_equals_the_numpy_fit(seed):
    from vipa_ros.geometry.planes import fit_support_plane

    def numpy_fit(P, z):  # the definition: Tukey's fences of range, then two refits on a 3-MAD band
        r = P @ z
        q1, q3 = np.percentile(r, [25.0, 75.0])
        iqr = max(q3 - q1, 0.002)
        keep = np.abs(r - 0.5 * (q1 + q3)) <= 0.5 * (q3 - q1) + 3.0 * iqr
        for _ in range(3):
            centre = P[keep].mean(axis=0)
            n = np.linalg.eigh((P[keep] - centre).T @ (P[keep] - centre))[1][:, 0]
            res = np.abs((P - centre) @ n)
            keep = res <= max(3.0 * 1.4826 * np.median(res[keep]), 0.003)
        return centre, (-n if n @ z > 0 else n), keep.mean(), np.sqrt(np.mean(res[keep] ** 2))

    rng = np.random.default_rng(seed)
    normal = np.array([0.1 * seed, -0.3, -1.0]) / np.linalg.norm([0.1 * seed, -0.3, -1.0])
    a = np.cross(normal, [1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(normal, a)
    uv = rng.uniform(-0.1, 0.1, (800, 2))
    P = np.array([0.0, 0.0, 0.7]) + uv[:, :1] * a + uv[:, 1:] * b + rng.normal(0, 0.001, (800, 1)) * normal
    P[rng.random(800) < 0.05] += [0.0, 0.0, -0.05]  # objects / spikes in front of the plane
    z = np.array([0.05, 0.1, 1.0]) / np.linalg.norm([0.05, 0.1, 1.0])
    centre, n, inliers, rms = numpy_fit(P, z)
    assert inliers > 0.9 and rms < 0.002
    r = P @ z
    q1, q3 = np.percentile(r, [25.0, 75.0])
    found, got_centre, got_n = fit_support_plane(P, z, r, q1, q3, 0.0, 0.0)
    assert found
    np.testing.assert_allclose(got_centre, centre, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_n, n, rtol=0, atol=1e-9)
    assert not fit_support_plane(P, z, r, q1, q3, 0.0, 1.0)[0]  # the final normal must face the camera within 0 deg

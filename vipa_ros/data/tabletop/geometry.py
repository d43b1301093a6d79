"""Per-object geometry of a sampled scene as seen by its camera: poses in the world and optical frames, projected
centre and box, and the table-plane coordinates that spatial expressions are judged on."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vipa_ros.data.tabletop.catalogue import CategoryModel
from vipa_ros.data.tabletop.sampling import SceneSpec
from vipa_ros.data.tabletop.transforms import pose_dict, project, world_to_camera


@dataclass
class ObjectGeometry:
    index: int
    pose_world: dict
    pose_cam: dict
    center_px: np.ndarray      # projection of the object-frame origin (u, v)
    proj_box: np.ndarray       # x0, y0, x1, y1 of the projected surface points (unoccluded, unclipped)
    depth_m: float             # z of the centre in the optical frame
    fwd_m: float               # table-plane distance of the centre ahead of the camera
    lat_m: float               # table-plane offset of the centre to the camera's right


def camera_ground_axes(R_wc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit table-plane (xy) vectors pointing ahead of and to the right of the camera."""
    fwd = R_wc[:2, 2].copy()
    if np.linalg.norm(fwd) < 1e-6:  # looking straight down: "ahead" is the image's up direction
        fwd = -R_wc[:2, 1].copy()
    fwd /= np.linalg.norm(fwd)
    right = np.array([fwd[1], -fwd[0]])  # fwd rotated by -90 degrees about z
    return fwd, right


def object_geometry(scene: SceneSpec, catalogue: dict[str, CategoryModel]) -> list[ObjectGeometry]:
    cam = scene.camera
    K = cam.K
    fwd_axis, right_axis = camera_ground_axes(cam.R_wc)
    out = []
    for o in scene.objects:
        pts_w = (catalogue[o.category].points * o.scale) @ o.R.T + o.position
        pts_c = world_to_camera(pts_w, cam.R_wc, cam.position)
        if np.any(pts_c[:, 2] <= 0.01):
            box = np.array([-1e6, -1e6, 1e6, 1e6])  # crosses the image plane: treat as covering everything
        else:
            uv = project(pts_c, K)
            box = np.concatenate([uv.min(0), uv.max(0)])
        centre_c = world_to_camera(o.position[None], cam.R_wc, cam.position)[0]
        centre_px = project(centre_c[None], K)[0] if centre_c[2] > 1e-6 else np.array([np.nan, np.nan])
        rel = o.position[:2] - cam.position[:2]
        out.append(ObjectGeometry(
            index=o.index, pose_world=pose_dict(o.position, o.R),
            pose_cam=pose_dict(centre_c, cam.R_wc.T @ o.R), center_px=centre_px, proj_box=box,
            depth_m=float(centre_c[2]), fwd_m=float(rel @ fwd_axis), lat_m=float(rel @ right_axis)))
    return out


def projected_boxes(geoms: list[ObjectGeometry]) -> np.ndarray:
    boxes = np.zeros((len(geoms) + 1, 4))
    for g in geoms:
        boxes[g.index] = g.proj_box
    return boxes

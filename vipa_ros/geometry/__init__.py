"""ROS-free geometry core: depth decoding, back-projection, robust object points and grasp poses.

Everything here speaks numpy arrays and dataclasses in the REP-103 camera optical frame (x right, y down,
z forward); message conversion lives in ``vipa_ros.nodes``. Typical use::

    from vipa_ros.geometry import CameraIntrinsics, GraspParams, estimate_grasp
    K = CameraIntrinsics.from_k(info.k, info.width, info.height)
    pose = estimate_grasp(mask, depth, K, GraspParams(mask_erode_px=2))
    if pose.has_pose: ...  # pose.position, pose.quaternion (x, y, z, w), pose.extent, pose.grasp_width
"""
from .depth import decode_depth, encode_depth_16uc1, infer_encoding, resolve_depth_scale
from .intrinsics import CameraIntrinsics, backproject_mask
from .points import TargetPoints, erode_mask, reject_outliers, select_target_points
from .centre import CentreEstimate, estimate_centre
from .pose import ORIENTATIONS, GraspParams, GraspPose, estimate_grasp, fit_grasp_pose, transform_pose, warm_up
from .transforms import (invert_transform, make_transform, matrix_from_quaternion, orthonormalize,
                         quaternion_from_matrix, transform_from_tq, transform_points)

__all__ = [
    "CameraIntrinsics", "CentreEstimate", "GraspParams", "GraspPose", "ORIENTATIONS", "TargetPoints",
    "backproject_mask", "decode_depth", "encode_depth_16uc1", "erode_mask", "estimate_centre", "estimate_grasp",
    "fit_grasp_pose", "infer_encoding",
    "invert_transform", "make_transform", "matrix_from_quaternion", "orthonormalize", "quaternion_from_matrix",
    "reject_outliers", "resolve_depth_scale", "select_target_points", "transform_from_tq", "transform_points",
    "transform_pose", "warm_up",
]

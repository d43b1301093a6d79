"""Core results (numpy, dataclasses) -> ROS messages for the segment node's outputs."""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point, PoseStamped, Quaternion, Vector3
from sensor_msgs.msg import RegionOfInterest
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from vipa_ros.geometry import GraspPose
from vipa_ros.msg import Instance, Segmentation
from vipa_ros.nodes.conversions import numpy_to_image
from vipa_ros.runtime.postprocess import InstanceMask


def pose_stamped(header, pose: GraspPose) -> PoseStamped:
    msg = PoseStamped()
    msg.header = header
    if pose.has_pose:
        msg.pose.position = Point(x=float(pose.position[0]), y=float(pose.position[1]), z=float(pose.position[2]))
        q = pose.quaternion
        msg.pose.orientation = Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3]))
    else:
        msg.pose.orientation.w = 1.0
    return msg


def segmentation_msg(header, command: str, action: str, expression: str, instances: list[InstanceMask],
                     poses: list[GraspPose], pose_header, inference_ms: float) -> Segmentation:
    msg = Segmentation(header=header, command=command, action=action, expression=expression,
                       inference_ms=float(inference_ms))
    for inst, pose in zip(instances, poses):
        x, y, w, h = inst.bbox
        crop = inst.mask[y:y + h, x:x + w].astype(np.uint8) * 255
        item = Instance(id=inst.id, score=float(inst.score),
                        roi=RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h),
                        mask=numpy_to_image(crop, "mono8", header), has_pose=pose.has_pose,
                        pose=pose_stamped(pose_header, pose), grasp_width=float(pose.grasp_width),
                        valid_points=int(pose.valid_points))
        if pose.has_pose:
            item.extent = Vector3(x=float(pose.extent[0]), y=float(pose.extent[1]), z=float(pose.extent[2]))
        msg.instances.append(item)
    return msg


def target_markers(pose_header, pose: GraspPose | None, label: str, namespace: str) -> MarkerArray:
    """Box, axes and label of the target; a DELETEALL when there is none, so stale markers vanish."""
    array = MarkerArray()
    clear = Marker(header=pose_header, ns=namespace, action=Marker.DELETEALL)
    array.markers.append(clear)
    if pose is None or not pose.has_pose:
        return array
    stamped = pose_stamped(pose_header, pose)
    box = Marker(header=pose_header, ns=namespace, id=0, type=Marker.CUBE, action=Marker.ADD, pose=stamped.pose)
    box.scale = Vector3(x=max(float(pose.extent[0]), 0.005), y=max(float(pose.extent[1]), 0.005),
                        z=max(float(pose.extent[2]), 0.005))
    box.color = ColorRGBA(r=0.0, g=0.85, b=0.3, a=0.35)
    array.markers.append(box)
    rotation = pose.rotation
    length = float(max(np.max(pose.extent), 0.05))
    for k, rgb in enumerate(((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))):
        axis = Marker(header=pose_header, ns=namespace, id=1 + k, type=Marker.ARROW, action=Marker.ADD)
        start = pose.position
        end = pose.position + rotation[:, k] * length
        axis.points = [Point(x=float(start[0]), y=float(start[1]), z=float(start[2])),
                       Point(x=float(end[0]), y=float(end[1]), z=float(end[2]))]
        axis.pose.orientation.w = 1.0
        axis.scale = Vector3(x=0.006, y=0.012, z=0.02)
        axis.color = ColorRGBA(r=rgb[0], g=rgb[1], b=rgb[2], a=1.0)
        array.markers.append(axis)
    text = Marker(header=pose_header, ns=namespace, id=4, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD)
    text.pose.position = Point(x=float(pose.position[0]), y=float(pose.position[1]) - length,
                               z=float(pose.position[2]))
    text.pose.orientation.w = 1.0
    text.scale.z = 0.03
    text.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    text.text = label
    array.markers.append(text)
    return array

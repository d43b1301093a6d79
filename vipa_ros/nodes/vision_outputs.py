"""vision_msgs outputs (Detection2DArray / Detection3DArray), used only where vision_msgs is installed."""
from __future__ import annotations

from vision_msgs.msg import Detection2D, Detection2DArray, Detection3D, Detection3DArray, ObjectHypothesisWithPose

from vipa_ros.nodes.messages import pose_stamped


def _hypothesis(expression: str, score: float) -> ObjectHypothesisWithPose:
    hyp = ObjectHypothesisWithPose()
    hyp.hypothesis.class_id = expression
    hyp.hypothesis.score = float(score)
    return hyp


def detections_2d(header, expression: str, instances) -> Detection2DArray:
    array = Detection2DArray(header=header)
    for inst in instances:
        x, y, w, h = inst.bbox
        det = Detection2D(header=header, id=str(inst.id))
        det.bbox.center.position.x = x + w / 2.0
        det.bbox.center.position.y = y + h / 2.0
        det.bbox.size_x, det.bbox.size_y = float(w), float(h)
        det.results.append(_hypothesis(expression, inst.score))
        array.detections.append(det)
    return array


def detections_3d(header, expression: str, instances, poses) -> Detection3DArray:
    array = Detection3DArray(header=header)
    for inst, pose in zip(instances, poses):
        if not pose.has_pose:
            continue
        det = Detection3D(header=header, id=str(inst.id))
        det.bbox.center = pose_stamped(header, pose).pose
        det.bbox.size.x, det.bbox.size.y, det.bbox.size.z = (float(v) for v in pose.extent)
        hyp = _hypothesis(expression, inst.score)
        hyp.pose.pose = det.bbox.center
        det.results.append(hyp)
        array.detections.append(det)
    return array

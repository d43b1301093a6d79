"""Overlay of ranked instances on the camera image, for rviz, the demo and `vipa segment`."""
from __future__ import annotations

import cv2
import numpy as np

from vipa_ros.runtime.postprocess import InstanceMask

TARGET_COLOR = (0, 220, 80)  # RGB
OTHER_COLOR = (255, 170, 0)


def draw_overlay(image_rgb: np.ndarray, instances: list[InstanceMask], expression: str,
                 note: str = "") -> np.ndarray:
    """RGB image with the target (green) and other candidates (orange) tinted, boxed and scored."""
    out = image_rgb.copy()
    for inst in reversed(instances):  # target drawn last, on top
        color = TARGET_COLOR if inst.id == instances[0].id else OTHER_COLOR
        tint = np.array(color, np.float32)
        out[inst.mask] = (0.45 * out[inst.mask] + 0.55 * tint).astype(np.uint8)
        contours, _ = cv2.findContours(inst.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, color, 2)
        x, y, w, h = inst.bbox
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), color, 1)
        cv2.putText(out, f"{inst.score:.2f}", (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1,
                    cv2.LINE_AA)
    caption = f'"{expression}"' + (f"  {note}" if note else "")
    if not instances:
        caption += "  (no match)"
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, caption, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out

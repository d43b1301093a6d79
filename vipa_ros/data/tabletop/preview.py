"""Preview sheets for a generated dataset: the RGB image with each target's mask outline and number, the depth
map, and the expressions listed next to it (`python -m vipa_ros.data.tabletop.preview DIR IMAGE_ID... --out DIR`)."""
from __future__ import annotations

import argparse
import pathlib

import cv2
import numpy as np

from vipa_ros.data.refer import Refer

_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
            (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255)]


def preview_image(refer: Refer, image_id: int, max_lines: int = 64) -> np.ndarray:
    rgb = refer.load_image(image_id)
    h, w = rgb.shape[:2]
    canvas = rgb.copy()
    lines: list[tuple[str, tuple[int, int, int]]] = []
    for k, ref in enumerate(refer.imgToRefs.get(image_id, [])):
        colour = _PALETTE[k % len(_PALETTE)]
        m = refer.mask(ref["ann_id"])
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(canvas, contours, -1, colour, 2)
        ys, xs = np.nonzero(m)
        if len(xs):
            cv2.putText(canvas, str(k + 1), (int(xs.mean()) - 6, int(ys.mean()) + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                        (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(canvas, str(k + 1), (int(xs.mean()) - 6, int(ys.mean()) + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                        colour, 1, cv2.LINE_AA)
        ann = refer.Anns[ref["ann_id"]]
        a = ann.get("attributes", {})
        lines.append((f"{k + 1}: {a.get('size', '')} {a.get('colour', '')} {refer.category_name(ref['category_id'])}"
                      f"  vis={a.get('visible_ratio', 1):.2f}", colour))
        for s in ref["sentences"]:
            flags = "".join([" [U-combo]" if s.get("unseen_combo") else "",
                             " [U-tmpl]" if s.get("unseen_template") else ""])
            lines.append((f"    ({s.get('type', '')}) {s['raw']}{flags}", colour))
    depth = refer.load_depth(image_id)
    if depth is not None:
        valid = depth > 0
        d = np.zeros((h, w), np.uint8)
        if valid.any():
            lo, hi = np.percentile(depth[valid], [1, 99])
            d[valid] = np.clip(255 * (1 - (depth[valid] - lo) / max(hi - lo, 1e-6)), 0, 255).astype(np.uint8)
        depth_rgb = cv2.applyColorMap(d, cv2.COLORMAP_VIRIDIS)[..., ::-1]
        depth_rgb[~valid] = 0
        left = np.concatenate([canvas, depth_rgb], axis=0)
    else:
        left = canvas
    line_h = 15
    lines = lines[:max_lines]
    panel_w = 720
    panel = np.full((max(left.shape[0], line_h * (len(lines) + 1)), panel_w, 3), 255, np.uint8)
    for i, (text, colour) in enumerate(lines):
        c = tuple(int(v * 0.7) for v in colour)
        cv2.putText(panel, text[:100], (6, line_h * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.42, c, 1, cv2.LINE_AA)
    if left.shape[0] < panel.shape[0]:
        left = np.concatenate([left, np.zeros((panel.shape[0] - left.shape[0], w, 3), np.uint8)], axis=0)
    return np.concatenate([left, panel], axis=1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("dataset")
    p.add_argument("image_ids", type=int, nargs="+")
    p.add_argument("--out", default="out")
    args = p.parse_args(argv)
    refer = Refer(args.dataset)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for image_id in args.image_ids:
        path = out / f"tabletop_preview_{image_id:06d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(preview_image(refer, image_id), cv2.COLOR_RGB2BGR))
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

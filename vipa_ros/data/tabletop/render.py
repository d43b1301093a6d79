"""Offscreen MuJoCo rendering of a scene: RGB, metric depth, per-object instance masks and visibility ratios.

One OpenGL context serves every scene a worker renders (set MUJOCO_GL=egl or osmesa before mujoco is imported);
only the MjrContext (textures, meshes) is rebuilt per model. Segmentation uses MuJoCo's segment/ID-colour
rendering, so masks are exact per-geom ids. Visibility of an object = its pixels in the scene / its pixels when
every other object is hidden (rendered at `vis_scale` resolution).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
if os.environ.get("VIPA_RENDER_ONLY") != "1":  # set in generator worker processes, which never load torch
    try:
        # torchvision's native libraries crash (SIGSEGV) when loaded after Mesa's EGL/OSMesa context exists; a
        # process that renders and then runs the model (tests, the demo) must load them first.
        import torchvision.ops  # noqa: F401
    except ImportError:  # rendering alone does not need torch
        pass
import mujoco  # noqa: E402  (after MUJOCO_GL is set)


@dataclass
class RenderResult:
    rgb: np.ndarray           # H x W x 3 uint8
    depth: np.ndarray         # H x W float32 metres along the optical axis; 0 where nothing was hit
    instance: np.ndarray      # H x W uint16: object index (1..N), 0 = table / room / background
    visible_px: np.ndarray    # (N+1,) visible pixel count per object index (full resolution)
    visible_ratio: np.ndarray  # (N+1,) visible / unoccluded pixel count (at vis_scale)


class SceneRenderer:
    """Renders compiled tabletop models; reuse one instance per process."""

    def __init__(self, width: int, height: int, vis_scale: float = 0.5):
        self.width, self.height = int(width), int(height)
        self.vis_scale = float(vis_scale)
        self._gl = mujoco.GLContext(self.width, self.height)
        self._gl.make_current()

    def close(self) -> None:
        if self._gl is not None:
            self._gl.free()
            self._gl = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def render(self, model: mujoco.MjModel, data: mujoco.MjData, num_objects: int, camera: str = "cam",
               object_boxes: np.ndarray | None = None) -> RenderResult:
        """Render RGB, depth and instances. `object_boxes` ((N+1) x 4 pixel boxes x0, y0, x1, y1 of each object's
        unoccluded projection, row 0 unused) lets the visibility passes isolate several non-overlapping objects
        at once; without it every object gets its own pass."""
        self._gl.make_current()
        W, H = self.width, self.height
        ctx = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        try:
            mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, ctx)
            ctx.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
            scn = mujoco.MjvScene(model, maxgeom=max(1000, 4 * model.ngeom))
            opt = mujoco.MjvOption()
            cam = mujoco.MjvCamera()
            cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
            cam.fixedcamid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
            mujoco.mjv_updateScene(model, data, opt, None, cam, mujoco.mjtCatBit.mjCAT_ALL, scn)
            rect = mujoco.MjrRect(0, 0, W, H)

            rgb = np.empty((H, W, 3), np.uint8)
            mujoco.mjr_render(rect, scn, ctx)
            mujoco.mjr_readPixels(rgb, None, rect, ctx)

            geom_obj = self._geom_to_object(model, num_objects)
            seg_rgb = np.empty((H, W, 3), np.uint8)
            zbuf = np.empty((H, W), np.float32)
            scn.flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = 1
            scn.flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = 1
            mujoco.mjr_render(rect, scn, ctx)
            mujoco.mjr_readPixels(seg_rgb, zbuf, rect, ctx)
            seg_to_obj = self._segid_to_object(scn, geom_obj)
            instance = self._decode(seg_rgb, seg_to_obj)
            depth = self._linear_depth(model, zbuf)

            visible_px = np.bincount(instance.ravel(), minlength=num_objects + 1)[: num_objects + 1]
            visible_ratio = self._visibility(scn, ctx, geom_obj, seg_to_obj, num_objects, object_boxes)
        finally:
            ctx.free()
        # OpenGL rows start at the bottom
        return RenderResult(rgb=np.ascontiguousarray(rgb[::-1]), depth=np.ascontiguousarray(depth[::-1]),
                            instance=np.ascontiguousarray(instance[::-1]), visible_px=visible_px,
                            visible_ratio=visible_ratio)

    # -- helpers ----------------------------------------------------------------------------------------------
    @staticmethod
    def _geom_to_object(model: mujoco.MjModel, num_objects: int) -> np.ndarray:
        lut = np.zeros(model.ngeom, dtype=np.int32)
        for i in range(1, num_objects + 1):
            gid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"obj_{i}")
            if gid >= 0:
                lut[gid] = i
        return lut

    @staticmethod
    def _segid_to_object(scn: mujoco.MjvScene, geom_obj: np.ndarray) -> np.ndarray:
        lut = np.zeros(scn.ngeom + 2, dtype=np.int32)
        for k in range(scn.ngeom):
            g = scn.geoms[k]
            if g.segid >= 0 and g.objtype == mujoco.mjtObj.mjOBJ_GEOM and 0 <= g.objid < len(geom_obj):
                lut[g.segid + 1] = geom_obj[g.objid]
        return lut

    @staticmethod
    def _decode(seg_rgb: np.ndarray, seg_to_obj: np.ndarray) -> np.ndarray:
        ids = (seg_rgb[..., 0].astype(np.int64) | (seg_rgb[..., 1].astype(np.int64) << 8)
               | (seg_rgb[..., 2].astype(np.int64) << 16))
        ids = np.where(ids < len(seg_to_obj), ids, 0)  # defensive: unknown colours are background
        return seg_to_obj[ids].astype(np.uint16)

    @staticmethod
    def _linear_depth(model: mujoco.MjModel, zbuf: np.ndarray) -> np.ndarray:
        """Reverse-Z depth buffer -> metres along the optical axis (the same maths as mujoco.Renderer)."""
        extent = model.stat.extent
        znear = np.float32(model.vis.map.znear * extent)
        zfar = np.float32(model.vis.map.zfar * extent)
        c = -(zfar + znear) / (zfar - znear)
        d = -(np.float32(2) * zfar * znear) / (zfar - znear)
        c = np.float32(-0.5) * c - np.float32(0.5)
        d = np.float32(-0.5) * d
        z = zbuf.astype(np.float64)
        depth = d / (z + c)
        depth[zbuf <= 0] = 0.0  # nothing hit (far plane)
        return depth.astype(np.float32)

    def _visibility(self, scn: mujoco.MjvScene, ctx: mujoco.MjrContext, geom_obj: np.ndarray,
                    seg_to_obj: np.ndarray, num_objects: int, boxes: np.ndarray | None) -> np.ndarray:
        """Visible / unoccluded pixel ratio per object index. Occlusion and truncation by the image border both
        count: the passes render a canvas with twice the field of view at `vis_scale` resolution, whose central
        half is the image, so the unoccluded count includes the parts outside the image."""
        zoom = 2.0
        w = max(16, int(round(self.width * self.vis_scale * zoom)))
        h = max(16, int(round(self.height * self.vis_scale * zoom)))
        w, h = min(w, self.width), min(h, self.height)  # the offscreen buffer is width x height
        rect = mujoco.MjrRect(0, 0, w, h)
        buf = np.empty((h, w, 3), np.uint8)
        saved_frustum = [(c.frustum_bottom, c.frustum_top, c.frustum_width, c.frustum_center) for c in scn.camera]
        for c in scn.camera:
            c.frustum_bottom, c.frustum_top = c.frustum_bottom * zoom, c.frustum_top * zoom
            c.frustum_width, c.frustum_center = c.frustum_width * zoom, c.frustum_center * zoom
        y0, x0 = int(round(h * (1 - 1 / zoom) / 2)), int(round(w * (1 - 1 / zoom) / 2))
        inner = (slice(y0, h - y0), slice(x0, w - x0))
        mujoco.mjr_render(rect, scn, ctx)
        mujoco.mjr_readPixels(buf, None, rect, ctx)
        full = np.bincount(self._decode(buf, seg_to_obj)[inner].ravel(),
                           minlength=num_objects + 1)[: num_objects + 1]
        owner = np.zeros(scn.ngeom, dtype=np.int32)
        for k in range(scn.ngeom):
            g = scn.geoms[k]
            if g.objtype == mujoco.mjtObj.mjOBJ_GEOM and 0 <= g.objid < len(geom_obj):
                owner[k] = geom_obj[g.objid]
        saved = {k: np.array(scn.geoms[k].pos) for k in range(scn.ngeom) if owner[k] > 0}
        present = [i for i in range(1, num_objects + 1) if np.any(owner == i)]
        alone = np.zeros(num_objects + 1, dtype=np.int64)
        far = np.array([1e4, 1e4, 1e4])
        try:
            for batch in _batches(present, boxes, margin=4.0):
                members = set(batch)
                for k, pos in saved.items():
                    scn.geoms[k].pos[:] = pos if owner[k] in members else far
                mujoco.mjr_render(rect, scn, ctx)
                mujoco.mjr_readPixels(buf, None, rect, ctx)
                counts = np.bincount(self._decode(buf, seg_to_obj).ravel(), minlength=num_objects + 1)
                for i in batch:
                    alone[i] = counts[i]
        finally:
            for k, pos in saved.items():
                scn.geoms[k].pos[:] = pos
            for c, (b, t, wd, ctr) in zip(scn.camera, saved_frustum):
                c.frustum_bottom, c.frustum_top, c.frustum_width, c.frustum_center = b, t, wd, ctr
        ratio = np.zeros(num_objects + 1, dtype=np.float64)
        nz = alone > 0
        ratio[nz] = np.minimum(full[nz] / alone[nz], 1.0)
        return ratio


def _batches(indices: list[int], boxes: np.ndarray | None, margin: float) -> list[list[int]]:
    """Greedy groups of objects whose (dilated) projected boxes do not overlap: they cannot occlude each other,
    so one isolation pass measures all of them."""
    if boxes is None:
        return [[i] for i in indices]
    groups: list[list[int]] = []
    for i in indices:
        bi = boxes[i]
        for g in groups:
            if all(bi[2] + margin < boxes[j][0] or boxes[j][2] + margin < bi[0] or bi[3] + margin < boxes[j][1]
                   or boxes[j][3] + margin < bi[1] for j in g):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups

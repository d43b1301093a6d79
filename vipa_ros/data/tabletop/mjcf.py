"""MuJoCo model of a sampled scene: an MJCF string plus the asset dictionary (mesh OBJs, texture PNGs) it names.

Object bodies are static (no joints): every object is placed exactly at rest on the table, so no simulation step is
needed. Geom names `obj_<index>` tie segmentation ids back to object instances.
"""
from __future__ import annotations

import numpy as np

from vipa_ros.data.tabletop.assets import texture_bytes
from vipa_ros.data.tabletop.catalogue import CategoryModel
from vipa_ros.data.tabletop.sampling import SceneSpec
from vipa_ros.data.tabletop.transforms import quat_from_matrix

# <statistic extent> fixes the clipping planes: znear/zfar in <map> are fractions of it.
EXTENT = 2.0
ZNEAR = 0.005   # 1 cm
ZFAR = 25.0     # 50 m


def _f(values) -> str:
    return " ".join(f"{float(v):.6g}" for v in np.ravel(values))


def _texture_name(package_path: list[str]) -> str:
    return "tex_" + package_path[1].replace("/", "_")


def build_mjcf(scene: SceneSpec, catalogue: dict[str, CategoryModel]) -> tuple[str, dict[str, bytes]]:
    cam = scene.camera
    assets: dict[str, bytes] = {}
    asset_xml: list[str] = []
    body_xml: list[str] = []

    def texture(package_path: list[str]) -> str:
        name = _texture_name(package_path)
        fname = name + ".png"
        if fname not in assets:
            assets[fname] = texture_bytes(*package_path)
            asset_xml.append(f'<texture name="{name}" type="2d" file="{fname}"/>')
        return name

    sky = scene.skybox or {"rgb1": [0.8] * 3, "rgb2": [0.5] * 3}
    asset_xml.append(f'<texture name="sky" type="skybox" builtin="gradient" rgb1="{_f(sky["rgb1"])}" '
                     f'rgb2="{_f(sky["rgb2"])}" width="32" height="32"/>')

    # table
    t = scene.table
    if t.get("texture"):
        tex = texture(t["texture"])
        asset_xml.append(f'<material name="table_mat" texture="{tex}" texrepeat="{t["texrepeat"]:.3f} '
                         f'{t["texrepeat"]:.3f}" texuniform="true" rgba="{_f(t["rgb"])} 1" specular="0.2" '
                         f'shininess="0.2"/>')
    else:
        asset_xml.append(f'<material name="table_mat" rgba="{_f(t["rgb"])} 1" specular="0.15" shininess="0.2"/>')
    hx, hy, th, height = t["half_x"], t["half_y"], t["thickness"], t["height"]
    body_xml.append(f'<geom name="table_top" type="box" pos="0 0 {-th / 2:.4f}" size="{hx:.4f} {hy:.4f} '
                    f'{th / 2:.4f}" material="table_mat"/>')
    leg_h = (height - th) / 2
    for sx in (-1, 1):
        for sy in (-1, 1):
            body_xml.append(f'<geom name="leg_{sx}_{sy}" type="box" pos="{sx * (hx - 0.05):.4f} '
                            f'{sy * (hy - 0.05):.4f} {-th - leg_h:.4f}" size="0.025 0.025 {leg_h:.4f}" '
                            f'material="table_mat"/>')

    # room
    r = scene.room
    ftex = texture(r["floor_texture"])
    wtex = texture(r["wall_texture"])
    asset_xml.append(f'<material name="floor_mat" texture="{ftex}" texrepeat="6 6" texuniform="true"/>')
    asset_xml.append(f'<material name="wall_mat" texture="{wtex}" texrepeat="3 3" texuniform="true"/>')
    body_xml.append(f'<geom name="floor" type="plane" pos="0 0 {-height:.4f}" size="8 8 0.1" material="floor_mat"/>')
    d = r["wall_distance"]
    for k in range(4):
        a = r["yaw"] + k * np.pi / 2
        c, s = np.cos(a), np.sin(a)
        # thin along the direction from the table centre (quat: MJCF euler angles would be degrees)
        body_xml.append(f'<geom name="wall_{k}" type="box" pos="{d * c:.4f} {d * s:.4f} {1.5 - height:.4f}" '
                        f'size="0.05 {d + 0.1:.4f} 1.5" quat="{np.cos(a / 2):.6f} 0 0 {np.sin(a / 2):.6f}" '
                        f'material="wall_mat"/>')

    # lights
    hl = scene.headlight
    light_xml = []
    for i, lt in enumerate(scene.lights):
        light_xml.append(
            f'<light name="light_{i}" pos="{_f(lt["pos"])}" dir="{_f(lt["dir"])}" diffuse="{_f(lt["diffuse"])}" '
            f'specular="0.3 0.3 0.3" directional="{str(lt["directional"]).lower()}" '
            f'castshadow="{str(lt["castshadow"]).lower()}"' + ("" if lt["directional"] else ' cutoff="60"') + '/>')

    # objects
    for o in scene.objects:
        model = catalogue[o.category]
        mat = f"mat_{o.index}"
        asset_xml.append(f'<material name="{mat}" rgba="{_f(o.rgb)} 1" specular="{model.specular:.3f}" '
                         f'shininess="{model.shininess:.3f}" reflectance="0"/>')
        if model.primitive is None:
            if model.mesh_file not in assets:
                assets[model.mesh_file] = model.mesh_data
            asset_xml.append(f'<mesh name="mesh_{o.index}" file="{model.mesh_file}" scale="{_f([o.scale] * 3)}"/>')
            geom = f'type="mesh" mesh="mesh_{o.index}"'
        else:
            half = o.extents / 2
            size = {"box": half, "sphere": half[:1], "cylinder": [half[0], half[2]]}[model.primitive]
            geom = f'type="{model.primitive}" size="{_f(size)}"'
        body_xml.append(
            f'<body name="obj_{o.index}" pos="{_f(o.position)}" quat="{_f(quat_from_matrix(o.R))}">'
            f'<geom name="obj_{o.index}" {geom} material="{mat}" contype="0" conaffinity="0"/></body>')

    # camera: MuJoCo cameras look along -z with y up; the optical frame has y down and z forward
    x_axis = cam.R_wc[:, 0]
    up = -cam.R_wc[:, 1]
    cam_xml = (f'<camera name="cam" pos="{_f(cam.position)}" xyaxes="{_f(x_axis)} {_f(up)}" '
               f'fovy="{cam.fovy:.5f}"/>')

    xml = f"""<mujoco model="tabletop_{scene.index}">
  <compiler inertiafromgeom="false"/>
  <statistic extent="{EXTENT}" center="0 0 0"/>
  <visual>
    <global offwidth="{cam.width}" offheight="{cam.height}"/>
    <quality shadowsize="1024" offsamples="4"/>
    <map znear="{ZNEAR}" zfar="{ZFAR}" shadowclip="2.5"/>
    <headlight ambient="{_f([hl["ambient"]] * 3)}" diffuse="{_f([hl["diffuse"]] * 3)}" specular="0.05 0.05 0.05"/>
  </visual>
  <asset>
    {chr(10).join('    ' + a for a in asset_xml).strip()}
  </asset>
  <worldbody>
    {chr(10).join('    ' + a for a in light_xml).strip()}
    {chr(10).join('    ' + b for b in body_xml).strip()}
    {cam_xml}
  </worldbody>
</mujoco>
"""
    return xml, assets

"""Where vipa_ros finds its data files (config YAMLs, shipped weights) in every way it can be installed.

Order: $VIPA_SHARE_DIR, the source checkout (running from the repository or a colcon --symlink-install), then
the ament index share directory (colcon install or a ROS package install).
"""
from __future__ import annotations

import functools
import os
import pathlib


@functools.lru_cache(maxsize=None)
def share_dir() -> pathlib.Path:
    """Directory holding `config/` and `weights/` for this installation."""
    candidates: list[pathlib.Path] = []
    if os.environ.get("VIPA_SHARE_DIR"):
        candidates.append(pathlib.Path(os.environ["VIPA_SHARE_DIR"]))
    # resolve(): a symlink install points back into the source checkout
    candidates.append(pathlib.Path(__file__).resolve().parents[1])
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(pathlib.Path(get_package_share_directory("vipa_ros")))
    except Exception:  # noqa: BLE001 - not a ROS environment, or the package is not in the index
        pass
    for path in candidates:
        if (path / "config").is_dir():
            return path
    raise FileNotFoundError(
        "vipa_ros data files (config/) not found; looked in: " + ", ".join(map(str, candidates))
        + ". Set VIPA_SHARE_DIR to the directory that contains config/.")


def config_path(*parts: str) -> pathlib.Path:
    """Path of a file under config/, e.g. config_path('models', 'vipa_s.yaml')."""
    return share_dir().joinpath("config", *parts)


def weights_path(name: str) -> pathlib.Path:
    """Path of a shipped weight file under weights/."""
    return share_dir() / "weights" / name

"""The VIPA referring-image-segmentation network (no ROS imports): configs, model, losses, checkpoints."""
from __future__ import annotations

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import VipaConfig, load_config
from .pretrained import PretrainedWeightsError
from .vipa import Vipa, build_model

__all__ = ["VipaConfig", "load_config", "build_model", "Vipa", "save_checkpoint", "load_checkpoint",
           "CheckpointError", "PretrainedWeightsError"]

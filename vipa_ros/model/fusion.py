"""Encoder fusion (LAVT): pixel-word attention module (PWAM) + language gate, applied to backbone stages.

VIPA is encoder-agnostic; its headline model uses LAVT-style early fusion, i.e. language is injected after every
backbone stage so the next stage already sees expression-aware features. `late` fuses only the last stage,
`none` leaves the backbone untouched.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .layers import masked_softmax


class PixelWordAttention(nn.Module):
    """PWAM: every pixel attends over the words, the attended language feature multiplies the pixel feature."""

    def __init__(self, vis_dim: int, text_dim: int, heads: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads if vis_dim % heads == 0 else 1
        self.vis_project = nn.Sequential(nn.Conv2d(vis_dim, vis_dim, 1), nn.GELU(), nn.Dropout(dropout))
        # LAVT normalises queries and output with InstanceNorm over the spatial positions.
        self.query = nn.Sequential(nn.Conv2d(vis_dim, vis_dim, 1), nn.InstanceNorm2d(vis_dim))
        self.key = nn.Linear(text_dim, vis_dim)
        self.value = nn.Linear(text_dim, vis_dim)
        self.attn_out = nn.Sequential(nn.Conv2d(vis_dim, vis_dim, 1), nn.InstanceNorm2d(vis_dim))
        self.project_mm = nn.Sequential(nn.Conv2d(vis_dim, vis_dim, 1), nn.GELU(), nn.Dropout(dropout))

    def forward(self, vis: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """vis B x C x H x W, text B x L x Dt, text_mask B x L (1 = valid) -> multimodal map B x C x H x W."""
        b, c, h, w = vis.shape
        l = text.shape[1]
        hd = c // self.heads
        mask = text_mask.to(vis.dtype)
        q = self.query(vis).reshape(b, self.heads, hd, h * w).transpose(-2, -1)  # B x h x N x hd
        # Zeroing padded keys/values as well as masking the scores keeps padding from leaking in any way.
        k = (self.key(text) * mask[..., None]).reshape(b, l, self.heads, hd).permute(0, 2, 3, 1)  # B x h x hd x L
        v = (self.value(text) * mask[..., None]).reshape(b, l, self.heads, hd).transpose(1, 2)  # B x h x L x hd
        weights = masked_softmax((q @ k) * (1.0 / math.sqrt(hd)), mask[:, None, None, :])
        lang = (weights @ v).transpose(-2, -1).reshape(b, c, h, w)
        lang = self.attn_out(lang)
        return self.project_mm(self.vis_project(vis) * lang)


class LanguageGate(nn.Module):
    """tanh gate deciding per channel how much of the multimodal map enters the residual stream (LAVT)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(dim, dim, 1, bias=False), nn.ReLU(), nn.Conv2d(dim, dim, 1, bias=False),
                                 nn.Tanh())

    def forward(self, mm: torch.Tensor) -> torch.Tensor:
        return self.net(mm) * mm


class StageFusion(nn.Module):
    """PWAM + gate for one backbone stage: x <- x + gate(PWAM(x, E_L)) ."""

    def __init__(self, vis_dim: int, text_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.pwam = PixelWordAttention(vis_dim, text_dim, heads=1, dropout=dropout)
        self.gate = LanguageGate(vis_dim)

    def forward(self, vis: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        return vis + self.gate(self.pwam(vis, text, text_mask))


class EncoderFusion(nn.Module):
    """The per-stage fusion modules for a fusion mode (early | late | none)."""

    def __init__(self, mode: str, vis_channels: list[int], text_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        if mode not in ("early", "late", "none"):
            raise ValueError(f"unknown fusion mode {mode!r}")
        self.mode = mode
        last = len(vis_channels) - 1
        stages = {"early": range(len(vis_channels)), "late": [last], "none": []}[mode]
        # ModuleDict keyed by stage index: unfused stages simply have no entry.
        self.stages = nn.ModuleDict({str(i): StageFusion(vis_channels[i], text_dim, dropout) for i in stages})

    def forward(self, index: int, vis: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        key = str(index)
        if key not in self.stages:
            return vis
        return self.stages[key](vis, text, text_mask)

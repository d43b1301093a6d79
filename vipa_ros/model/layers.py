"""Building blocks shared by fusion, VEG and decoder: masked softmax / attention and positional encodings.

Masking uses a large *finite* negative instead of -inf: -inf turns fully masked rows into NaN and overflows in
fp16 / TensorRT, while exp(-1e4) is exactly 0 in fp32 and fp16 alike.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

MASK_NEG = -1.0e4


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last dim where `mask` (broadcastable, 1 = keep, 0 = drop) selects the entries.

    Dropped entries get exactly zero weight. `mask` may be a soft straight-through mask (forward value 0/1 with a
    gradient attached): it multiplies the exponentials, so its gradient reaches whoever produced it (the VEG
    retrieval sampler), which an additive mask alone would not allow.
    """
    if mask is None:
        return scores.softmax(dim=-1)
    mask = mask.to(scores.dtype)
    # Threshold the (detached) mask: a straight-through value 1 - s + s can be 1 +- 1 ulp, which must not leak
    # into the scores. The additive term keeps dropped entries out of the max and makes their exp exactly 0.
    dropped = (mask.detach() < 0.5).to(scores.dtype)
    shifted = scores + dropped * MASK_NEG
    shifted = shifted - shifted.amax(dim=-1, keepdim=True).detach()
    weights = torch.exp(shifted) * mask
    # Rows with nothing kept (never happens for valid cues) give zeros instead of NaN.
    return weights / weights.sum(dim=-1, keepdim=True).clamp_min(1e-6)


class MaskedAttention(nn.Module):
    """Multi-head attention with an explicit (B x Lq x Lk) keep-mask; returns output and the weights.

    Written out (instead of nn.MultiheadAttention) so the mask semantics are exact (zero weight, finite
    negatives), a soft straight-through mask can carry gradients, and ONNX export sees plain matmuls.
    """

    def __init__(self, dim: int, heads: int, kv_dim: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} not divisible by heads {heads}")
        kv_dim = kv_dim or dim
        self.heads = heads
        self.head_dim = dim // heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(kv_dim, dim)
        self.v = nn.Linear(kv_dim, dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """query B x Lq x D, key/value B x Lk x Dkv, mask B x Lq x Lk or B x 1 x Lk (1 = attend)."""
        b, lq, _ = query.shape
        lk = key.shape[1]
        q = self.q(query).reshape(b, lq, self.heads, self.head_dim).transpose(1, 2)
        k = self.k(key).reshape(b, lk, self.heads, self.head_dim).transpose(1, 2)
        v = self.v(value).reshape(b, lk, self.heads, self.head_dim).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        weights = masked_softmax(scores, None if mask is None else mask.unsqueeze(1))
        out = self.dropout(weights) @ v
        out = out.transpose(1, 2).reshape(b, lq, self.heads * self.head_dim)
        return self.out(out), weights


class FeedForward(nn.Module):
    def __init__(self, dim: int, ratio: float = 4.0, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = int(dim * ratio)
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def sine_position_encoding(height: int, width: int, dim: int, device: torch.device | None = None,
                           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(height*width) x dim fixed 2-D sin/cos encoding (DETR style).

    Spatial expressions ("the left one") need absolute position, which a convolutional feature map carries only
    weakly. Built from static sizes, so it folds to a constant in ONNX.
    """
    if dim % 4:
        raise ValueError(f"position encoding dim {dim} must be divisible by 4")
    quarter = dim // 4
    freq = 1.0 / (10000.0 ** (torch.arange(quarter, device=device, dtype=torch.float32) / quarter))
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height * 2 * math.pi
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width * 2 * math.pi
    y = ys[:, None] * freq[None, :]  # H x q
    x = xs[:, None] * freq[None, :]  # W x q
    y_enc = torch.cat([y.sin(), y.cos()], dim=-1)[:, None, :].expand(height, width, 2 * quarter)
    x_enc = torch.cat([x.sin(), x.cos()], dim=-1)[None, :, :].expand(height, width, 2 * quarter)
    return torch.cat([y_enc, x_enc], dim=-1).reshape(height * width, dim).to(dtype)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 32 groups: batch-size independent (robot inference runs batch 1, training small)."""
    groups = math.gcd(32, channels)
    return nn.GroupNorm(groups, channels)


def conv_norm_act(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False), group_norm(cout), nn.GELU())


def resize_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

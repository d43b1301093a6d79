"""VIPA losses: BCE + Dice on the mask (paper) and a pixel-contrastive loss supervising retrieval (paper).

The contrastive term follows CRIS's text-to-pixel formulation: sigmoid(S / tau) of the cosine relevance between
a cue and every visual token of the retrieval stage is pushed towards the ground-truth mask down-sampled to that
stage. The global cue ([CLS]) and the mean over the valid word cues are combined with `word_weight`, so the
retrieval ranks the referred object's tokens first (which is what top-k then keeps).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .config import LossConfig


def _as_mask(gt: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """gt B x H x W or B x 1 x H x W (bool / 0..1) -> float B x 1 x H x W."""
    if gt.dim() == 3:
        gt = gt[:, None]
    return gt.to(like.dtype)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    prob = logits.sigmoid().flatten(1)
    target = target.flatten(1)
    inter = (prob * target).sum(-1)
    return (1.0 - (2.0 * inter + eps) / (prob.sum(-1) + target.sum(-1) + eps)).mean()


def pixel_contrastive_loss(relevance: torch.Tensor, hw: tuple[int, int], gt: torch.Tensor, text_mask: torch.Tensor,
                           temperature: float, word_weight: float) -> torch.Tensor:
    """relevance S B x L x N (N = h*w), gt B x 1 x H x W, text_mask B x L -> scalar."""
    # Area-average down-sampling: a token partly covered by the object gets a soft target.
    target = F.adaptive_avg_pool2d(gt, hw).flatten(1)  # B x N
    target = target[:, None, :].expand_as(relevance)
    per_cue = F.binary_cross_entropy_with_logits(relevance / temperature, target, reduction="none").mean(-1)
    valid = text_mask.to(per_cue.dtype)
    global_term = per_cue[:, 0]
    words = valid.clone()
    words[:, 0] = 0.0
    word_term = (per_cue * words).sum(-1) / words.sum(-1).clamp_min(1.0)
    return (global_term + word_weight * word_term).mean()


def vipa_losses(cfg: LossConfig, logits: torch.Tensor, gt: torch.Tensor, relevance: torch.Tensor,
                relevance_hw: tuple[int, int], text_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Named loss terms (already weighted) and their sum under 'total'."""
    target = _as_mask(gt, logits)
    if target.shape[-2:] != logits.shape[-2:]:
        target = F.interpolate(target, size=logits.shape[-2:], mode="nearest")
    terms = {
        "bce": cfg.bce * F.binary_cross_entropy_with_logits(logits, target),
        "dice": cfg.dice * dice_loss(logits, target),
        "contrastive": cfg.contrastive * pixel_contrastive_loss(relevance, relevance_hw, target, text_mask,
                                                                 cfg.temperature, cfg.word_weight),
    }
    terms["total"] = sum(terms.values())
    return terms

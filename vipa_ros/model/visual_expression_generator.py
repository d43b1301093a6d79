"""Visual Expression Generator (VEG), the core of VIPA.

Instead of handing language tokens to the decoder (which needs a high-variance language->vision projection),
VEG turns every language cue into a *visual* token: it retrieves the visual tokens the cue points at (step 1)
and refines them with visual context (step 2). The decoder then attends within the visual feature space.

Step 1  InformativeTokenRetrieval: S = cosine(E_L W_l, F_v W_v) (B x L x N); each cue keeps its top k = ceil(r N)
        tokens -> binary retrieval mask M. Training: Gumbel-perturbed hard top-k with a straight-through softmax
        gradient, so W_l and W_v learn from the segmentation loss; inference: plain top-k.
Step 2  VisualContextRefinement: relevance-weighted mean of each cue's retrieved tokens -> cue query; dynamic
        masked cross-attention (keys/values = all visual tokens, masked by M); self-attention among the cues
        ("sharing visual contexts", padding masked) + FFN -> E_v (B x L x D), one visual-expression token per cue.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .config import VegConfig
from .layers import FeedForward, MaskedAttention, masked_softmax, sine_position_encoding


def num_retrieved(num_tokens: int, ratio: float) -> int:
    """k = ceil(r N), at least 1; rounding first so 0.3 * 400 (= 120.00000000000001 in floats) gives 120."""
    num_tokens = int(num_tokens)  # N is static per input size (a traced shape becomes a constant here)
    return max(1, min(num_tokens, math.ceil(round(ratio * num_tokens, 6))))


class InformativeTokenRetrieval(nn.Module):
    """Step 1: relevance S between language cues and visual tokens, and the top-k retrieval mask M."""

    def __init__(self, text_dim: int, vis_dim: int, dim: int, ratio: float, tau: float) -> None:
        super().__init__()
        self.text_proj = nn.Linear(text_dim, dim)  # W_l
        self.vis_proj = nn.Linear(vis_dim, dim)  # W_v
        self.ratio = float(ratio)
        self.tau = float(tau)

    def relevance(self, text: torch.Tensor, vis_tokens: torch.Tensor) -> torch.Tensor:
        """text B x L x Dt, vis_tokens B x N x Cv -> cosine relevance S, B x L x N in [-1, 1]."""
        t = F.normalize(self.text_proj(text), dim=-1, eps=1e-6)
        v = F.normalize(self.vis_proj(vis_tokens), dim=-1, eps=1e-6)
        return t @ v.transpose(1, 2)

    def forward(self, text: torch.Tensor, vis_tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (retrieval mask M B x L x N with exactly k ones per cue, relevance S B x L x N)."""
        relevance = self.relevance(text, vis_tokens)
        k = num_retrieved(relevance.shape[-1], self.ratio)
        logits = relevance / self.tau
        if self.training:
            # Gumbel-top-k samples k tokens without replacement in proportion to softmax(logits), so training
            # explores tokens just outside the current top-k instead of locking onto early mistakes.
            uniform = torch.rand_like(logits).clamp_(1e-6, 1.0 - 1e-6)
            perturbed = logits - torch.log(-torch.log(uniform))
            index = perturbed.topk(k, dim=-1).indices
            hard = torch.zeros_like(logits).scatter(-1, index, 1.0)
            # k * softmax has the same total mass as the hard mask; forward value stays exactly `hard`
            # ((0 - s) + s == 0 exactly in IEEE arithmetic), backward uses the softmax Jacobian.
            soft = perturbed.softmax(dim=-1) * k
            mask = hard - soft.detach() + soft
        else:
            index = logits.topk(k, dim=-1).indices
            mask = torch.zeros_like(logits).scatter(-1, index, 1.0)
        return mask, relevance


class VisualContextRefinement(nn.Module):
    """Step 2: aggregate each cue's retrieved tokens, then dynamic masked cross-attention + cue self-attention."""

    def __init__(self, vis_dim: int, dim: int, heads: int, layers: int, tau: float, ffn_ratio: float = 4.0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.tau = float(tau)
        self.vis_embed = nn.Sequential(nn.Linear(vis_dim, dim), nn.LayerNorm(dim))
        self.layers = nn.ModuleList([_RefinementLayer(dim, heads, ffn_ratio, dropout) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.dim = dim

    def forward(self, vis_tokens: torch.Tensor, hw: tuple[int, int], relevance: torch.Tensor,
                retrieval_mask: torch.Tensor, text_mask: torch.Tensor,
                return_weights: bool = False) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """vis_tokens B x N x Cv (row-major over hw), relevance/retrieval_mask B x L x N, text_mask B x L.

        Returns E_v (B x L x D); with return_weights also the per-layer cross-attention weights (B x h x L x N).
        """
        values = self.vis_embed(vis_tokens)
        pos = sine_position_encoding(hw[0], hw[1], self.dim, device=values.device, dtype=values.dtype)
        keys = values + pos[None]
        # Relevance-weighted mean over the retrieved tokens only (weights exactly 0 elsewhere).
        agg = masked_softmax(relevance / self.tau, retrieval_mask)
        cues = agg @ keys
        cue_mask = text_mask.to(values.dtype)[:, None, :]  # B x 1 x L: padding cues are never attended to
        weights: list[torch.Tensor] = []
        for layer in self.layers:
            cues, w = layer(cues, keys, values, retrieval_mask, cue_mask)
            weights.append(w)
        out = self.norm(cues)
        return (out, weights) if return_weights else out


class _RefinementLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ffn_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm_cross = nn.LayerNorm(dim)
        self.cross = MaskedAttention(dim, heads, dropout=dropout)
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = MaskedAttention(dim, heads, dropout=dropout)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, ffn_ratio, dropout)

    def forward(self, cues: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, retrieval_mask: torch.Tensor,
                cue_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Dynamic masked cross-attention: each cue only sees the tokens it retrieved.
        attended, weights = self.cross(self.norm_cross(cues), keys, values, retrieval_mask)
        cues = cues + attended
        # Sharing visual contexts between cues (the sentence cue learns from the word cues and vice versa).
        x = self.norm_self(cues)
        cues = cues + self.self_attn(x, x, x, cue_mask)[0]
        return cues + self.ffn(self.norm_ffn(cues)), weights


class VisualExpressionGenerator(nn.Module):
    """VEG = retrieval (step 1) + refinement (step 2)."""

    def __init__(self, cfg: VegConfig, text_dim: int, vis_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.retrieval = InformativeTokenRetrieval(text_dim, vis_dim, cfg.dim, cfg.ratio, cfg.gumbel_tau)
        self.refinement = VisualContextRefinement(vis_dim, cfg.dim, cfg.heads, cfg.layers, cfg.gumbel_tau,
                                                  cfg.ffn_ratio, cfg.dropout)
        # Spatial expressions ("the left one") need retrieval to know where a token is; a convolutional map
        # carries position only weakly, so a projected sine encoding is added to the tokens first.
        self.pos_dim = 32
        self.pos_proj = nn.Linear(self.pos_dim, vis_dim)

    def forward(self, vis: torch.Tensor, text: torch.Tensor,
                text_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """vis B x C x h x w (retrieval stage), text B x L x Dt, text_mask B x L -> (E_v, M, S)."""
        b, c, h, w = vis.shape
        pos = sine_position_encoding(h, w, self.pos_dim, device=vis.device, dtype=vis.dtype)
        tokens = vis.flatten(2).transpose(1, 2) + self.pos_proj(pos)[None]  # B x N x C
        mask, relevance = self.retrieval(text, tokens)
        expression = self.refinement(tokens, (h, w), relevance, mask, text_mask)
        return expression, mask, relevance

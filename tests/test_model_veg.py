"""Behaviour of VIPA's core pieces: retrieval, the Gumbel straight-through sampler, masked attention, padding."""
from __future__ import annotations

import math

import pytest
import torch

from vipa_ros.model import build_model, load_config
from vipa_ros.model.layers import masked_softmax
from vipa_ros.model.losses import pixel_contrastive_loss
from vipa_ros.model.visual_expression_generator import (InformativeTokenRetrieval, VisualContextRefinement,
                                                        num_retrieved)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_model(load_config("vipa_tiny"), pretrained=False).eval()


def test_num_retrieved_is_ceil_of_ratio() -> None:
    assert num_retrieved(64, 0.3) == 20  # 19.2 -> 20
    assert num_retrieved(400, 0.3) == 120  # 0.3 * 400 is 120.00000000000001 in floats: must not become 121
    assert num_retrieved(900, 0.3) == 270
    assert num_retrieved(16, 0.3) == 5
    assert num_retrieved(3, 0.01) == 1


@pytest.mark.parametrize("num_tokens", [64, 400, 37])
def test_eval_retrieval_keeps_exactly_top_k_per_cue(num_tokens: int) -> None:
    torch.manual_seed(1)
    retrieval = InformativeTokenRetrieval(text_dim=32, vis_dim=24, dim=16, ratio=0.3, tau=0.1).eval()
    text, vis = torch.randn(2, 5, 32), torch.randn(2, num_tokens, 24)
    mask, relevance = retrieval(text, vis)
    k = math.ceil(0.3 * num_tokens - 1e-9)
    assert mask.shape == relevance.shape == (2, 5, num_tokens)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert (mask.sum(-1) == k).all()
    # the kept tokens are the most relevant ones for that cue
    kept_min = relevance.masked_fill(mask == 0, 2.0).amin(-1)
    dropped_max = relevance.masked_fill(mask == 1, -2.0).amax(-1)
    assert (kept_min >= dropped_max).all()
    assert not mask.requires_grad  # plain top-k at inference
    assert relevance.abs().max() <= 1.0 + 1e-5  # cosine relevance


def test_gumbel_straight_through_sampler_passes_gradients_to_projections() -> None:
    torch.manual_seed(2)
    retrieval = InformativeTokenRetrieval(text_dim=32, vis_dim=24, dim=16, ratio=0.3, tau=0.1).train()
    text, vis = torch.randn(2, 4, 32), torch.randn(2, 50, 24)
    mask, _ = retrieval(text, vis)
    # forward value is still a hard top-k mask ...
    assert torch.allclose(mask, mask.round(), atol=1e-6)
    assert torch.allclose(mask.sum(-1), torch.full((2, 4), 15.0), atol=1e-4)
    # ... and the loss reaches W_l and W_v through the mask alone (the relevance S is not used directly here)
    weights = torch.randn_like(mask)
    (mask * weights).sum().backward()
    for proj in (retrieval.text_proj, retrieval.vis_proj):
        assert proj.weight.grad is not None and proj.weight.grad.abs().sum() > 0
    # Gumbel noise makes training retrieval stochastic (exploration), unlike eval
    samples = {tuple(retrieval(text, vis)[0].detach().flatten().tolist()) for _ in range(4)}
    assert len(samples) > 1


def test_masked_softmax_gives_exactly_zero_weight_and_no_nan() -> None:
    scores = torch.randn(3, 6) * 50
    keep = torch.tensor([[1, 0, 1, 0, 0, 1], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0]], dtype=torch.float32)
    w = masked_softmax(scores, keep)
    assert (w[keep == 0] == 0).all()
    assert torch.allclose(w[:2].sum(-1), torch.ones(2))
    assert torch.isfinite(w).all() and (w[2] == 0).all()  # fully masked row: zeros, not NaN
    half = masked_softmax(scores.half(), keep.half())
    assert torch.isfinite(half).all() and (half[keep == 0] == 0).all()


def test_masked_cross_attention_ignores_non_retrieved_tokens() -> None:
    torch.manual_seed(3)
    refine = VisualContextRefinement(vis_dim=24, dim=32, heads=4, layers=2, tau=0.1).eval()
    h, w = 6, 8
    n = h * w
    tokens = torch.randn(1, n, 24)
    relevance = torch.rand(1, 3, n) * 2 - 1
    retrieval = torch.zeros(1, 3, n)
    retrieval[0, 0, :10] = 1
    retrieval[0, 1, 5:20] = 1
    retrieval[0, 2, 30:35] = 1
    text_mask = torch.ones(1, 3)
    out, weights = refine(tokens, (h, w), relevance, retrieval, text_mask, return_weights=True)
    for wt in weights:  # B x heads x L x N
        assert (wt.masked_select(retrieval[:, None].expand_as(wt) == 0) == 0).all()
    # perturb every token no cue retrieved (strongly): E_v must not change at all
    unused = retrieval.sum(1)[0] == 0
    perturbed = tokens.clone()
    perturbed[0, unused] += 100 * torch.randn(int(unused.sum()), 24)
    out_perturbed = refine(perturbed, (h, w), relevance, retrieval, text_mask)
    assert torch.equal(out, out_perturbed)
    # control: perturbing a retrieved token does change the output (the check above can fail)
    control = tokens.clone()
    control[0, 31] += 1.0
    assert not torch.allclose(out, refine(control, (h, w), relevance, retrieval, text_mask))


def test_padding_does_not_change_logits(tiny) -> None:
    sentences = ["the red circle", "blue square on the left"]
    ids_short, mask_short = tiny.text_encoder.tokenize(sentences)
    ids_long, mask_long = tiny.text_encoder.tokenize(sentences, pad_to_max=True)
    assert ids_long.shape[1] == 20 > ids_short.shape[1]
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        short = tiny(images, ids_short, mask_short)["logits"]
        long = tiny(images, ids_long, mask_long)["logits"]
        # garbage in the padded rows of cached text features must not matter either
        feats, fmask = tiny.encode_text(ids_long, mask_long)
        noisy = feats + 1e3 * torch.randn_like(feats) * (1 - fmask[..., None])
        noisy_logits = tiny.forward_image(images, noisy, fmask)
    assert torch.allclose(short, long, atol=1e-5)
    assert torch.allclose(short, noisy_logits, atol=1e-5)
    # control: the expression does matter
    other_ids, other_mask = tiny.text_encoder.tokenize(["yellow triangle", "the right one"])
    with torch.no_grad():
        other = tiny(images, other_ids, other_mask)["logits"]
    assert (other - short).abs().max() > 1e-3


@pytest.mark.parametrize("mode,fused_stages", [("early", 4), ("late", 1), ("none", 0)])
def test_fusion_modes(mode: str, fused_stages: int) -> None:
    cfg = load_config("vipa_tiny")
    cfg.fusion.mode = mode
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=False).eval()
    assert len(model.fusion.stages) == fused_stages
    images = torch.randn(1, 3, 64, 64)
    seen = []
    for text in ("red circle", "the left one"):
        feats, mask = model.encode_text(*model.tokenize([text]))
        hook = (lambda i, f, feats=feats, mask=mask: model.fusion(i, f, feats, mask.float()))
        with torch.no_grad():
            seen.append(model.vision_encoder(images, hook))
    # the stride-4 features depend on the text only under early fusion; the stride-32 ones unless `none`
    assert torch.equal(seen[0][0], seen[1][0]) == (mode != "early")
    assert torch.equal(seen[0][3], seen[1][3]) == (mode == "none")


def test_forward_outputs_and_losses(tiny) -> None:
    ids, mask = tiny.tokenize(["red circle", "the left one"])
    images = torch.randn(2, 3, 64, 64)
    gt = torch.zeros(2, 64, 64)
    gt[:, 10:30, 5:25] = 1
    tiny.train()
    try:
        out = tiny(images, ids, mask, gt)
    finally:
        tiny.eval()
    assert out["logits"].shape == (2, 1, 64, 64)
    n = 8 * 8  # vipa_tiny retrieves among the stride-8 tokens of a 64 x 64 image
    assert out["relevance"].shape == out["retrieval_mask"].shape == (2, ids.shape[1], n)
    losses = out["losses"]
    assert set(losses) == {"bce", "dice", "contrastive", "total"}
    assert torch.isclose(losses["total"], losses["bce"] + losses["dice"] + losses["contrastive"])
    losses["total"].backward()
    assert tiny.veg.retrieval.text_proj.weight.grad.abs().sum() > 0
    tiny.zero_grad(set_to_none=True)


def test_contrastive_loss_rewards_relevance_on_the_object() -> None:
    gt = torch.zeros(1, 1, 32, 32)
    gt[..., :16, :16] = 1  # top-left quarter
    target = torch.nn.functional.adaptive_avg_pool2d(gt, (4, 4)).flatten(1)  # 1 x 16
    good = (target * 2 - 1)[:, None, :].repeat(1, 3, 1)  # S = +1 on the object, -1 elsewhere
    text_mask = torch.tensor([[1, 1, 0]])
    aligned = pixel_contrastive_loss(good, (4, 4), gt, text_mask, 0.1, 0.5)
    inverted = pixel_contrastive_loss(-good, (4, 4), gt, text_mask, 0.1, 0.5)
    assert aligned < 0.01 < 1.0 < inverted
    # the padding cue (index 2) must not count
    noisy = good.clone()
    noisy[:, 2] = -good[:, 2]
    assert torch.isclose(pixel_contrastive_loss(noisy, (4, 4), gt, text_mask, 0.1, 0.5), aligned)


def test_half_precision_image_path_is_finite(tiny) -> None:
    """Finite masking constants keep fp16 (TensorRT / CUDA autocast) free of inf/NaN."""
    import copy

    ids, mask = tiny.tokenize(["red circle", "the left one on the table"])
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats, fmask = tiny.encode_text(ids, mask)
        reference = tiny.forward_image(images, feats, fmask)
        half = copy.deepcopy(tiny).half()
        out = half.forward_image(images.half(), feats.half(), fmask)
    assert torch.isfinite(out).all()
    assert (out.float() - reference).abs().max() < 0.05

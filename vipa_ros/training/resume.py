"""Training state (optimizer, scheduler, AMP scaler, counters) saved without pickle, for `vipa train --resume`.

Tensors go into a safetensors file; everything else (param-group hyper-parameters, step counters) into its
JSON metadata. Loading therefore never executes code from the file.
"""
from __future__ import annotations

import json
import pathlib
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def _split(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace tensors in a nested structure with references, collecting them in `tensors`."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[_key(k), _split(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_split(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    return obj


def _key(k: Any) -> Any:
    return {"__int__": k} if isinstance(k, int) else k


def _join(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {(k["__int__"] if isinstance(k, dict) else k): _join(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_join(v, tensors) for v in obj]
    return obj


def save_training_state(path: pathlib.Path, state: dict[str, Any]) -> None:
    tensors: dict[str, torch.Tensor] = {}
    structure = _split(state, "s", tensors)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"vipa_training_state": json.dumps(structure)})
    tmp.replace(path)  # atomic: an interrupted save never leaves a half-written resume file


def load_training_state(path: pathlib.Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        structure = json.loads(f.metadata()["vipa_training_state"])
    return _join(structure, load_file(str(path)))

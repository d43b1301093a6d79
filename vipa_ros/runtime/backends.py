"""Inference backends for VIPA's image path (text features are always computed by PyTorch, once per command).

- TorchBackend: PyTorch on CPU or CUDA, fp32 or fp16/bf16 autocast on CUDA.
- OnnxRuntimeBackend: the exported image path in ONNX Runtime with the TensorRT, CUDA or CPU execution
  provider; exported models and TensorRT engines are cached under `engine_cache_dir`.
"""
from __future__ import annotations

import copy
import hashlib
import logging
import pathlib
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

PROVIDER_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


class ImageBackend(Protocol):
    name: str
    precision: str

    def run(self, images: np.ndarray, text_feats: np.ndarray, text_mask: np.ndarray) -> np.ndarray:
        """1 x 3 x S x S float32, 1 x L x D float32, 1 x L int64 -> logits 1 x 1 x S x S float32."""


def resolve_device(device: str):
    import torch

    if device in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device '{device}' requested but CUDA is not available (torch {torch.__version__})")
    return resolved


class TorchBackend:
    name = "torch"

    def __init__(self, model, device, precision: str) -> None:
        import torch

        self._torch = torch
        self._model = model
        self._device = device
        dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16}
        # Half precision only pays off (and is only well supported) on CUDA; CPU stays fp32.
        self._autocast = dtypes.get(precision) if device.type == "cuda" else None
        self.precision = precision if self._autocast is not None else "fp32"

    def run(self, images: np.ndarray, text_feats: np.ndarray, text_mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(images).to(self._device, non_blocking=True)
            f = torch.from_numpy(text_feats).to(self._device)
            m = torch.from_numpy(text_mask).to(self._device)
            if self._autocast is not None:
                with torch.autocast(device_type="cuda", dtype=self._autocast):
                    logits = self._model.forward_image(x, f, m)
            else:
                logits = self._model.forward_image(x, f, m)
            return logits.float().cpu().numpy()


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, model, model_config, weights: pathlib.Path, cache_dir: pathlib.Path,
                 providers: list[str], precision: str) -> None:
        import onnxruntime as ort

        from vipa_ros.runtime.onnx_export import export_onnx

        available = ort.get_available_providers()
        wanted = list(providers) or [p for p in PROVIDER_PREFERENCE if p in available]
        missing = [p for p in wanted if p not in available]
        if missing:
            raise RuntimeError(f"ONNX Runtime providers {missing} not available (available: {available})")
        cache_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
        onnx_path = cache_dir / f"{model_config.name}-{model_config.input_size}-{digest}.onnx"
        if not onnx_path.is_file():
            log.info("exporting %s to ONNX: %s (once; cached)", weights.name, onnx_path)
            # Export a CPU copy: the live model keeps serving text encoding on its own device.
            export_onnx(copy.deepcopy(model).cpu().eval(), model_config, onnx_path)
        fp16 = precision == "fp16"
        provider_options = []
        for p in wanted:
            if p == "TensorrtExecutionProvider":
                provider_options.append({"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache_dir),
                                         "trt_fp16_enable": fp16})
            else:
                provider_options.append({})
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle intra-op threads sleep instead of spinning: after each run the node post-processes and fits the
        # grasp on the same cores. Measured on 2 shared cores: model 82 -> 46 ms, grasp fit 15 -> 7 ms.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(onnx_path), sess_options=options, providers=wanted,
                                             provider_options=provider_options)
        self.providers = self._session.get_providers()
        self.precision = "fp16" if fp16 and self.providers[0] == "TensorrtExecutionProvider" else "fp32"
        self._inputs = [i.name for i in self._session.get_inputs()]
        self.onnx_path = onnx_path

    def run(self, images: np.ndarray, text_feats: np.ndarray, text_mask: np.ndarray) -> np.ndarray:
        feeds = dict(zip(self._inputs, (images, text_feats.astype(np.float32), text_mask.astype(np.int64))))
        return self._session.run(None, feeds)[0]


def create_backend(config, model, model_config, weights: pathlib.Path, device) -> ImageBackend:
    """Build the backend named in `config.backend`; `auto` picks the fastest one available here."""
    choice = config.backend
    if choice == "auto":
        # On a GPU, PyTorch (CUDA) is always there; ORT wins when it has a GPU provider. On CPUs ORT is faster.
        choice = "onnxruntime" if device.type == "cpu" or _ort_has_gpu() else "torch"
    if choice == "torch":
        return TorchBackend(model, device, config.precision)
    if choice == "onnxruntime":
        cache = pathlib.Path(config.engine_cache_dir).expanduser()
        return OnnxRuntimeBackend(model, model_config, weights, cache, list(config.onnx_providers), config.precision)
    raise ValueError(f"unknown backend '{config.backend}' (auto | torch | onnxruntime)")


def _ort_has_gpu() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return any(p in ort.get_available_providers() for p in PROVIDER_PREFERENCE[:2])

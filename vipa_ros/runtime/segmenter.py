"""Segmenter: the one API that the node, the benchmark, the evaluation and the demo use to run VIPA.

image (H x W x 3 RGB uint8) + expression -> probability map -> ranked instances, with per-stage timings.
Text features are computed once per expression and cached, because a robot segments the same command on
many consecutive frames.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import pathlib
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from vipa_ros.runtime.backends import ImageBackend, create_backend, resolve_device
from vipa_ros.runtime.postprocess import InstanceMask, InstanceParams, extract_instances

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """The model config or weights could not be loaded; the message names the file and what to do."""


@dataclass
class SegmenterConfig:
    model: str = "vipa_s"  # config name (config/models/<name>.yaml) or YAML path
    weights: str = ""  # safetensors checkpoint; "" = the weights shipped for `model`
    backend: str = "auto"  # auto | torch | onnxruntime
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "fp32"  # fp32 | fp16 | bf16 (torch on CUDA) ; fp16 (onnxruntime CUDA/TensorRT)
    onnx_providers: list[str] = field(default_factory=list)  # empty = best available
    engine_cache_dir: str = "~/.cache/vipa_ros"
    text_cache_size: int = 32


@dataclass
class TextFeatures:
    expression: str
    feats: np.ndarray  # 1 x L x D float32
    mask: np.ndarray  # 1 x L int64 (1 = token, 0 = padding)


@dataclass
class SegmentationResult:
    expression: str
    probability: np.ndarray  # float32 in [0, 1] at the model's output resolution (instances are at image size)
    instances: list[InstanceMask]
    timings_ms: dict[str, float]  # preprocess, text, model, postprocess

    @property
    def target(self) -> InstanceMask | None:
        return self.instances[0] if self.instances else None


def _default_weights(model: str) -> pathlib.Path:
    from vipa_ros import resources

    return resources.weights_path(f"{pathlib.Path(model).stem}.safetensors")


class Segmenter:
    def __init__(self, config: SegmenterConfig | None = None, **overrides) -> None:
        self.config = dataclasses.replace(config or SegmenterConfig(), **overrides)
        import torch

        from vipa_ros.model import load_checkpoint

        weights = pathlib.Path(self.config.weights).expanduser() if self.config.weights \
            else _default_weights(self.config.model)
        if not weights.is_file():
            raise ModelLoadError(
                f"weights file not found: {weights} (set the 'weights' parameter to a vipa_ros .safetensors "
                f"checkpoint, e.g. one written by `vipa train`)")
        try:
            model, self.model_config = load_checkpoint(weights)
        except Exception as exc:  # noqa: BLE001 - any failure here is a bad file; say which
            raise ModelLoadError(f"cannot load weights {weights}: {exc}") from exc
        self.weights = weights
        self.device = resolve_device(self.config.device)
        self._torch = torch
        self._model = model.eval().to(self.device)
        self.input_size = int(self.model_config.input_size)
        # (x - mean) / std as x * scale + offset per channel, on uint8 pixels
        self._scale = 1.0 / (np.asarray(self.model_config.std, np.float32) * 255.0)
        self._offset = -np.asarray(self.model_config.mean, np.float32) / np.asarray(self.model_config.std, np.float32)
        self.backend: ImageBackend = create_backend(self.config, self._model, self.model_config, weights,
                                                    self.device)
        self._text_cache: collections.OrderedDict[str, TextFeatures] = collections.OrderedDict()

    @property
    def info(self) -> dict[str, str]:
        return {"model": self.model_config.name, "weights": str(self.weights), "backend": self.backend.name,
                "device": str(self.device), "precision": self.backend.precision,
                "input_size": str(self.input_size)}

    # --- text ---------------------------------------------------------------------------------------------
    def encode_text(self, expression: str) -> TextFeatures:
        """Text features for `expression`, from the cache when it was seen recently."""
        cached = self._text_cache.get(expression)
        if cached is not None:
            self._text_cache.move_to_end(expression)
            return cached
        torch = self._torch
        with torch.inference_mode():
            ids, mask = self._model.tokenize([expression])
            feats, feat_mask = self._model.encode_text(ids.to(self.device), mask.to(self.device))
        features = TextFeatures(expression, feats.float().cpu().numpy(), feat_mask.cpu().numpy().astype(np.int64))
        self._text_cache[expression] = features
        while len(self._text_cache) > self.config.text_cache_size:
            self._text_cache.popitem(last=False)
        return features

    # --- image --------------------------------------------------------------------------------------------
    def preprocess(self, image_rgb: np.ndarray) -> np.ndarray:
        """H x W x 3 uint8 RGB -> 1 x 3 x S x S float32, resized and normalised as in training."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {image_rgb.dtype} {image_rgb.shape}")
        size = self.input_size
        resized = cv2.resize(image_rgb, (size, size), interpolation=cv2.INTER_LINEAR)
        # one channel plane at a time: broadcasting over the interleaved H x W x 3 array is ~10x slower
        batch = np.empty((1, 3, size, size), np.float32)
        for c in range(3):
            np.multiply(resized[:, :, c], self._scale[c], out=batch[0, c])
            batch[0, c] += self._offset[c]
        return batch

    def probability(self, image_rgb: np.ndarray, expression: str) -> tuple[np.ndarray, dict[str, float]]:
        """Probability that each pixel belongs to the referred object, at the model's output resolution (a square
        map covering the whole image: upsample to the image's H x W to overlay it)."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        batch = self.preprocess(image_rgb)
        t1 = time.perf_counter()
        text = self.encode_text(expression)
        t2 = time.perf_counter()
        logits = self.backend.run(batch, text.feats, text.mask)
        t3 = time.perf_counter()
        prob = 1.0 / (1.0 + np.exp(-logits[0, 0].astype(np.float32)))
        t4 = time.perf_counter()
        timings.update(preprocess=(t1 - t0) * 1e3, text=(t2 - t1) * 1e3, model=(t3 - t2) * 1e3,
                       sigmoid=(t4 - t3) * 1e3)
        return prob, timings

    def segment(self, image_rgb: np.ndarray, expression: str,
                params: InstanceParams | None = None) -> SegmentationResult:
        prob, timings = self.probability(image_rgb, expression)
        t0 = time.perf_counter()
        instances = extract_instances(prob, params or InstanceParams(), image_rgb.shape[:2])
        timings["postprocess"] = timings.pop("sigmoid") + (time.perf_counter() - t0) * 1e3
        return SegmentationResult(expression, prob, instances, timings)

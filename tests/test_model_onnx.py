"""ONNX export of the image path: ONNX Runtime must agree with PyTorch, with a dynamic text length."""
from __future__ import annotations

import onnx
import pytest
import torch

from vipa_ros.model import build_model, load_config
from vipa_ros.runtime.onnx_export import export_onnx, verify_onnx


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _graph_io(path) -> dict[str, list]:
    graph = onnx.load(str(path)).graph
    return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(graph.input) + list(graph.output)}


def test_vipa_s_onnx_matches_torch_with_dynamic_text_length(tmp_path) -> None:
    cfg = load_config("vipa_s")
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=True).eval()  # pretrained backbone + MiniLM, random-init heads
    path = export_onnx(model, cfg, tmp_path / "vipa_s.onnx")
    io = _graph_io(path)
    assert io["images"] == [1, 3, 320, 320] and io["logits"] == [1, 1, 320, 320]
    assert isinstance(io["text_feats"][1], str) and io["text_feats"][1] == io["text_mask"][1]  # L is dynamic
    assert onnx.load(str(path)).opset_import[0].version == 17
    # random features at two lengths
    diffs = verify_onnx(model, cfg, path, text_lens=(5, 12))
    assert max(diffs.values()) < 1e-3, diffs
    # real MiniLM features of two expressions of different length, on a real-looking image
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    image = torch.randn(1, 3, 320, 320)
    for text in ("the blue cup", "pick up the small red mug on the left of the bowl"):
        feats, mask = model.encode_text(*model.tokenize([text]))
        with torch.no_grad():
            expected = model.forward_image(image, feats, mask).numpy()
        got = session.run(None, {"images": image.numpy(), "text_feats": feats.detach().numpy(),
                                 "text_mask": mask.numpy().astype(np.int64)})[0]
        assert np.abs(got - expected).max() < 1e-3


@pytest.mark.slow
def test_dynamo_exporter_also_gives_a_dynamic_graph(tmp_path) -> None:
    cfg = load_config("vipa_tiny")
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=False).eval()
    path = export_onnx(model, cfg, tmp_path / "tiny.onnx", exporter="dynamo")
    assert isinstance(_graph_io(path)["text_feats"][1], str)
    diffs = verify_onnx(model, cfg, path, text_lens=(4, 15))
    assert max(diffs.values()) < 1e-4, diffs

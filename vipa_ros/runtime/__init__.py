"""Inference runtime: Segmenter, backends (PyTorch, ONNX Runtime), ONNX export, mask post-processing.

Submodules are imported explicitly (e.g. `from vipa_ros.runtime.onnx_export import export_onnx`) so importing
the package stays cheap and free of torch.
"""

"""The `vipa` command: one entry point with a subcommand per task.

Only the chosen subcommand's module is imported, so `vipa --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module providing `add_arguments(parser)` and `run(args) -> int`, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "gen-tabletop": ("vipa_ros.data.tabletop.cli", "generate the synthetic tabletop RefCOCO-format dataset (MuJoCo)"),
    "model-info": ("vipa_ros.model.cli_model_info", "parameters per module and GFLOPs of a VIPA model config"),
    "train": ("vipa_ros.training.train", "train a VIPA config on RefCOCO-format data (torchrun for multi-GPU)"),
    "eval": ("vipa_ros.training.evaluate", "mIoU / oIoU / precision of a checkpoint on a dataset split"),
    "segment": ("vipa_ros.runtime.cli_segment", "segment one image for a command; writes mask and overlay"),
    "bench": ("vipa_ros.runtime.benchmark", "per-stage latency table per backend, config and input size"),
    "bench-node": ("vipa_ros.nodes.bench_node", "segment_node end-to-end latency over DDS vs model time"),
    "launch": ("vipa_ros.nodes.cli_launch", "start segment.launch.py's nodes without the ros2 command line"),
    "demo": ("vipa_ros.nodes.demo", "simulated tabletop + segment node over DDS: 'pick the blue cup' and more"),
    "listen": ("vipa_ros.language.speech.cli_listen", "spoken commands from WAV files or the microphone, printed"),
    "speech-eval": ("vipa_ros.language.speech.evaluate", "recognition rate of the speech backends on synthetic voices"),
    "speech-adapt": ("vipa_ros.language.speech.adaptation",
                     "adapt the grammar backend's acoustic model to a speaker/microphone (SphinxTrain)"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """Parser for `argv`: only the chosen subcommand's module is imported (the others cost nothing)."""
    parser = argparse.ArgumentParser(prog="vipa", description="vipa_ros: referring segmentation for robots")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if argv and argv[0] == name:
            p.set_defaults(_module=module)
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

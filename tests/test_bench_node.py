"""`vipa bench-node` runs end to end over DDS (a few frames) and prints its table: the benchmark readers run
to check the node-overhead figure must itself keep working."""
from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("rclpy", reason="ROS 2 not installed: run `make setup`")

pytestmark = [pytest.mark.ros]


def test_bench_node_prints_paced_camera_and_floor_rows(tiny_weights, tmp_path):
    out = tmp_path / "bench.md"
    proc = subprocess.run(
        [sys.executable, "-m", "vipa_ros.cli", "bench-node", "--model", "vipa_tiny", "--weights", str(tiny_weights),
         "--backend", "torch", "--device", "cpu", "--warmup", "1", "--frames", "3", "--seconds", "2",
         "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = out.read_text()
    assert "paced (no queueing) | node overhead (end-to-end - model)" in table
    assert "camera 30 Hz" in table
    assert "node stage: 3d" in table
    assert "node outputs with a subscriber (the others are not built): segmentation" in table
    overhead = next(line for line in table.splitlines() if "paced" in line and "node overhead" in line)
    median = float(overhead.split("|")[4])
    assert 0.0 < median < 10_000.0
    floor = next(line for line in table.splitlines() if line.startswith("| DDS floor (paced) |"))
    assert 0.0 < float(floor.split("|")[3]) < 10_000.0

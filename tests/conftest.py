"""Test-session environment: offline model loading and an isolated, localhost-only ROS 2 domain.

Set before anything imports transformers or rclpy, so every test and every subprocess it starts inherits it.
"""
from __future__ import annotations

import os
import pathlib
import random

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("MUJOCO_GL", "egl")
# A distinct domain per test session keeps parallel sessions (and other developers' nodes) apart.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.pop("ROS_LOCALHOST_ONLY", None)  # deprecated in Jazzy; would conflict with the line above

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

from vipa_ros.nodes.launch_plan import dds_environment  # noqa: E402  (plain Python: no rclpy import)

os.environ.update(dds_environment(str(REPO_ROOT / "config")))  # camera-sized frames over Fast DDS, as env.sh does


import pytest  # noqa: E402  (after the environment is set)


def pytest_sessionstart(session):
    # the grasp estimator's numba kernels are compiled on first use and cached on disk: do it here, once, so no
    # node a test starts spends its configure (or first frame) compiling them
    from vipa_ros.geometry import warm_up

    warm_up()


@pytest.fixture
def ros_context():
    """A private rclpy context per test, shut down afterwards (skips when ROS 2 is not installed)."""
    rclpy = pytest.importorskip("rclpy", reason="ROS 2 (rclpy) not installed: run `make setup`")
    context = rclpy.context.Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        context.try_shutdown()


@pytest.fixture(scope="session")
def tabletop_small(tmp_path_factory):
    """A small generated tabletop dataset (RefCOCO format) shared by the training and end-to-end tests."""
    pytest.importorskip("mujoco")
    from vipa_ros.data.tabletop import generate as gen

    out = tmp_path_factory.mktemp("tabletop_small")
    gen.generate_dataset(out, 5, seed=7, width=160, height=120, workers=1, progress=False)
    return out


@pytest.fixture
def torch_one_thread():
    """Run torch on one thread: test machines are shared, and oversubscribed OpenMP pools get far slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# Accuracy the shipped vipa_s must have reached (test-split mIoU recorded in the checkpoint by `vipa eval`
# through scripts/ship_weights.py) before the tests that check it picks the right objects are meaningful.
TRAINED_MIOU_BAR = 0.90


@pytest.fixture(scope="session")
def shipped_vipa_s():
    """Path of the shipped vipa_s weights, whatever their accuracy: the demo-scene checks run on every shipped
    checkpoint, so a checkpoint that no longer picks the demo's objects cannot be shipped unnoticed."""
    from vipa_ros import resources

    path = resources.weights_path("vipa_s.safetensors")
    if not path.is_file():
        pytest.skip(f"no vipa_s weights shipped ({path})")
    return path


@pytest.fixture(scope="session")
def trained_vipa_s(shipped_vipa_s):
    """Path of the shipped vipa_s weights, skipping (with the measured accuracy as the reason) while the shipped
    checkpoint is still a partial training run below TRAINED_MIOU_BAR."""
    from vipa_ros.model.checkpoint import checkpoint_extra

    miou = float(checkpoint_extra(shipped_vipa_s).get("test_mIoU", 0.0))
    if miou < TRAINED_MIOU_BAR:
        pytest.skip(f"shipped vipa_s is a partial training run (test mIoU {miou:.3f} < {TRAINED_MIOU_BAR}); "
                    "these checks run once the trained weights land")
    return shipped_vipa_s


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """A vipa_tiny checkpoint with random weights: node plumbing tests, not accuracy."""
    from vipa_ros.model import build_model, load_config, save_checkpoint

    cfg = load_config("vipa_tiny")
    # p = 0.5 at init (not the training prior of 0.01): random masks then hold instances for the nodes to publish
    cfg.decoder.prior_prob = 0.5
    path = tmp_path_factory.mktemp("weights") / "vipa_tiny_random.safetensors"
    save_checkpoint(path, build_model(cfg, pretrained=False), cfg, {"note": "random init, for node tests"})
    return path

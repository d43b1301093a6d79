#!/usr/bin/env bash
# Run the pytest suite inside the vipa_ros environment (offline, isolated ROS domain). Extra args go to pytest.
# pytest exits non-zero when no test is collected (exit code 5), so an empty run never passes silently.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$ROOT/env.sh"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
cd "$ROOT"
exec python -m pytest "$@"

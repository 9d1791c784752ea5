#!/usr/bin/env bash
# The main job on shipped example data: makes .venv, installs picogate, runs `picogate demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
"$VENV/bin/picogate" demo "$@"

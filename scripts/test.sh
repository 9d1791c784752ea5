#!/usr/bin/env bash
# The whole test suite on a fresh machine: makes .venv, installs picogate with its
# test extras (torch pinned to the CPU wheel), lints, runs pytest, then installs the built
# wheel in a fresh venv with only its declared dependencies and runs the CLI there
# (scripts/wheel_smoke.sh). A pytest failure exits with pytest's status before the smoke runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
bash scripts/wheel_smoke.sh

#!/usr/bin/env bash
# The whole test suite on a fresh machine: makes .venv, installs picogate with its
# test extras (torch pinned to the CPU wheel), lints, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"

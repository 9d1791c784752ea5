#!/usr/bin/env bash
# The whole test suite on a fresh machine: makes .venv, installs picogate with its
# test extras (torch pinned to the CPU wheel), lints, runs pytest, then installs the built
# wheel in a fresh venv with only its declared dependencies and runs the CLI there
# (scripts/wheel_smoke.sh). A pytest failure exits with pytest's status before the smoke runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
# The history page's browser test drives Debian's chromium + chromium-driver; install them when absent, only as
# root where apt-get exists, never failing here (without them that test skips and says why).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "test.sh: installing chromium and chromium-driver for the browser test" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
            >/dev/null 2>&1 || echo "test.sh: could not install chromium; the browser test will skip" >&2
    fi
fi
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
bash scripts/wheel_smoke.sh

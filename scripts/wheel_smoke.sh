#!/usr/bin/env bash
# The wheel installs and runs on its own: build it, install it in a fresh virtual environment with
# only its declared dependencies (no extras, no source tree on the path), and run the CLI there on
# the shipped examples. A module that picogate imports but does not declare fails here, not for users.
#   bash scripts/wheel_smoke.sh          (scripts/test.sh runs it after pytest)
# Needs a .venv with hatchling (scripts/_env.sh makes one); the fresh venv installs from the package
# indexes pip is configured with (`pip config list`), as scripts/_env.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
VENV="${PICOGATE_VENV:-.venv}"
start=$SECONDS
tmp="$(mktemp -d "${TMPDIR:-/tmp}/picogate-wheel-smoke.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

fail() { echo "wheel smoke: FAILED: $*" >&2; exit 1; }

"$VENV/bin/python" -m hatchling build -t wheel -d "$tmp/dist" >"$tmp/build.log" 2>&1 \
    || { cat "$tmp/build.log" >&2; fail "the wheel does not build"; }
wheel="$(ls "$tmp"/dist/picogate-*.whl)"

python3 -m venv "$tmp/venv"
py="$tmp/venv/bin/python"
# pip's own output (index warnings) is shown only when the install fails
"$py" -m pip install -q --no-compile "$wheel" >"$tmp/pip.log" 2>&1 \
    || { cat "$tmp/pip.log" >&2; fail "pip install $(basename "$wheel") (declared dependencies only) failed"; }

# Run from outside the repository, with nothing but the fresh venv on the path, so that the installed
# package (not ./picogate) is what imports; example paths are absolute.
mkdir "$tmp/cwd"
cd "$tmp/cwd"
export PYTHONNOUSERSITE=1 PATH="$tmp/venv/bin:$PATH"
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV PICOGATE_DEBUG

where="$("$py" -c 'import picogate; print(picogate.__file__)')" || fail "import picogate"
case "$where" in "$tmp/venv/"*) ;; *) fail "picogate imported from $where, not from the fresh venv" ;; esac

# run NAME ALLOWED_EXIT_CODES... -- COMMAND...: the exit code must be allowed and nothing may crash
run() {
    local name="$1" allowed=() rc=0
    shift
    while [ "$1" != "--" ]; do allowed+=("$1"); shift; done
    shift
    "$@" >"$tmp/out" 2>&1 || rc=$?
    if grep -q -e "Traceback" -e "internal error" -e "ModuleNotFoundError" "$tmp/out" \
            || [[ " ${allowed[*]} " != *" $rc "* ]]; then
        cat "$tmp/out" >&2
        fail "$name exited $rc (expected ${allowed[*]})"
    fi
    echo "wheel smoke: $name: exit $rc"
}

# `import picogate` tolerates a missing gate dependency (a torch-only scoring box); the gate names must not
run "import the gate names" 0 -- "$py" -c 'from picogate import evaluate, load_rules, postrun, preflight'
run "picogate --help" 0 -- picogate --help
# blocked (1) is a verdict; 2 (could not run) or a traceback is a failure
run "picogate evaluate examples/metrics.jsonl --rules skill_release" 0 1 -- \
    picogate evaluate "$REPO/examples/metrics.jsonl" --rules skill_release
run "picogate preflight examples/plan.yaml" 0 -- picogate preflight "$REPO/examples/plan.yaml" -q
grep -q "approved" "$tmp/out" || { cat "$tmp/out" >&2; fail "examples/plan.yaml was not approved"; }
# with no rules/tests/ here, `rules test` says so (exit 2) instead of testing the shipped profiles
run "picogate rules test (no rules/tests here)" 2 -- picogate rules test
grep -q "no rules/tests/ folder" "$tmp/out" || { cat "$tmp/out" >&2; fail "rules test did not say what is missing"; }
shipped_tests="$("$py" -c 'from picogate.paths import RULES_DIR; print(RULES_DIR / "tests")')"
run "picogate rules test (shipped, named)" 0 -- picogate rules test "$shipped_tests"

echo "wheel smoke: ok ($(basename "$wheel"), fresh venv, $((SECONDS - start)) s)"

# Sourced by scripts/test.sh and scripts/demo.sh: one virtual environment, installed once
# and re-installed only when pyproject.toml changes.
VENV="${PICOGATE_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
stamp="$VENV/.picogate-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e '.[dev,eval,dedup,mlflow,ray,lm-eval]'
    echo "$want" > "$stamp"
fi

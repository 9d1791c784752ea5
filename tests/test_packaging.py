# .venv/bin/python -m pytest tests/test_packaging.py
"""The built wheel carries the shipped rules and schemas, finds them when installed, and declares every
third-party module picogate imports (scripts/wheel_smoke.sh installs it in a fresh venv to prove it)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr  # hatchling is in the dev extra, so this builds offline
    return next(out.glob("picogate-*.whl"))


def test_wheel_finds_shipped_rules(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "picogate/_shipped/rules/skill_release.yaml" in names
        assert "picogate/_shipped/schemas/rules.schema.json" in names
        zf.extractall(site)
    code = (
        "import picogate.paths as p, picogate;"
        "assert '_shipped' in str(p.RULES_DIR), p.RULES_DIR;"
        "rs = picogate.load_rules('skill_release');"
        "print(len(rs.rules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(site), "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 7


# -- every third-party import is a declared dependency (issue 11: `pip install picogate` lacked numpy) ----

IMPORT_NAMES = {"yaml": "pyyaml", "mlflow": "mlflow-skinny"}  # import name -> distribution name, where they differ
# import name -> (its extra, the modules that may import it unguarded: they are only loaded behind a guard —
# `picogate eval` for the evaluator, a trainer's own torch for the integrations, `--engine ray` for the Ray
# engine); anywhere else it must be guarded
EXTRA_ONLY = {"torch": ("eval", ("picogate/evaluator/", "picogate/integrations/")),
              "ray": ("ray", ("picogate/preflight/ray_",)), "mlflow": ("mlflow", ())}
BROUGHT_BY_USER = {"transformers", "lightning", "pytorch_lightning", "tiktoken"}  # the trainer / tokenizer's own


def _requirement_name(spec: str) -> str:
    return re.split(r"[\s<>=!~\[;]", spec, maxsplit=1)[0].lower().replace("_", "-")


def _third_party_imports() -> list[tuple[str, str, bool]]:
    """(module, file:line, guarded) for every absolute import of a non-stdlib, non-picogate module."""
    out = []
    for path in sorted((REPO / "picogate").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            guarded, up = False, parents.get(node)
            while up is not None:  # inside `try: ... except ImportError` (or ModuleNotFoundError)
                if isinstance(up, ast.Try) and any(
                        isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                        for h in up.handlers):
                    guarded = True
                up = parents.get(up)
            for name in names:
                top = name.split(".")[0]
                if top != "picogate" and top not in sys.stdlib_module_names and top != "__future__":
                    out.append((top, f"{path.relative_to(REPO)}:{node.lineno}", guarded))
    return out


def test_every_third_party_import_is_declared():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {_requirement_name(s) for s in project["dependencies"]}
    extras = {k: {_requirement_name(s) for s in v} for k, v in project["optional-dependencies"].items()}
    imports = _third_party_imports()
    assert {m for m, _, _ in imports} >= {"numpy", "polars", "pyarrow"}  # the scan sees real imports
    for module, where, guarded in imports:
        dist = IMPORT_NAMES.get(module, module).replace("_", "-")
        if module in EXTRA_ONLY:
            extra, home = EXTRA_ONLY[module]
            assert dist in extras[extra], where
            assert guarded or where.startswith(home), f"{where}: unguarded {module} outside {home}"
        elif module in BROUGHT_BY_USER:
            assert guarded, f"{where}: {module} is not a dependency; import it under try/except ImportError"
        else:
            assert dist in base, f"{where}: imports {module}, which pyproject.toml does not declare"


def test_pre_commit_hooks_need_nothing_beyond_the_package():
    """`language: python` hooks install the repository itself (its declared dependencies) and run `picogate`."""
    import yaml

    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    for hook in hooks:
        assert hook["language"] == "python" and hook["entry"].split()[0] == "picogate", hook["id"]
        assert not hook.get("additional_dependencies"), hook["id"]

"""picogate: may this small language-model run start, and may its model be released?

    from picogate import evaluate
    result = evaluate("runs.parquet", "skill_release")
    result.status        # "approved" | "warn" | "blocked"
    result.checks        # one row per run x check: outcome, observed, required, fix

Policy lives in rule files (`rules/*.yaml`), evidence in tables; `evaluate` joins
them in one columnar pass. See DESIGN.md for the contracts.
"""

from __future__ import annotations

from typing import Any

from picogate.errors import InputError, PicogateError, RuleError

try:
    from picogate.evaluate import evaluate
    from picogate.postrun import RunRecorder, postrun
    from picogate.preflight.gate import preflight
    from picogate.result import GateResult
    from picogate.rules import RuleSet, load_rules
except ModuleNotFoundError as exc:
    # A torch-only image (a GPU box scoring a model) has no polars or pydantic; `picogate.evaluator`
    # needs neither, so the package still imports and only the gate names are unavailable.
    if exc.name not in ("numpy", "polars", "pyarrow", "pydantic", "jsonschema", "yaml", "rich"):
        raise
    _MISSING = exc.name

    def __getattr__(name: str) -> Any:
        if name in __all__:
            raise ImportError(f"picogate.{name} needs {_MISSING}, which is not installed; pip install picogate")
        raise AttributeError(f"module 'picogate' has no attribute {name!r}")

__all__ = [
    "GateResult", "InputError", "PicogateError", "RuleError", "RuleSet", "RunRecorder", "evaluate", "load_rules",
    "postrun", "preflight",
]
__version__ = "0.1.0"

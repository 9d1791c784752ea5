"""picogate: may this small language-model run start, and may its model be released?

    from picogate import evaluate
    result = evaluate("runs.parquet", "skill_release")
    result.status        # "approved" | "warn" | "blocked"
    result.checks        # one row per run x check: outcome, observed, required, fix

Policy lives in rule files (`rules/*.yaml`), evidence in tables; `evaluate` joins
them in one columnar pass. See DESIGN.md for the contracts.
"""

from picogate.errors import InputError, PicogateError, RuleError
from picogate.evaluate import evaluate
from picogate.postrun import RunRecorder, postrun
from picogate.preflight.gate import preflight
from picogate.result import GateResult
from picogate.rules import RuleSet, load_rules

__all__ = [
    "GateResult", "InputError", "PicogateError", "RuleError", "RuleSet", "RunRecorder", "evaluate", "load_rules",
    "postrun", "preflight",
]
__version__ = "0.1.0"

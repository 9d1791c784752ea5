"""Policy workflow: rule tests as data, impact preview of a rule change, profile tables, CI output.

    from picogate.policy import run_rule_tests, diff_rules, show
    run_rule_tests(["rules/tests"]).failed                         # 0
    diff_rules("git-main-release.yaml", "rules/release.yaml", "runs.parquet").changed
    print(show("skill_release", fmt="markdown"))

The CLI is `picogate rules test | diff | show` (see `picogate/policy/cli.py`).
"""

from picogate.policy.diff import RulesDiff, diff_rules
from picogate.policy.ruletests import TestReport, load_test_file, run_rule_tests
from picogate.policy.show import show

__all__ = ["RulesDiff", "TestReport", "diff_rules", "load_test_file", "run_rule_tests", "show"]

"""The rule-test file as a model: what `picogate rules test` reads, and what its schema says.

`schemas/rule_tests.schema.json` is generated from `RuleTestFile` (`python -m picogate.schema`), so
editors, the loader (picogate/policy/ruletests.py) and the docs cannot disagree about a key.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypeAliasType

from picogate.fields import Omittable, RuleId, Strict, Text, Unique

Stage = Literal["preflight", "postrun"]
Outcome = Literal["pass", "fail", "missing", "error"]

# One run's metrics: dotted names (eval.math.pass_rate: 0.3) or nested mappings whose keys join with dots.
MetricValue = TypeAliasType(
    "MetricValue",
    "float | int | str | bool | dict[Annotated[str, Field(min_length=1)], MetricValue] | None",
)
Metrics = dict[Annotated[str, Field(min_length=1)], MetricValue]


class Expect(Strict):
    """The verdict the profile must give the case's run."""

    status: Literal["approved", "warn", "blocked"] = Field(description="the run's verdict")
    failing: Omittable[Unique[list[RuleId]]] = Field(
        None, description="exactly the rule ids that do not let the run through (blocking or warning); [] for none")
    outcomes: dict[RuleId, Outcome] = Field(
        {}, description="rule id -> pass | fail | missing | error, for the rules this case is about")


class CaseSpec(Strict):
    """One run and the verdict it must get."""

    name: Text = Field(description="what this case shows; unique in the file")
    stage: Omittable[Stage] = Field(None, description="only this stage's rules are judged (default: the file's)")
    metrics: Metrics = Field({}, description="laid over `base`; null makes a metric missing")
    drop: Unique[list[Text]] = Field([], description="metrics of `base` to leave out entirely (an absent column)")
    expect: Expect


class RuleTestFile(Strict):
    """Unit tests of a profile, as data: each case is a metrics fixture (one run) and the verdict the profile
    must give it. Run with `picogate rules test [DIR]`."""

    profile: Text = Field(description="the profile under test: a profile name (looked up beside the tests' folder, "
                                      "e.g. rules/ for rules/tests/, then in the shipped rules) or a rule file path "
                                      "relative to this file")
    description: str = Field("", description="what these cases pin down")
    stage: Omittable[Stage] = Field(None, description="default stage for every case: only that stage's rules are "
                                                      "judged (default: all rules)")
    base: Metrics = Field({}, description="metrics every case starts from; usually a run that clears every rule")
    cases: list[CaseSpec] = Field(min_length=1, description="the cases, each judged by the same evaluate the gate "
                                                            "uses")

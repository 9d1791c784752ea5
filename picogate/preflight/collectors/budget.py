"""Token budget: the tokens-per-parameter ratio a run claims, and what it actually schedules."""

from __future__ import annotations

from picogate.preflight.plan import PlanSpec


def metrics(plan: PlanSpec) -> dict[str, object]:
    """`target_param_data_ratio`, `planned_param_data_ratio` and `planned_to_target_ratio`.

    A 1B-parameter run claiming 20:1 while scheduling 8B tokens plans 8:1, i.e. 0.4 of its claim.
    """
    params = plan.model.param_count()
    planned = plan.planned_tokens()
    target = plan.budget.target_param_data_ratio
    return {
        "model.params": params,
        "model.params_counted": plan.model.counted,
        "planned_tokens": planned,
        "target_param_data_ratio": target,
        "planned_param_data_ratio": planned / params,
        "planned_to_target_ratio": planned / (target * params),
    }

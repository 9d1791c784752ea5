"""Fixtures of the engine tests; the helpers themselves live in engine_helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def rules_file(write_rules):  # type: ignore[no-untyped-def]
    """A one-rule postrun profile around a check: `rules_file("x >= 0.5", severity="warn")`."""

    def make(check: str, *, severity: str = "block", missing: str = "fail", name: str = "r.yaml",
             profile: str = "t") -> Path:
        return write_rules(f"""
            profile: {profile}
            metrics:
              x: {{type: float, description: test metric}}
              y: {{type: float, description: test metric}}
              s_name: {{type: string, description: test text}}
              b_ok: {{type: bool, description: test flag}}
            rules:
              - id: t.check
                stage: postrun
                severity: {severity}
                missing: {missing}
                check: "{check}"
                message: "observed {{observed}}"
                fix: do better
            """, name)

    return make

"""Helpers of the policy tests: run `picogate rules ...` in-process or as a real process.

`picogate rules test|diff|show` is wired into `picogate.cli` by `add_rules_commands`; until it is,
the same actions run as `python -m picogate.policy`, which these helpers fall back to.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def wired() -> bool:
    """Whether `picogate rules` has the policy actions (picogate/cli.py calls add_rules_commands)."""
    from picogate.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    rules = sub.choices["rules"]
    rsub = next(a for a in rules._actions if a.__class__.__name__ == "_SubParsersAction")
    return {"test", "diff", "show"} <= set(rsub.choices)


def rules_main(*args: object) -> int:
    """Run `picogate rules ARGS` in this process; returns the exit status."""
    argv = [str(a) for a in args]
    if wired():
        from picogate.cli import main

        try:
            return main(["rules", *argv])
        except SystemExit as exc:  # the CLI exits 2 through SystemExit on a PicogateError
            return int(exc.code or 0)
    from picogate.policy.__main__ import main as policy_main

    return policy_main(argv)


def rules_process(*args: object, cwd: Path | None = None,
                  env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `picogate rules ARGS` as a real process (fresh interpreter, real exit status, real stderr)."""
    head = [sys.executable, "-m", "picogate", "rules"] if wired() else [sys.executable, "-m", "picogate.policy"]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full_env.pop("PICOGATE_DEBUG", None)
    full_env["PYTHONPATH"] = str(REPO)
    full_env.update(env or {})
    return subprocess.run([*head, *map(str, args)], capture_output=True, text=True, cwd=cwd or REPO, env=full_env,
                          timeout=120, check=False)

"""`picogate preflight PLAN`: may this run start?

Prints the report in the chosen format, and always writes the full result (verdict, every
check, and the evidence row) as JSON, atomically: next to the plan as `<plan>.preflight.json`,
or where `--out` says. Exit status as everywhere: 0 approved, 1 blocked, 2 could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_preflight_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `preflight` on the `picogate` command's subparsers."""
    from picogate.cli import _output_args

    p = subparsers.add_parser("preflight", help="judge a run plan and its data before any GPU is spent")
    p.add_argument("plan", help="run plan (YAML; schemas/plan.schema.json)")
    p.add_argument("--profile", "-p", help="profile name or rule file (default: the plan's 'profile:')")
    _output_args(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar while scanning the corpus")
    p.set_defaults(func=cmd_preflight)
    return p


def default_out(plan: Path) -> Path:
    """Where results go without --out: beside the plan, `plan.yaml` -> `plan.preflight.json`."""
    return plan.with_name(plan.stem + ".preflight.json")


def cmd_preflight(args: argparse.Namespace) -> int:
    from picogate.cli import emit
    from picogate.io import atomic_write_text
    from picogate.preflight.gate import run

    plan = Path(args.plan)
    result, evidence = run(plan, profile=args.profile, quiet=args.quiet)
    out = Path(args.out) if args.out else default_out(plan)
    payload = {**result.to_dict(), "plan": str(plan), "evidence": evidence}
    atomic_write_text(out, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    shown = argparse.Namespace(**{**vars(args), "out": None})  # --out is the JSON results, not the report
    code = emit(result, shown)
    if not args.quiet:
        print(f"picogate: preflight results written to {out}", file=sys.stderr)
    return code

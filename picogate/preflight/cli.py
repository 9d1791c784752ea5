"""`picogate preflight PLAN`: may this run start?

Prints the report in the chosen `--format` (and writes that same report to `--out FILE`), and
always writes the full results (verdict, every check, and the evidence row) as JSON, atomically:
beside the plan as `<plan>.preflight.json`, or where `--results` says; a run directory's
`preflight.json` is this file. Exit status as everywhere: 0 approved, 1 blocked, 2 could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from picogate.output import add_output_args


def add_preflight_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `preflight` on the `picogate` command's subparsers."""
    p = subparsers.add_parser("preflight", help="judge a run plan and its data before any GPU is spent")
    p.add_argument("plan", help="run plan (YAML; schemas/plan.schema.json)")
    p.add_argument("--profile", "-p", help="profile name or rule file (default: the plan's 'profile:')")
    add_output_args(p)
    p.add_argument("--results", metavar="FILE",
                   help="where the JSON results with the evidence row go (default: beside the plan, "
                        "plan.yaml -> plan.preflight.json)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar while scanning the corpus")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="where the corpus is scanned: this process (default) or Ray Data (pip install "
                        "'picogate[ray]'); the evidence is the same either way")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster to use with --engine ray (default: RAY_ADDRESS, else start a local one)")
    p.set_defaults(func=cmd_preflight)
    return p


def default_out(plan: Path) -> Path:
    """Where results go without --results: beside the plan, `plan.yaml` -> `plan.preflight.json`."""
    return plan.with_name(plan.stem + ".preflight.json")


def cmd_preflight(args: argparse.Namespace) -> int:
    from picogate.errors import InputError
    from picogate.escape import text
    from picogate.io import atomic_write_text
    from picogate.output import GateReport, emit
    from picogate.preflight.gate import run

    plan = Path(args.plan)
    if args.ray_address and args.engine != "ray":
        raise InputError("--ray-address needs --engine ray")
    result, evidence = run(plan, profile=args.profile, quiet=args.quiet, engine=args.engine,
                           ray_address=args.ray_address)
    results = Path(args.results) if args.results else default_out(plan)
    payload = {**result.to_dict(), "plan": str(plan), "evidence": evidence}
    atomic_write_text(results, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    code = emit(GateReport(result, "preflight"), args)
    if not args.quiet:
        print(f"picogate: preflight results written to {text(results)}", file=sys.stderr)
    return code

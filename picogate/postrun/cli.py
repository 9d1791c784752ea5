"""`picogate postrun RUN_DIR`: may this finished run's model be released?

    picogate postrun demo-run [--baseline runs/previous] [--profile skill_release] [--format text|json|markdown|junit]

Writes report.md, skills.svg and postrun.json into --out (default: the run directory) unless --no-files.
Exit status: 0 approved (and warn unless --fail-on warn), 1 blocked, 2 the gate could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

FORMATS = ("text", "json", "markdown", "junit")


def add_postrun_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `postrun` on the main CLI's subparsers; the parser's default `func` is `cmd_postrun`."""
    p = subparsers.add_parser("postrun", help="judge a finished run directory for release",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="run directory written by picogate.postrun.RunRecorder (docs/run-dir.md)")
    p.add_argument("--baseline", help="a previous run directory to compare per-skill rates against")
    p.add_argument("--profile", "-p", help="profile or rule file (default: the one the run's preflight used)")
    p.add_argument("--format", "-f", choices=FORMATS, default="text", help="report format (default: text)")
    p.add_argument("--out", "-o", help="folder for report.md, skills.svg, postrun.json (default: RUN_DIR)")
    p.add_argument("--no-files", action="store_true", help="write no report files, only print")
    p.add_argument("--fail-on", choices=("block", "warn"), default="block",
                   help="exit 1 on blocked (default) or also on warn")
    p.set_defaults(func=cmd_postrun)
    return p


def render(outcome: Any, fmt: str) -> str:
    from picogate.postrun import report

    if fmt == "json":
        return json.dumps(report.to_dict(outcome), indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt == "markdown":
        return report.to_markdown(outcome, chart=None)
    if fmt == "junit":
        return outcome.result.to_junit_xml()
    return report.to_text(outcome)


def cmd_postrun(args: argparse.Namespace) -> int:
    """Judge, print, write the report files; returns the exit status (errors propagate to the main CLI)."""
    from picogate.postrun.gate import run
    from picogate.postrun.report import write_reports

    outcome = run(args.run_dir, profile=args.profile, baseline=args.baseline)
    sys.stdout.write(render(outcome, args.format))
    if not args.no_files:
        paths = write_reports(outcome, args.out or args.run_dir)
        print(f"report: {paths['markdown']} (chart {paths['chart'].name}, evidence {paths['json'].name})",
              file=sys.stderr)
    status = outcome.result.status
    return 1 if status == "blocked" or (status == "warn" and args.fail_on == "warn") else 0

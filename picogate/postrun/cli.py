"""`picogate postrun RUN_DIR`: may this finished run's model be released?

    picogate postrun demo-run [--baseline runs/previous] [--profile skill_release]
        [--format text|json|markdown|junit|github|sarif] [--out FILE] [--reports DIR] [--no-files]

Prints the report in the chosen format (and writes it to --out FILE); writes report.md, skills.svg
and postrun.json into --reports (default: the run directory) unless --no-files.
Exit status: 0 approved (and warn unless --fail-on warn), 1 blocked, 2 the gate could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from picogate.output import GateReport, add_output_args

if TYPE_CHECKING:
    from picogate.postrun.gate import Outcome


def add_postrun_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `postrun` on the main CLI's subparsers; the parser's default `func` is `cmd_postrun`."""
    p = subparsers.add_parser("postrun", help="judge a finished run directory for release",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="run directory written by picogate.postrun.RunRecorder (docs/run-dir.md)")
    p.add_argument("--baseline", help="a previous run directory to compare per-skill rates against")
    p.add_argument("--profile", "-p", help="profile or rule file (default: the one the run's preflight used)")
    add_output_args(p)
    p.add_argument("--reports", metavar="DIR", help="folder for report.md, skills.svg, postrun.json "
                                                    "(default: RUN_DIR)")
    p.add_argument("--no-files", action="store_true", help="write no report files, only print")
    p.set_defaults(func=cmd_postrun)
    return p


class PostrunReport(GateReport):
    """The post-run report (picogate.postrun.report) for text, json and markdown: verdict, failing skills
    weakest first, per-skill rates with intervals, the honesty report. junit, github and sarif are the
    release gate's GateResult, like every other gate's."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.result, "postrun")
        self.outcome = outcome

    def write_own(self, fmt: str, out: TextIO) -> None:
        from picogate.postrun import report

        if fmt == "json":
            out.write(json.dumps(report.to_dict(self.outcome), indent=2, ensure_ascii=False, default=str) + "\n")
        elif fmt == "markdown":
            out.write(self.markdown())
        elif fmt == "text":
            out.write(report.to_text(self.outcome))
        else:
            super().write_own(fmt, out)

    def markdown(self) -> str:
        from picogate.postrun import report

        return report.to_markdown(self.outcome, chart=None)

    def headline(self) -> str:
        from picogate.escape import text

        return f"{super().headline()}; run {text(self.outcome.evidence.get('run_id'))}"


def cmd_postrun(args: argparse.Namespace) -> int:
    """Judge, print, write the report files; returns the exit status (errors propagate to the main CLI)."""
    from picogate.escape import text
    from picogate.output import emit
    from picogate.postrun.gate import run
    from picogate.postrun.report import write_reports

    outcome = run(args.run_dir, profile=args.profile, baseline=args.baseline)
    code = emit(PostrunReport(outcome), args)
    if not args.no_files:
        paths = write_reports(outcome, args.reports or args.run_dir)
        print(f"report: {text(paths['markdown'])} (chart {text(paths['chart'].name)}, evidence "
              f"{text(paths['json'].name)})", file=sys.stderr)
    return code

"""`picogate demo`: the whole story on the shipped examples, in well under a minute on a laptop CPU.

1. preflight: examples/plan.yaml passes; examples/plan_undertrained.yaml (claims 20:1, schedules 8:1) does not;
2. train: examples/train_tiny.py pretrains a ~16k-parameter transformer on the example corpus for the planned
   tokens, SFTs it on the example SFT rows, and records every stage into a run directory;
3. eval: the evaluator scores SFT train, held-out SFT, eval and an external multiple-choice set;
4. post-run: the honesty report, then the release gate; the report leads with the verdict and the weakest
   skills. A model this small completes training and is (honestly) blocked.

The verdict is the story, so a blocked run still exits 0. The run directory (default ./demo-run/) is left
for inspection: `picogate postrun demo-run` judges it again.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

from picogate.errors import PicogateError


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    """Optional: the demo's own flags (run_demo works without them, with the defaults)."""
    p.add_argument("--out", default="demo-run", help="run directory to write (default: ./demo-run)")
    p.add_argument("--sft-steps", type=int, default=400, help="SFT steps of the tiny model (default 400)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars for training and scoring (there are none when stderr is not a terminal)")


def _examples() -> Path:
    from picogate.paths import RULES_DIR

    examples = RULES_DIR.parent / "examples"
    if not (examples / "plan.yaml").is_file() or not (examples / "train_tiny.py").is_file():
        raise PicogateError(f"{examples}: example data not found (run the demo from a source checkout)")
    return examples


def _trainer(examples: Path) -> Any:
    try:
        import torch  # noqa: F401  (the demo trains a model)
    except ImportError:
        raise PicogateError("the demo trains a tiny model and needs torch: pip install 'picogate[eval]'") from None
    spec = importlib.util.spec_from_file_location("picogate_examples_train_tiny", examples / "train_tiny.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _say(text: str) -> None:
    print(text, flush=True)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; `args` may carry format, out, sft_steps and quiet (defaults otherwise). Returns 0."""
    from picogate.io import atomic_write_text
    from picogate.postrun.cli import PostrunReport
    from picogate.postrun.gate import run
    from picogate.postrun.report import write_reports
    from picogate.preflight.gate import run as preflight_run
    from picogate.report import print_text

    fmt = getattr(args, "format", "text") or "text"
    out = Path(getattr(args, "out", None) or "demo-run")
    sft_steps = int(getattr(args, "sft_steps", None) or 400)
    quiet = bool(getattr(args, "quiet", False))
    examples = _examples()
    trainer = _trainer(examples)
    t0 = time.perf_counter()

    _say("== 1. preflight: may these runs start? ==")
    for name in ("plan.yaml", "plan_undertrained.yaml"):
        result, evidence = preflight_run(examples / name)
        _say(f"\n-- examples/{name}")
        print_text(result, file=sys.stdout)
        atomic_write_text(out / name.replace(".yaml", ".preflight.json"),
                          json.dumps({**result.to_dict(), "evidence": evidence}, indent=2, ensure_ascii=False,
                                     default=str) + "\n")

    _say("\n== 2. train + eval: examples/plan.yaml, a tiny transformer on the example corpus and SFT rows ==")
    trainer.train_run(examples / "plan.yaml", out, sft_steps=sft_steps, log=lambda s: _say("  " + s),
                      progress=not quiet)

    _say("\n== 3. post-run: may its model be released? ==\n")
    outcome = run(out)
    sys.stdout.write(PostrunReport(outcome).render(fmt))
    paths = write_reports(outcome, out)
    _say(f"\ntraining completed, eval produced scores, and the release verdict is: {outcome.result.status.upper()}")
    _say(f"run directory left in {out}/ (report {paths['markdown'].name}, chart {paths['chart'].name}); "
         f"judge it again with: picogate postrun {out}   [{time.perf_counter() - t0:.0f}s]")
    from picogate.verdict import EXIT_APPROVED

    return EXIT_APPROVED  # the verdict is the story: a blocked tiny model still exits 0

"""`picogate eval`: score a model on row files and write the run's evaluator tables.

    picogate eval --model examples.tiny_model:build --checkpoint ckpt.pt \\
        --rows eval.jsonl --sft sft.jsonl --sft-heldout heldout.jsonl \\
        --external arc_easy=arc.jsonl --out runs/r1

The model is a Python import path (`package.module:factory` or `path/to/file.py:factory`) to a factory
returning (model, tokenizer) or (model, tokenizer, chat_template); with `--checkpoint` the factory is
called with that path. Exit status 0 when the tables were written, 2 with a one-line reason otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Only torch-free modules here, so the main CLI can register `eval` without the eval extra.
from picogate.evaluator.graders import DEFAULT_ECHO_MIN_CHARS, GRADERS
from picogate.evaluator.rows import ARC_TEMPLATE


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def add_eval_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `eval` on the main CLI's subparsers; the parser's default `func` is `run_eval`."""
    p = subparsers.add_parser("eval", help="run the torch evaluator on a model and write per-row results",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="import path of a factory: pkg.module:fn or file.py:fn")
    p.add_argument("--checkpoint", help="passed to the factory as its first argument")
    p.add_argument("--rows", help="eval rows (JSONL, schemas/eval_row.schema.json)")
    p.add_argument("--sft", help="training SFT rows (JSONL)")
    p.add_argument("--sft-heldout", help="held-out SFT rows of the same curriculum (JSONL)")
    p.add_argument("--external", action="append", type=_pair, default=[], metavar="NAME=FILE",
                   help="multiple-choice rows of a benchmark (schemas/choice_row.schema.json); repeatable")
    p.add_argument("--out", required=True, help="run directory to write eval_results/eval_metrics parquet into")
    p.add_argument("--run-id", help="run id (default: the --out directory's name)")
    p.add_argument("--grader", action="append", type=_pair, default=[], metavar="SKILL=GRADER",
                   help=f"grader for a skill's rows without their own; one of {', '.join(GRADERS)}")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--echo-min-chars", type=int, default=DEFAULT_ECHO_MIN_CHARS)
    p.add_argument("--choice-template", default=ARC_TEMPLATE, help="context for choice rows; {question}")
    p.add_argument("--batch-size", type=int, help="fixed batch size (default: automatic)")
    p.add_argument("--batch-ceiling", type=int, default=64, help="largest automatic batch size")
    p.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_eval)
    return p


def load_factory(spec: str) -> Callable[..., Any]:
    """Resolve `pkg.module:fn` (the current directory importable) or `path/to/file.py:fn`."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise ValueError(f"--model {spec!r}: expected MODULE:FUNCTION or FILE.py:FUNCTION")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise ValueError(f"--model {spec!r}: no such file {path}")
        module_spec = importlib.util.spec_from_file_location(f"_picogate_factory_{path.stem}", path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module  # dataclasses and pickling look the module up by name
        module_spec.loader.exec_module(module)
    else:
        if str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ValueError(f"--model {spec!r}: cannot import {target}: {exc}") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"--model {spec!r}: {target} has no callable {attr!r}")
    return factory


def build_model(spec: str, checkpoint: str | None) -> tuple[Any, Any, Any]:
    """Call the factory; returns (model, tokenizer, chat_template or None)."""
    if checkpoint is not None and not Path(checkpoint).exists():
        raise ValueError(f"--checkpoint {checkpoint}: no such file")
    factory = load_factory(spec)
    made = factory(checkpoint) if checkpoint is not None else factory()
    if not isinstance(made, tuple) or len(made) not in (2, 3):
        raise ValueError(f"--model {spec!r}: the factory must return (model, tokenizer[, chat_template])")
    return made[0], made[1], made[2] if len(made) == 3 else None


def run_eval(args: argparse.Namespace) -> int:
    """Run the evaluator for parsed `eval` arguments; prints a summary, returns the exit status."""
    try:
        from picogate.evaluator.run import evaluate_model
        from picogate.evaluator.score import EvalConfig
    except ImportError as exc:
        print(f"picogate eval: error: needs the eval extra (pip install 'picogate[eval]'): {exc}",
              file=sys.stderr)
        return 2
    try:
        if not (args.rows or args.sft or args.sft_heldout or args.external):
            raise ValueError("nothing to score: give --rows, --sft, --sft-heldout or --external")
        config = EvalConfig(
            max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, batch_ceiling=args.batch_ceiling,
            skill_graders=dict(args.grader), echo_min_chars=args.echo_min_chars,
            choice_template=args.choice_template,
        )
        model, tokenizer, template = build_model(args.model, args.checkpoint)
        out = Path(args.out)
        run = evaluate_model(
            model, tokenizer, eval_rows=args.rows, sft_rows=args.sft, heldout_rows=args.sft_heldout,
            external=dict(args.external), run_id=args.run_id or out.resolve().name, config=config,
            out_dir=out, progress=not args.no_progress and sys.stderr.isatty(),
            device=args.device, chat_template=template,
        )
    except (ValueError, OSError) as exc:  # bad input (EvalInputError is a ValueError)
        print(f"picogate eval: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the model or factory failed: still one line, never a traceback
        print(f"picogate eval: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    assert run.paths is not None
    print(f"wrote {run.paths[0]} ({run.results.num_rows} rows) and {run.paths[1]}")
    print(json.dumps(run.metrics, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (`python -m picogate.evaluator.cli eval ...`)."""
    parser = argparse.ArgumentParser(prog="picogate")
    add_eval_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())

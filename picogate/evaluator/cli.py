"""`picogate eval`: score a model on row files and write the run's evaluator tables.

    picogate eval --model examples.tiny_model:build --checkpoint ckpt.pt \\
        --rows eval.jsonl --sft sft.jsonl --sft-heldout heldout.jsonl \\
        --external arc_easy=arc.jsonl --out runs/r1

The model is a Python import path (`package.module:factory` or `path/to/file.py:factory`) to a factory
returning (model, tokenizer) or (model, tokenizer, chat_template); with `--checkpoint` the factory is
called with that path. With `--checkpoint`, `--out` becomes a run directory `picogate postrun` judges:
run.json gains the eval stage (the checkpoint's hash, the inputs' hashes), added to the run already
recorded there or starting a new one. Exit status 0 when the tables were written, 2 with a one-line
reason otherwise.
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
from picogate.evaluator.rows import ARC_TEMPLATE, EvalInputError


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def externals(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """`--external NAME=FILE` pairs as a mapping; a name given twice is refused (never the last one wins)."""
    out: dict[str, str] = {}
    for name, path in pairs:
        if name in out:
            raise EvalInputError(f"--external {name}: given twice ({out[name]} and {path}); "
                                 "each benchmark name names its metrics, so give each file its own name")
        out[name] = path
    return out


def add_eval_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `eval` on the main CLI's subparsers; the parser's default `func` is `run_eval`."""
    p = subparsers.add_parser("eval", help="run the torch evaluator on a model and write per-row results",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="import path of a factory: pkg.module:fn or file.py:fn")
    p.add_argument("--checkpoint", help="passed to the factory as its first argument")
    p.add_argument("--rows", help="eval rows (JSONL or parquet, schemas/eval_row.schema.json)")
    p.add_argument("--sft", help="training SFT rows (JSONL or parquet, schemas/sft_row.schema.json)")
    p.add_argument("--sft-heldout", help="held-out SFT rows of the same curriculum (JSONL or parquet)")
    p.add_argument("--external", action="append", type=_pair, default=[], metavar="NAME=FILE",
                   help="multiple-choice rows of a benchmark (schemas/choice_row.schema.json); repeatable")
    p.add_argument("--out", required=True, help="run directory to write eval_results/eval_metrics parquet into")
    p.add_argument("--run-id", help="run id (default: the run recorded in --out, else its directory name)")
    p.add_argument("--grader", action="append", type=_pair, default=[], metavar="SKILL=GRADER",
                   help=f"grader for a skill's rows without their own; one of {', '.join(GRADERS)}")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--echo-min-chars", type=int, default=DEFAULT_ECHO_MIN_CHARS)
    p.add_argument("--choice-template", default=ARC_TEMPLATE, help="context for choice rows; {question}")
    p.add_argument("--batch-size", type=int, help="fixed batch size (default: automatic)")
    p.add_argument("--batch-ceiling", type=int, default=64, help="largest automatic batch size")
    p.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    p.add_argument("--add-bos", action=argparse.BooleanOptionalAction, default=None,
                   help="prepend BOS to every model input (default: as the tokenizer does by itself, "
                        "which is lm-eval's default; docs/evaluator.md)")
    p.add_argument("--quiet", "--no-progress", dest="quiet", action="store_true",
                   help="no progress bar (there is none when stderr is not a terminal)")
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
        external = externals(args.external)
        config = EvalConfig(
            max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, batch_ceiling=args.batch_ceiling,
            skill_graders=dict(args.grader), echo_min_chars=args.echo_min_chars,
            choice_template=args.choice_template,
        )
        model, tokenizer, template = build_model(args.model, args.checkpoint)
        out = Path(args.out)
        from picogate.postrun.rundir import RunRecorder

        recorded = RunRecorder.recorded_run_id(out)  # a run directory already there: its run id, checked now
        if args.run_id and recorded and args.run_id != recorded:
            raise ValueError(f"--run-id {args.run_id!r}: {out / 'run.json'} records run {recorded!r}")
        run_id = args.run_id or recorded or out.resolve().name
        run = evaluate_model(
            model, tokenizer, eval_rows=args.rows, sft_rows=args.sft, heldout_rows=args.sft_heldout,
            external=external, run_id=run_id, config=config, out_dir=out, progress=not args.quiet,
            add_bos=args.add_bos, device=args.device, chat_template=template,
        )
    except (ValueError, OSError) as exc:  # bad input (EvalInputError is a ValueError)
        print(f"picogate eval: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the model or factory failed: still one line, never a traceback
        print(f"picogate eval: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    assert run.paths is not None
    print(f"wrote {run.paths[0]} ({run.results.num_rows} rows) and {run.paths[1]}")
    try:
        if args.checkpoint is not None:  # the evaluated checkpoint's hash is what makes the tables evidence
            RunRecorder.resume(out, run_id=run_id).record_eval(run, checkpoint=args.checkpoint)
            print(f"recorded the eval stage in {out / 'run.json'}: picogate postrun {out}")
        else:
            print("no --checkpoint: run.json not written (the post-run gate needs the evaluated checkpoint's hash)",
                  file=sys.stderr)
    except (ValueError, OSError) as exc:
        print(f"picogate eval: error: {exc}", file=sys.stderr)
        return 2
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

"""The published JSON Schemas, generated from the models that validate the files they describe.

    python -m picogate.schema              # regenerate schemas/ in this repository (commit the result)
    python -m picogate.schema --check      # exit 1 when a committed schema differs from its model
    picogate schema export schemas         # a user's copy: every schema, for their editor

Rule files, rule tests, metric catalogs and run plans are pydantic models (picogate/rules/model.py,
picogate/policy/ruletest_spec.py, picogate/catalog.py, picogate/preflight/plan.py); their schemas are
never written by hand, so an editor can never accept what the loader refuses, or the reverse, by
drift. The data-row schemas (eval, SFT, choice and eval-result rows, the run-directory manifest)
describe files that have no model; they stay hand-written and are exported as shipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from picogate.errors import PicogateError
from picogate.io import atomic_write_text
from picogate.paths import SCHEMAS_DIR

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_URI = "https://picogate.dev/schemas/"


def _models() -> dict[str, tuple[type, str]]:
    """File name -> (model, title) of every generated schema (imported here: the CLI starts without them)."""
    from picogate.catalog import CatalogFile
    from picogate.policy.ruletest_spec import RuleTestFile
    from picogate.preflight.plan import PlanSpec
    from picogate.rules.model import RuleFileSpec

    return {
        "rules.schema.json": (RuleFileSpec, "picogate rule file"),
        "rule_tests.schema.json": (RuleTestFile, "picogate rule tests"),
        "plan.schema.json": (PlanSpec, "picogate run plan"),
        "catalog.schema.json": (CatalogFile, "picogate metric catalog file"),
    }


def generate() -> dict[str, dict[str, Any]]:
    """Every generated schema by file name, as committed in `schemas/`.

    >>> generate()["rules.schema.json"]["title"]
    'picogate rule file'
    """
    from picogate.fields import json_schema

    out = {}
    for name, (model, title) in _models().items():
        schema = json_schema(model)
        schema.pop("title", None)
        out[name] = {"$schema": DRAFT, "$id": BASE_URI + name, "title": title, **schema}
    return out


def render(schema: dict[str, Any]) -> str:
    """A schema as its file holds it: stable, two-space indented, one trailing newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def hand_written() -> list[Path]:
    """The shipped schemas that are not generated (data rows with no model)."""
    generated = set(_models())
    return sorted(p for p in SCHEMAS_DIR.glob("*.schema.json") if p.name not in generated)


def export(directory: str | Path, *, data_rows: bool = True) -> list[Path]:
    """Write every schema into `directory` (created if needed), each file atomically; the paths written.

    `data_rows=False` writes only the generated ones (how `python -m picogate.schema` refreshes `schemas/`).
    """
    target = Path(directory)
    texts = {name: render(schema) for name, schema in generate().items()}
    if data_rows:
        texts |= {p.name: p.read_text(encoding="utf-8") for p in hand_written()}
    try:
        return [atomic_write_text(target / name, text) for name, text in sorted(texts.items())]
    except OSError as exc:
        raise PicogateError(f"{target}: cannot write the schemas: {exc.strerror or exc}") from None


def stale(directory: str | Path = SCHEMAS_DIR) -> list[str]:
    """Generated schemas in `directory` that are missing or differ from their models."""
    folder = Path(directory)
    return [name for name, schema in generate().items()
            if not (folder / name).is_file() or (folder / name).read_text(encoding="utf-8") != render(schema)]


# -- command line ---------------------------------------------------------------------------------

EDITOR_HINT = ("editors: start a rule file with '# yaml-language-server: $schema=PATH/rules.schema.json' "
               "(PATH relative to that file), or map files to schemas in VS Code's yaml.schemas (docs/workflow.md)")


def add_schema_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `schema export DIR` on the main CLI's subparsers."""
    p = subparsers.add_parser("schema", help="JSON Schemas of rule files, rule tests, plans and data rows")
    actions = p.add_subparsers(metavar="ACTION")
    ex = actions.add_parser("export", help="write every schema into DIR, for editors (e.g. schemas/ in your "
                                           "repository)")
    ex.add_argument("dir", metavar="DIR", help="folder to write into (created if needed)")
    ex.set_defaults(func=cmd_export)
    return p


def cmd_export(args: argparse.Namespace) -> int:
    from picogate.escape import text

    for path in export(args.dir):
        print(text(str(path)))
    print(text(EDITOR_HINT), file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m picogate.schema [--check] [DIR]`: refresh (or check) the generated schemas in DIR."""
    ap = argparse.ArgumentParser(prog="python -m picogate.schema", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", default=str(SCHEMAS_DIR), help="default: this checkout's schemas/")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a schema is stale")
    args = ap.parse_args(argv)
    if args.check:
        bad = stale(args.dir)
        for name in bad:
            print(f"{Path(args.dir) / name}: differs from its model; run: python -m picogate.schema", file=sys.stderr)
        return 1 if bad else 0
    for path in export(args.dir, data_rows=False):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

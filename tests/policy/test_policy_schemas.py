# .venv/bin/python -m pytest -q -p no:cacheprovider tests/policy/test_policy_schemas.py
"""One source of truth for the schemas (issue 13): the JSON Schemas in schemas/ are generated from the
pydantic models that validate every load, the committed files are the generated ones, and the models
refuse everything the hand-written schemas refused (those schemas are kept as fixtures in
legacy_schemas/: rules, rule tests and catalogs were hand-written; the plan's was already generated).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from policy_support import REPO
from pydantic import BaseModel, ValidationError

from picogate import RuleError, load_rules
from picogate.catalog import CatalogFile
from picogate.cli import main as cli_main
from picogate.fields import json_schema
from picogate.policy.ruletest_spec import RuleTestFile
from picogate.rules.model import RuleFileSpec
from picogate.schema import generate, hand_written, render, stale
from picogate.yamlstrict import load_file, load_text

LEGACY = Path(__file__).parent / "legacy_schemas"
MODELS: dict[str, type[BaseModel]] = {"rules": RuleFileSpec, "rule_tests": RuleTestFile, "catalog": CatalogFile}


def legacy(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((LEGACY / f"{name}.schema.json").read_text()))


def refuses(model: type[BaseModel], doc: Any) -> bool:
    try:
        model.model_validate(doc)
    except ValidationError:
        return True
    return False


# -- drift ----------------------------------------------------------------------------------------

def test_committed_schemas_are_the_generated_ones() -> None:
    assert stale(REPO / "schemas") == [], "regenerate: .venv/bin/python -m picogate.schema"
    for name, schema in generate().items():
        assert (REPO / "schemas" / name).read_text(encoding="utf-8") == render(schema), name
        jsonschema.Draft202012Validator.check_schema(schema)


def test_the_check_command_sees_drift(tmp_path: Path) -> None:
    from picogate.schema import export, main

    export(tmp_path, data_rows=False)
    assert main(["--check", str(tmp_path)]) == 0
    (tmp_path / "rules.schema.json").write_text("{}\n")
    assert main(["--check", str(tmp_path)]) == 1


def test_editor_help_is_kept() -> None:
    """Field descriptions reach the schema: what an editor shows when hovering a key."""
    rules = generate()["rules.schema.json"]
    rule = rules["$defs"]["RuleSpec"]["properties"]
    assert all(rule[key].get("description") for key in ("id", "stage", "severity", "check", "message", "fix"))
    assert rules["properties"]["extends"]["uniqueItems"] is True
    assert rules["properties"]["metrics"]["propertyNames"]["pattern"].startswith("^(?:[a-z]")
    assert rule["check"]["maxLength"] == 4096
    assert "title" not in rule["id"]  # no generated "Id" titles


# -- at least as strict as the hand-written schemas ----------------------------------------------

BAD: dict[str, list[Any]] = {
    "rules": [
        {"profile": "Release"},
        {"profile": "p", "extends": ["base", "base"]},
        {"profile": "p", "extends": ["Base"]},
        {"profile": "p", "metrics": {"Eval.x": {"type": "float", "description": "d"}}},
        {"profile": "p", "metrics": {"x": {"type": "float", "description": ""}}},
        {"profile": "p", "metrics": {"x": {"type": "double", "description": "d"}}},
        {"profile": "p", "rules": [{"id": "Bad.id", "stage": "postrun", "severity": "block", "check": "x > 1",
                                    "message": "m", "fix": "f"}]},
        {"profile": "p", "rules": [{"id": "a", "stage": "postrun", "severity": "block", "check": "",
                                    "message": "m", "fix": "f"}]},
        {"profile": "p", "rules": [{"id": "a", "stage": "postrun", "severity": "block", "check": "x" * 4097,
                                    "message": "m", "fix": "f"}]},
        {"profile": "p", "rules": [{"id": "a", "stage": "postrun", "severity": "block", "check": "x > 1",
                                    "message": "", "fix": "f"}]},
        {"profile": "p", "rules": [{"id": "a", "stage": "postrun", "severity": "block", "check": "x > 1",
                                    "message": "m", "fix": "f", "per_category": None}]},
        {"profile": "p", "rules": [{"id": "a", "stage": "postrun", "severity": "block", "check": "x > 1",
                                    "message": "m", "fix": "f", "per_category": {"name": "s", "values": {}}}]},
        {"profile": "p", "rules": [{"id": "a", "stage": "postrun", "severity": "block", "check": "x > 1",
                                    "message": "m", "fix": "f", "per_category": {"name": "s", "values": "Bad"}}]},
        {"profile": "p", "rules": [{"id": "a", "stage": "postrun", "severity": "block", "check": "x > 1",
                                    "message": "m", "fix": "f", "per_category": {"name": "s", "values": {"a": {}}}}]},
        {"profile": "p", "categories": {"t": {}}},
        {"profile": "p", "categories": {"T": {"a": 1}}},
        {"profile": "p", "categories": {"t": {"Math": 1}}},
        {"profile": "p", "categories": {"t": {"add": {}}}},
        {"profile": "p", "categories": {"t": {"remove": ["a", "a"]}}},
        {"profile": "p", "categories": {"t": {"a": "high"}}},
        {"profile": "p", "tables": {"near_dup": None}},
        {"profile": "p", "tables": {"near_dup": []}},
        {"profile": "p", "tables": {"attention_backends": [{"attention": "Flash", "devices": ["cuda"],
                                                            "precisions": ["bf16"]}]}},
    ],
    "rule_tests": [
        {"profile": "p", "cases": []},
        {"profile": "", "cases": [{"name": "a", "expect": {"status": "approved"}}]},
        {"profile": "p", "cases": [{"name": "", "expect": {"status": "approved"}}]},
        {"profile": "p", "stage": None, "cases": [{"name": "a", "expect": {"status": "approved"}}]},
        {"profile": "p", "base": {"": 1}, "cases": [{"name": "a", "expect": {"status": "approved"}}]},
        {"profile": "p", "cases": [{"name": "a", "drop": ["x", "x"], "expect": {"status": "approved"}}]},
        {"profile": "p", "cases": [{"name": "a", "expect": {"status": "approved", "failing": ["r", "r"]}}]},
        {"profile": "p", "cases": [{"name": "a", "expect": {"status": "approved", "failing": None}}]},
        {"profile": "p", "cases": [{"name": "a", "expect": {"status": "approved", "outcomes": {"R": "pass"}}}]},
        {"profile": "p", "cases": [{"name": "a", "expect": {"status": "approved", "outcomes": {"r": "ok"}}}]},
        {"profile": "p", "cases": [{"name": "a", "metrics": {"x": [1]}, "expect": {"status": "approved"}}]},
    ],
    "catalog": [
        {"metrics": {"Bad": {"type": "int", "description": "d"}}},
        {"metrics": {"x": {"type": "int", "description": ""}}},
        {"metrics": {"x": {"type": "int", "description": "d", "units": "s"}}},
        {"description": "no metrics"},
    ],
}


@pytest.mark.parametrize(("name", "doc"), [(n, d) for n, docs in BAD.items() for d in docs],
                         ids=[f"{n}-{i}" for n, docs in BAD.items() for i in range(len(docs))])
def test_the_models_refuse_what_the_old_schemas_refused(name: str, doc: Any) -> None:
    assert not legacy(name).is_valid(doc), "not a fault the hand-written schema saw"
    assert refuses(MODELS[name], doc)
    assert not jsonschema.Draft202012Validator(json_schema(MODELS[name])).is_valid(doc)  # and the editor says so


def _seeds(name: str) -> Iterator[Any]:
    """Small valid documents taken from the shipped files: one rule, one case or a few metrics each."""
    if name == "rules":
        for f in sorted((REPO / "rules").glob("*.yaml")):
            data = load_file(f).data
            yield {k: v for k, v in data.items() if k != "rules"}
            yield from ({"profile": data["profile"], "rules": [r]} for r in data["rules"][::3])
        yield {"profile": "c", "extends": ["skill_release"], "categories": {"release_skills": {
            "math": 0.35, "add": {"reasoning": {"threshold": 0.4, "note": "x"}}, "remove": ["spelling"]}}}
    elif name == "rule_tests":
        for f in sorted((REPO / "rules" / "tests").glob("*.yaml")):
            data = load_file(f).data
            yield {"profile": data["profile"], "stage": "postrun", "base": {"a": {"b": 1}, "c": None},
                   "cases": [data["cases"][0]]}
    else:
        for f in sorted((REPO / "schemas" / "metrics").glob("*.json")):
            data = json.loads(f.read_text())
            yield {**data, "metrics": dict(list(data["metrics"].items())[:2])}


VALUES = [None, 0, -1, 1.5, True, "", "x", "A b", [], ["a", "a"], {}, {"k": 1}]


def _mutants(doc: Any) -> Iterator[Any]:
    """`doc` with one change: a value replaced, a key dropped, renamed or added, a list item repeated."""
    def nodes(node: Any, path: tuple) -> Iterator[tuple[tuple, Any]]:
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            yield from nodes(v, (*path, k))

    def changed(path: tuple, fn: Callable[[Any], Any]) -> Any:
        out = copy.deepcopy(doc)
        if not path:
            return fn(out)
        parent = out
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = fn(parent[path[-1]])
        return out

    for path, node in list(nodes(doc, ())):
        if path:
            yield from (changed(path, lambda _, v=v: copy.deepcopy(v)) for v in VALUES)
        if isinstance(node, dict):
            yield changed(path, lambda n: {**n, "zz": 1})
            yield changed(path, lambda n: {**n, "Bad Key": 1})
            for key in list(node):
                yield changed(path, lambda n, key=key: {k: v for k, v in n.items() if k != key})
        if isinstance(node, list) and node:
            yield changed(path, lambda n: [*n, copy.deepcopy(n[0])])


@pytest.mark.parametrize("name", MODELS)
def test_no_mutant_the_old_schema_refused_gets_through(name: str) -> None:
    """Thousands of one-change variants of shipped documents: whatever the hand-written schema refused,
    the model refuses too, and the generated schema (what editors and error messages use) agrees with the
    model on every one, so a refusal is always worded from the schema."""
    model, old = MODELS[name], legacy(name)
    generated = jsonschema.Draft202012Validator(json_schema(model))
    seen = 0
    for seed in _seeds(name):
        assert old.is_valid(seed) and not refuses(model, seed), seed
        for doc in _mutants(seed):
            seen += 1
            bad = refuses(model, doc)
            assert bad or old.is_valid(doc), f"the model accepts what the old schema refused: {doc}"
            assert bad == (not generated.is_valid(doc)), f"model and generated schema disagree: {doc}"
    assert seen > 300


def test_shipped_files_pass_the_generated_schemas() -> None:
    schemas = generate()
    for f in sorted((REPO / "rules").glob("*.yaml")):
        jsonschema.validate(load_file(f).data, schemas["rules.schema.json"])
    for f in sorted((REPO / "rules" / "tests").glob("*.yaml")):
        jsonschema.validate(load_file(f).data, schemas["rule_tests.schema.json"])
    for f in sorted((REPO / "schemas" / "metrics").glob("*.json")):
        jsonschema.validate(json.loads(f.read_text()), schemas["catalog.schema.json"])
    for f in ("plan.yaml", "plan_undertrained.yaml"):
        jsonschema.validate(load_file(REPO / "examples" / f).data, schemas["plan.schema.json"])


def test_a_fault_only_the_model_sees_still_has_a_position(tmp_path: Path) -> None:
    """pydantic runs first; a refusal is worded from the generated schema, or from pydantic's error
    location when the schema has nothing to say (here: null, which the schema also refuses)."""
    path = tmp_path / "p.yaml"
    path.write_text("profile: p\ntables:\n  near_dup:\n", encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules(path)
    assert (info.value.line, info.value.column) == (3, 3) and "tables.near_dup" in info.value.reason


# -- a user's repository: schema export + the documented editor settings -------------------------

MODELINE = "# yaml-language-server: $schema=../schemas/rules.schema.json"
WORKFLOW = REPO / "docs" / "workflow.md"


def _documented_vscode_settings() -> dict[str, Any]:
    """The `.vscode/settings.json` block of docs/workflow.md, as a user would paste it."""
    blocks = WORKFLOW.read_text(encoding="utf-8").split("```json\n")[1:]
    block = next(b.split("```")[0] for b in blocks if '"yaml.schemas"' in b)
    return json.loads(block)


def _modeline_schema(yaml_file: Path) -> dict[str, Any]:
    """The schema a yaml-language-server modeline names, resolved as the editor does: relative to the file."""
    first = yaml_file.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    return json.loads((yaml_file.parent / first.removeprefix(prefix)).read_text(encoding="utf-8"))


def test_schema_export_in_a_user_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """docs/workflow.md: `picogate schema export schemas` at the repository root, a modeline relative to the
    rule file, and the VS Code `yaml.schemas` mapping relative to the workspace root."""
    docs = WORKFLOW.read_text(encoding="utf-8")
    assert "picogate schema export schemas" in docs and f"```yaml\n{MODELINE}\nprofile: my_release" in docs
    repo = tmp_path / "my-project"
    (repo / "rules").mkdir(parents=True)
    monkeypatch.chdir(repo)
    assert cli_main(["schema", "export", "schemas"]) == 0
    written = {Path(line).name for line in capsys.readouterr().out.splitlines()}
    assert {"rules.schema.json", "rule_tests.schema.json", "plan.schema.json", "eval_row.schema.json"} <= written
    assert {p.name for p in hand_written()} <= written
    assert not list((repo / "schemas").glob(".*.tmp"))  # written atomically: no temp file left behind

    good = repo / "rules" / "my_release.yaml"
    good.write_text(f"{MODELINE}\nprofile: my_release\nextends: [skill_release]\n"
                    "categories:\n  release_skills: {math: 0.35}\n", encoding="utf-8")
    schema = _modeline_schema(good)
    jsonschema.validate(load_file(good).data, schema)
    assert load_rules(good).profile == "my_release"  # and the loader agrees

    typo = repo / "rules" / "typo.yaml"
    typo.write_text(good.read_text().replace("extends:", "extend:"), encoding="utf-8")
    errors = list(jsonschema.Draft202012Validator(_modeline_schema(typo)).iter_errors(load_file(typo).data))
    assert errors and "extend" in errors[0].message

    # VS Code: each schema path resolves from the workspace root, and its globs select the user's files
    mapping = _documented_vscode_settings()["yaml.schemas"]
    (repo / "rules" / "tests").mkdir()
    (repo / "rules" / "tests" / "my_test.yaml").write_text(
        "profile: my_release\ncases: [{name: a, expect: {status: blocked}}]\n", encoding="utf-8")
    for schema_path, globs in mapping.items():
        schema_file = repo / schema_path
        assert schema_file.is_file(), schema_path
        validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text()))
        for f in (f for g in globs for f in repo.glob(g)):
            assert validator.is_valid(load_file(f).data) == (f != typo), f
    assert [p.name for p in repo.glob(mapping["./schemas/rules.schema.json"][0])] == ["my_release.yaml", "typo.yaml"]


def test_schema_export_refuses_a_file_in_the_way(tmp_path: Path, capsys) -> None:
    (tmp_path / "taken").write_text("x")
    assert cli_main(["schema", "export", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write the schemas" in err


def test_shipped_rule_files_carry_a_modeline_that_resolves() -> None:
    for f in sorted((REPO / "rules").glob("*.yaml")):
        assert _modeline_schema(f) == generate()["rules.schema.json"], f
    doc = load_text("profile: x\n")
    assert not list(jsonschema.Draft202012Validator(generate()["rules.schema.json"]).iter_errors(doc.data))

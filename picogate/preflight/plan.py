"""The run plan: what a training run claims, what it schedules, and where its data lives.

Loaded strictly (`picogate.yamlstrict`: no duplicate keys, no YAML 1.1 surprises) and then
validated by pydantic with unknown keys refused, so a misspelled `planed_tokens:` is an error
naming file:line:col. `schemas/plan.schema.json` is generated from these models
(`python -m picogate.schema`; a test fails when the committed file drifts).
"""

from __future__ import annotations

import difflib
import glob
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from picogate.errors import InputError
from picogate.fields import Ident
from picogate.fields import Strict as _Strict
from picogate.rules.tables import Device, Precision
from picogate.yamlstrict import YAMLError, load_file

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=200)]


class Architecture(_Strict):
    """GPT-style shape from which parameter counts are derived (12·n_layer·n_embd² per block stack)."""

    n_layer: PositiveInt = Field(description="transformer blocks")
    n_embd: PositiveInt = Field(description="model width (embedding size)")
    vocab_size: PositiveInt = Field(description="tokenizer vocabulary size")
    tied_embeddings: bool = Field(False, description="input embedding and lm_head share one matrix")


class ModelSpec(_Strict):
    """The model's size: a parameter count, or the architecture it is derived from (exactly one)."""

    params: PositiveInt | None = Field(None, description="the parameter count, of the kind `counted` names")
    counted: Literal["all", "scaling"] = Field(
        "all", description="which count the budget ratio uses: all parameters, or non-embedding 'scaling' ones")
    architecture: Architecture | None = Field(None, description="the shape the parameter count is derived from")

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if (self.params is None) == (self.architecture is None):
            raise ValueError("give exactly one of 'params' or 'architecture'")
        return self

    def param_count(self) -> int:
        """The parameter count the budget uses, derived from the architecture when one is given."""
        if self.params is not None:
            return self.params
        a = self.architecture
        assert a is not None
        scaling = 12 * a.n_layer * a.n_embd * a.n_embd  # attention 4d² + MLP 8d² per block
        embeddings = a.vocab_size * a.n_embd * (1 if a.tied_embeddings else 2)
        return scaling if self.counted == "scaling" else scaling + embeddings


class Budget(_Strict):
    """What the run claims (tokens per parameter) and what it schedules."""

    target_param_data_ratio: PositiveFloat = Field(description="tokens per parameter the recipe claims "
                                                               "(20 = Chinchilla)")
    planned_tokens: PositiveInt | None = Field(None, description="tokens the run schedules")
    num_iterations: PositiveInt | None = Field(
        None, description="optimizer steps; planned tokens = num_iterations x launch.total_batch_size")


class Tokenizer(_Strict):
    """How corpus text is counted in tokens when there are no token shards."""

    tiktoken: str | None = Field(None, description="a tiktoken encoding name (needs the tiktoken package)")


class Data(_Strict):
    """Where the run's data lives: globs relative to the plan file."""

    corpus: list[str] = Field(min_length=1, description="globs of text (.jsonl, .parquet) or token shards "
                                                        "(.bin, .npy, parquet token-id lists)")
    sft: list[str] = Field([], description="globs of SFT rows (schemas/sft_row.schema.json)")
    eval: list[str] = Field([], description="globs of eval rows (schemas/eval_row.schema.json)")
    external: list[str] = Field([], description="globs of multiple-choice rows (schemas/choice_row.schema.json)")
    bos_token_id: Annotated[int, Field(ge=0)] | None = Field(
        None, description="document-boundary token in packed or sharded token data")
    token_dtype: Literal["uint16", "uint32"] = Field("uint16", description="dtype of raw .bin shards "
                                                                           "(llm.c headers are detected)")
    text_column: str = Field("text", description="text field of corpus rows (parquet column or JSONL key)")
    tokens_column: str | None = Field(None, description="token-id list column of parquet shards "
                                                        "(default: the first list-of-integers column)")
    bytes_per_token: PositiveFloat = Field(4.0, description="estimate used when there are no token shards and "
                                                            "no tokenizer; the report marks counts as estimated")
    tokenizer: Tokenizer | None = Field(None, description="count corpus tokens exactly instead of estimating")


class Launch(_Strict):
    """How the run is launched; the profile checks that total_batch_size is a whole number of micro-steps."""

    nnodes: PositiveInt = Field(1, description="machines")
    nproc_per_node: PositiveInt = Field(1, description="processes (GPUs) per machine")
    device_batch_size: PositiveInt = Field(description="sequences per device per micro-step")
    max_seq_len: PositiveInt = Field(description="tokens per sequence")
    total_batch_size: PositiveInt = Field(description="tokens per optimizer step")
    device: Device = Field(description="the device the profile's device_precisions and attention tables look up")
    precision: Precision = Field(description="training precision")
    attention: Ident = Field("sdpa", description="attention backend, looked up in the profile's attention_backends")


class PlanSpec(_Strict):
    """A run plan file (YAML). Paths are relative to the plan file; globs are allowed."""

    run_id: Name
    profile: Name | None = Field(None, description="shipped profile name or rule file path to gate with")
    model: ModelSpec
    budget: Budget
    data: Data
    launch: Launch

    @model_validator(mode="after")
    def _planned(self) -> PlanSpec:
        b = self.budget
        if b.planned_tokens is None and b.num_iterations is None:
            raise ValueError("budget needs 'planned_tokens' or 'num_iterations'")
        if b.planned_tokens is not None and b.num_iterations is not None:
            derived = b.num_iterations * self.launch.total_batch_size
            if derived != b.planned_tokens:
                raise ValueError(f"budget.planned_tokens {b.planned_tokens} disagrees with num_iterations x "
                                 f"total_batch_size = {derived}; give one of them")
        return self

    def planned_tokens(self) -> int:
        if self.budget.planned_tokens is not None:
            return self.budget.planned_tokens
        assert self.budget.num_iterations is not None
        return self.budget.num_iterations * self.launch.total_batch_size


class Plan:
    """A validated plan and the file it came from (globs resolve against its folder)."""

    def __init__(self, spec: PlanSpec, path: Path) -> None:
        self.spec = spec
        self.path = path
        self.base = path.parent

    def resolve(self, patterns: list[str]) -> tuple[list[Path], list[str]]:
        """Files matched by `patterns` (sorted, each once) and the patterns that matched nothing.

        Folders are skipped; anything else a pattern matches (a FIFO, a device, a dangling link) is kept
        so that its reader refuses it by name, rather than the corpus silently shrinking.
        """
        found: dict[Path, None] = {}
        missing = []
        for pattern in patterns:
            full = pattern if Path(pattern).is_absolute() else str(self.base / pattern)
            hits = sorted(Path(p) for p in glob.glob(full, recursive=True) if not Path(p).is_dir())
            if not hits:
                missing.append(pattern)
            found.update(dict.fromkeys(hits))
        return list(found), missing


def load_plan(path: str | Path) -> Plan:
    """Read a plan file; every fault is an `InputError` naming file:line:col.

    >>> load_plan("examples/plan.yaml").spec.run_id
    'tiny-release'
    """
    p = Path(path)
    try:
        doc = load_file(p, "plan")
    except YAMLError as exc:
        raise InputError(str(exc)) from None
    if not isinstance(doc.data, dict):
        raise InputError(f"{p}:1: a plan must be a mapping with run_id, model, budget, data and launch")
    try:
        spec = PlanSpec.model_validate(doc.data)
    except ValidationError as exc:
        # a misspelled key also makes the real one "missing": report the misspelling
        err = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        loc = tuple(err["loc"])
        line, col = doc.where(loc)
        where = f"{p}" + (f":{line}" if line else "") + (f":{col}" if line and col else "")
        raise InputError(f"{where}: {_message(err, loc)}") from None
    return Plan(spec, p)


def _message(err: dict, loc: tuple) -> str:
    dotted = ".".join(map(str, loc))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        allowed = list(_fields_at(loc[:-1]))
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
        return f"unknown key '{dotted}' ({hint})"
    if err["type"] == "missing":
        return f"'{dotted}' is required"
    return f"{dotted}: {msg}" if dotted else msg


def _fields_at(loc: tuple) -> dict:
    model: type[BaseModel] = PlanSpec
    for part in loc:
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None)
        inner = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not inner:
            return {}
        model = inner[0]
    return model.model_fields


def plan_json_schema() -> dict:
    """The published JSON Schema of a plan file, generated from `PlanSpec` (as `picogate schema export`)."""
    from picogate.schema import generate

    return generate()["plan.schema.json"]

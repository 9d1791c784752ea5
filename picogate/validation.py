"""Validate a loaded document with its model; when it is refused, name the one fault a person fixes first.

pydantic is the validator on every load: ~0.1 ms for a 50-rule file, where JSON Schema validation
took ~3 ms, a fifth of the first `evaluate()` from a rule file. pydantic's own errors are written for
programmers (`rules.0.per_category.values.str`, one error per branch of a union), so only when a
document is refused is the JSON Schema generated from the same model run over it, for the shallowest
fault in words an author knows: `unknown key 'severty' (did you mean 'severity'?)`, `'fatal' is not
one of block, warn`, at the path of the key or value to change. The caller turns the path into a line
and column (`Document.where`).

    >>> from picogate.rules.model import RuleFileSpec
    >>> validate(RuleFileSpec, {"profile": "p", "rules": [{"id": "a", "severty": "block"}]})
    Traceback (most recent call last):
    picogate.validation.Fault: rules.0.severty: unknown key 'severty' (did you mean 'severity'?)
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from picogate.fields import json_schema

if TYPE_CHECKING:
    import jsonschema

M = TypeVar("M", bound=BaseModel)
Path_ = tuple[str | int, ...]

_TYPE_WORDS = {"number": "a number", "string": "text", "object": "a mapping", "array": "a list",
               "integer": "a whole number", "boolean": "true or false", "null": "null"}


class Fault(ValueError):
    """A document the model refuses: `path` to the key or value at fault, and what is wrong there."""

    def __init__(self, path: Path_, message: str) -> None:
        self.path, self.message = path, message
        where = ".".join(map(str, path))
        super().__init__(f"{where}: {message}" if where else message)


def validate(model: type[M], data: Any) -> M:
    """`data` as a `model`; a `Fault` naming the first fault when the model refuses it."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise first_fault(model, data, exc) from None


def first_fault(model: type[BaseModel], data: Any, exc: ValidationError) -> Fault:
    """The fault to report: the JSON Schema's shallowest, or pydantic's first when the schema has none
    (a check only the model makes)."""
    errors = sorted(_validator(model).iter_errors(data), key=lambda e: (len(e.absolute_path), str(e.path)))
    if errors:
        return _schema_fault(errors[0])
    err = exc.errors()[0]
    return Fault(error_path(err, data), err["msg"].removeprefix("Value error, "))


@cache
def _validator(model: type[BaseModel]) -> jsonschema.Draft202012Validator:
    import jsonschema  # only on a refused document: importing it costs ~40 ms

    return jsonschema.Draft202012Validator(json_schema(model))


def error_path(err: ErrorDetails, data: Any) -> Path_:
    """Where in `data` a pydantic error is: its location without union branch tags such as `str` or
    `function-after[...]`; for a missing key, the key."""
    out: list[str | int] = []
    for part in err["loc"]:
        in_dict = isinstance(data, dict) and isinstance(part, Hashable) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if in_dict or in_list:
            data = data[part]
            out.append(part)
    if err["type"] == "missing" and err["loc"]:
        out.append(err["loc"][-1])
    return tuple(out)


def _branch(err: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For an `anyOf`/`oneOf` fault, the fault inside the alternative the value was meant as (the one of its
    type): a per_category value `{a: '0.5'}` points at `a`, the entry that is wrong, not the whole mapping."""
    while err.validator in ("oneOf", "anyOf") and err.context:
        meant = [e for e in err.context if not (e.validator == "type" and not e.relative_path)]
        if not meant:
            break
        err = max(meant, key=lambda e: len(e.absolute_path))
    return err


def _schema_fault(err: jsonschema.ValidationError) -> Fault:
    err = _branch(err)
    path: Path_ = tuple(err.absolute_path)
    message = err.message
    if err.validator == "additionalProperties":
        known = list(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(known), key=str)
        if extra:
            close = difflib.get_close_matches(str(extra[0]), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(known)})"
            message = f"unknown key '{extra[0]}'{hint}"
            path = (*path, extra[0])
    elif err.validator == "enum":
        message = f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    elif err.validator == "required":
        message = err.message.replace("is a required property", "is required")
    elif err.validator in ("oneOf", "anyOf") and err.context:
        kinds = [_TYPE_WORDS.get(str(e.validator_value), str(e.validator_value)) for e in err.context
                 if e.validator == "type"]
        message = f"{err.instance!r} is not valid: expected {' or '.join(dict.fromkeys(kinds))}"
    return Fault(path, message)

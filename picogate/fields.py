"""Building blocks of the file models: strict field types, stated once for validation and for the schemas.

Rule files, rule tests, metric catalogs and run plans are pydantic models, and the JSON Schemas in
`schemas/` are generated from them (`python -m picogate.schema`), so every constraint lives here or in
a model, never only in a schema. A constraint a plain pydantic field cannot express (unique items, a
key left out but never written as `null`, a pattern on a mapping's keys) is a small annotation below
that both validates and writes its JSON Schema keyword:

    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(Unique[list[str]]).json_schema(schema_generator=SchemaGenerator)
    {'items': {'type': 'string'}, 'type': 'array', 'uniqueItems': True}
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue, SkipJsonSchema
from pydantic_core import PydanticCustomError, core_schema

T = TypeVar("T")

# Names, one pattern each (the lexer's metric names are wider: `` `odd-name` `` in backticks).
PROFILE = r"^[a-z][a-z0-9_-]*$"
RULE_ID = r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*$"
METRIC = r"^(?:[a-z][a-z0-9_]*|\{[a-z][a-z0-9_]*\})(?:\.(?:[a-z0-9_]+|\{[a-z][a-z0-9_]*\}))*$"
IDENT = r"^[a-z][a-z0-9_]*$"  # table names, per_category names, value names, attention backends
CATEGORY = r"^[a-z0-9_]+$"  # a category, e.g. math (a segment of metric names and rule ids)

ProfileName = Annotated[str, StringConstraints(pattern=PROFILE)]
RuleId = Annotated[str, StringConstraints(pattern=RULE_ID)]
MetricName = Annotated[str, StringConstraints(pattern=METRIC)]
Ident = Annotated[str, StringConstraints(pattern=IDENT)]
Category = Annotated[str, StringConstraints(pattern=CATEGORY)]
Text = Annotated[str, StringConstraints(min_length=1)]  # a required sentence: empty is a mistake


class Strict(BaseModel):
    """Unknown keys refused (`severty:` is an error), no coercion ('1' is not 1), frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class UniqueItems:
    """A list whose items differ: checked after the list validates, and `uniqueItems` in the schema."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_unique, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "uniqueItems": True}


def _unique(items: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for i, item in enumerate(items):
        if item in seen:
            raise PydanticCustomError("unique_items", "item {index} repeats item {first}",
                                      {"index": i, "first": seen.index(item)})
        seen.append(item)
    return items


def _refuse_null(value: T) -> T:
    if value is None:
        raise PydanticCustomError("not_null", "leave the key out instead of writing null")
    return value


Unique = Annotated[T, UniqueItems()]
# An optional key: absent means None (the default), but an explicit `null` is refused, as the schema says.
Omittable = Annotated[T | SkipJsonSchema[None], BeforeValidator(_refuse_null)]


class SchemaGenerator(GenerateJsonSchema):
    """pydantic's JSON Schema, said the way a hand-written schema would say it.

    - a mapping whose keys have a pattern gets `propertyNames` (pydantic writes `patternProperties`,
      which would let any other key through unchecked);
    - `float | int` (kept apart so 10 stays 10 in messages) is one `number`;
    - no generated field titles ("N Layer"), no `default: null` where null is refused.
    """

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        out = super().dict_schema(schema)
        patterns = out.pop("patternProperties", None)
        if patterns:
            ((pattern, values),) = patterns.items()
            out["propertyNames"] = {**out.get("propertyNames", {}), "pattern": pattern}
            out["additionalProperties"] = values or True
        return out

    def union_schema(self, schema: core_schema.UnionSchema) -> JsonSchemaValue:
        out = super().union_schema(schema)
        branches = out.get("anyOf", [])
        numbers = [{"type": "number"}, {"type": "integer"}]
        if all(b in branches for b in numbers):
            rest = [b for b in branches if b not in numbers]
            merged = [{"type": "number"}, *rest]
            out = {k: v for k, v in out.items() if k != "anyOf"}
            out.update(merged[0] if len(merged) == 1 else {"anyOf": merged})
        return out

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        out = super().default_schema(schema)
        if out.get("default", 0) is None and {"type": "null"} not in out.get("anyOf", []):
            del out["default"]
        return out

    def generate(self, schema: core_schema.CoreSchema, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        out = super().generate(schema, mode)
        for part in (out, *out.get("$defs", {}).values()):
            if part is not out:
                part.pop("title", None)  # the class name: noise in an editor's hover
            if "description" in part:  # a docstring: its first paragraph, on one line
                part["description"] = " ".join(part["description"].split("\n\n")[0].split())
        return out


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of `model` as `schemas/` publishes it (without `$id`, `title` and `$schema`)."""
    return model.model_json_schema(schema_generator=SchemaGenerator)

"""The `tables:` of a rule file, typed: data the preflight collectors read, checked when the file loads.

    tables:
      near_dup: [{jaccard: 0.8, num_perm: 128, shingle_words: 5}]
      attention_backends:
        - {attention: flash, devices: [cuda], precisions: [bf16, fp16], why: FlashAttention is CUDA-only}

Each table is a list of rows (a settings table has exactly one row), so a misspelled table or
setting, a wrong type or a duplicated row is a `picogate rules check` error at its line and column
instead of a preflight failure with no position. A child profile that states a table replaces the
parent's table whole. The defaults below are measurement settings (sketch size, n-gram length),
not gate thresholds: those live in rule checks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from picogate.errors import RuleError
from picogate.fields import Ident, Omittable
from picogate.fields import Strict as _Row
from picogate.validation import error_path

Device = Literal["cuda", "cpu", "mps"]
Precision = Literal["bf16", "fp16", "fp32"]
Backend = Ident


class NearDup(_Row):
    """MinHash/LSH settings of the near-duplicate collector."""

    jaccard: float = Field(0.8, gt=0, lt=1, description="estimated Jaccard similarity that counts as a near duplicate")
    num_perm: int = Field(128, ge=1, description="MinHash slots per document")
    shingle_words: int = Field(5, ge=1, description="words per shingle")


class Contamination(_Row):
    """Settings of the eval-contamination scan."""

    ngram: int = Field(13, ge=1, description="words in a shared n-gram that counts as a leak")
    min_words: int = Field(8, ge=1, description="shorter prompts are matched whole (capped at ngram)")


class AttentionBackend(_Row):
    """Where one attention backend runs: a combination missing here is refused."""

    attention: Backend = Field(description="the backend's name, as a plan's launch.attention says it")
    devices: list[Device] = Field(min_length=1, description="devices it runs on")
    precisions: list[Precision] = Field(min_length=1, description="precisions it runs at")
    why: str = Field("", description="shown when a plan asks for a combination missing here")


class DevicePrecisions(_Row):
    """The precisions one device trains at."""

    device: Device
    precisions: list[Precision] = Field(min_length=1, description="precisions it trains at")
    why: str = Field("", description="shown when a plan asks for a precision missing here")


class Tables(_Row):
    """Every table a rule file may state; a table left out is inherited, or absent (its collector's default)."""

    near_dup: Omittable[Annotated[list[NearDup], Field(min_length=1, max_length=1)]] = Field(
        None, description="MinHash/LSH settings of the near-duplicate collector (one row)")
    contamination: Omittable[Annotated[list[Contamination], Field(min_length=1, max_length=1)]] = Field(
        None, description="settings of the eval-contamination scan (one row)")
    attention_backends: Omittable[list[AttentionBackend]] = Field(
        None, description="where each attention backend runs; a combination missing here is refused")
    device_precisions: Omittable[list[DevicePrecisions]] = Field(
        None, description="the precisions each device trains at")

    def merged(self, child: Tables) -> Tables:
        """These tables with each table `child` states replacing ours whole (a child profile's tables)."""
        own = {name: getattr(self, name) for name in self.model_fields_set}
        return Tables(**own | {name: getattr(child, name) for name in child.model_fields_set})

    @property
    def near_dup_settings(self) -> NearDup:
        return self.near_dup[0] if self.near_dup else NearDup()

    @property
    def contamination_settings(self) -> Contamination:
        return self.contamination[0] if self.contamination else Contamination()


_KEYS = {"attention_backends": "attention", "device_precisions": "device"}


def duplicates(tables: Tables) -> Iterator[tuple[str, int, str, str]]:
    """(table, row index, key, value) of each row whose key repeats an earlier row's: the later row would be
    shadowed, so which one a collector reads would depend on order."""
    for name, key in _KEYS.items():
        seen: set[str] = set()
        for i, row in enumerate(getattr(tables, name) or ()):
            value = getattr(row, key)
            if value in seen:
                yield name, i, key, value
            seen.add(value)


def as_tables(tables: Tables | Mapping[str, Any]) -> Tables:
    """`tables` typed: a `Tables` as is, a plain mapping (tables built in code) validated.

    >>> as_tables({"near_dup": [{"jaccard": 0.7}]}).near_dup_settings.num_perm
    128
    """
    if isinstance(tables, Tables):
        return tables
    data = dict(tables)
    try:
        out = Tables.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, ("tables", *error_path(err, data))))
        raise RuleError(f"{where}: {err['msg']}") from None
    for name, i, _key, value in duplicates(out):
        raise RuleError(f"tables.{name}[{i}]: '{value}' is listed twice")
    return out

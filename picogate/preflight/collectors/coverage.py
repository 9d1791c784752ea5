"""Release-skill coverage: how many SFT and eval rows each skill has."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any


def count(rows: Iterable[dict[str, Any]]) -> Counter[str]:
    """Rows per skill; rows without a skill (choice rows) count under the total only, as ''."""
    return Counter(str(row.get("skill", "")) for row in rows)


def metrics(split: str, skills: Counter[str] | None, required: Iterable[str] = ()) -> dict[str, object]:
    """`data.{split}.rows` and `data.{split}.{skill}.rows`; a required skill with no rows is 0, not missing.

    `skills` is None when the split's files could not be found: then every count is missing.

    >>> metrics("sft", Counter({"math": 3}), ["math", "spelling"])["data.sft.spelling.rows"]
    0
    """
    out: dict[str, object] = {f"data.{split}.rows": None if skills is None else sum(skills.values())}
    if split == "external":
        return out
    names = set(required) | ({s for s in skills if s} if skills else set())
    for skill in sorted(names):
        out[f"data.{split}.{skill}.rows"] = None if skills is None else skills.get(skill, 0)
    return out

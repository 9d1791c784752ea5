"""Missing data files: a glob that matches nothing is a missing file."""

from __future__ import annotations

from pathlib import Path


def metrics(kind: str, files: list[Path], missing_globs: list[str]) -> dict[str, object]:
    """`files.{kind}.count`, `.missing` (globs matching nothing) and their names.

    >>> metrics("sft", [], ["data/sft/*.jsonl"])["files.sft.missing"]
    1
    """
    return {
        f"files.{kind}.count": len(files),
        f"files.{kind}.missing": len(missing_globs),
        f"files.{kind}.missing_globs": ", ".join(missing_globs) if missing_globs else "none",
    }

"""Where the shipped policy lives: `rules/` and `schemas/`.

A wheel carries them inside the package (`picogate/_shipped/`, see pyproject.toml);
a source checkout or editable install finds them at the repository root.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    inside = _PKG / "_shipped" / name
    return inside if inside.is_dir() else _PKG.parent / name


RULES_DIR = _shipped("rules")
SCHEMAS_DIR = _shipped("schemas")

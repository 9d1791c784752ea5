"""Strict JSON for evidence files: UTF-8 only, no duplicate keys, no NaN/Infinity.

Python's `json` keeps the last of duplicate keys and accepts `NaN`/`Infinity`; both
would let malformed evidence through silently. One reader, used by every JSON input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from picogate.errors import InputError, first_line


def loads_strict(raw: bytes, where: str) -> Any:
    """Parse `raw`; any fault is an `InputError` that starts with `where` (a file or file:line)."""

    def no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)  # built in C; only a short count sends us looking for the duplicate
        if len(out) != len(pairs):
            seen: set[str] = set()
            for k, _ in pairs:
                if k in seen:
                    raise InputError(f"{where}: duplicate key '{k}'")
                seen.add(k)
        return out

    def no_constants(name: str) -> Any:
        raise InputError(f"{where}: {name} is not valid JSON; write null for a missing value")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=no_dupes, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except InputError:
        raise
    except ValueError as exc:  # e.g. an integer past Python's digit limit (int() refuses 4301+ digits)
        raise InputError(f"{where}: invalid JSON: {first_line(exc).split(';')[0]}") from None
    except RecursionError:  # nesting deep enough to exhaust the parser's stack
        raise InputError(f"{where}: invalid JSON: nested too deeply") from None


def json_lines(lines: Iterable[bytes], path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`path:line`, object) for each non-blank JSONL line; a line that is not an object is an `InputError`.

    A UTF-8 byte-order mark opening the file is an encoding marker some editors write, not data: skipped.
    """
    for no, line in enumerate(lines, 1):
        if no == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        line = line.removesuffix(b"\n").removesuffix(b"\r")  # an error's column stays on its own line
        if not line.strip():
            continue
        where = f"{path}:{no}"
        obj = loads_strict(line, where)
        if not isinstance(obj, dict):
            raise InputError(f"{where}: each line must be a JSON object, got {type(obj).__name__}")
        yield where, obj

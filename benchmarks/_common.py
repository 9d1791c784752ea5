"""Helpers shared by the benchmarks: a timer, the machine stamp and the atomic results writer."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run `fn` once; return its result and the wall-clock seconds it took."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def machine() -> dict:
    """Where the figures came from: ratios are only comparable within one run on one machine."""
    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}


def write_json_atomic(path: str | Path, payload: dict) -> None:
    """Write JSON to a temp file in the same folder, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_results(path: str | Path, result: dict, *, write: bool = True) -> dict:
    """Stamp `result` with `machine()` and, when `write`, save it atomically and say where.

    One place for the results block, so every benchmark's JSON carries the same machine keys.
    A `machine` the caller already set (with library versions, say) is kept.
    """
    result.setdefault("machine", machine())
    if write:
        write_json_atomic(path, result)
        print(f"wrote {path}")
    return result

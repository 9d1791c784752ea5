"""Helpers shared by the benchmarks: a timer, the machine stamp, the atomic results writer and a child
that reports its own peak RSS."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
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


# Defines peak_rss_mb() in a child: its own high-water RSS (VmHWM) in MB; ru_maxrss (KiB on Linux) only
# where /proc is missing. Not the parent's ru_maxrss for its children: on Linux a child inherits its
# parent's peak across fork and exec, so a parent that built a large input would be counted in every child.
PEAK_RSS = """
import resource
def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def run_child(code: str, args: list[str], *, cwd: str | Path | None = None, name: str = "child") -> dict:
    """Run `code` in a fresh interpreter with `PEAK_RSS` in scope; return the JSON object it prints last.

    The child measures itself (`peak_rss_mb()`), so nothing of this process leaks into its figure.
    `wall_seconds` (the whole child, interpreter start included) is added.
    """
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS + code, *args], capture_output=True, text=True, cwd=cwd)
    if proc.returncode:
        raise SystemExit(f"{name} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_seconds"] = time.perf_counter() - start
    return out


# `python -m picogate ARGV > /dev/null` in-process, as picogate/__main__.py does, then one JSON line on
# the real stdout: the exit status, seconds and this process's peak RSS.
CLI_TO_DEVNULL = r"""
import json, os, sys, time
real = os.dup(1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
start = time.perf_counter()
from picogate.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:
    rc = exc.code
sys.stdout.flush()
os.write(real, (json.dumps({"exit": rc, "seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb()})
                + "\n").encode())
"""


def cli_peak_rss(argv: list[str], *, cwd: str | Path | None = None) -> dict:
    """Peak RSS (MB) of `picogate ARGV > /dev/null` in a fresh interpreter, with its exit status and seconds."""
    return run_child(CLI_TO_DEVNULL, argv, cwd=cwd, name="picogate " + " ".join(argv[:1]))


# -- a synthetic corpus, shared by bench_scale.py and the Ray engine tests (tests/preflight_ray/) --------------
LEAKS = [
    "a train leaves the station at nine and travels sixty miles an hour for three hours how far does it go",
    "write the word necessary backwards letter by letter and then count how many letters it has in total",
    "which planet in our solar system has the most moons and how many of them were found by telescopes",
]


def synthetic_texts(n: int, seed: int = 0, *, vocab_words: int = 5000, words: int = 70,
                    leak_every: int = 5000) -> list[str]:
    """`n` documents of `words` Zipf-drawn words: 2% exact copies (case and punctuation changed), 3% near
    copies (a sentence appended), one of LEAKS quoted in every `leak_every`-th document, an empty and a
    punctuation-only document (no shingles)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(2, 9, vocab_words)
    chars = rng.choice(letters, int(lengths.sum()))
    vocab = np.array(["".join(w) for w in np.split(chars, np.cumsum(lengths)[:-1])], dtype=object)
    drawn = (rng.zipf(1.3, size=(n, words)) - 1) % len(vocab)
    texts = [" ".join(row) for row in vocab[drawn].tolist()]
    src = rng.integers(0, max(n // 2, 1), n)
    kind = rng.random(n)
    for i in np.flatnonzero(kind < 0.02):
        if src[i] < i:
            texts[i] = texts[src[i]].upper() + "!"
    for i in np.flatnonzero((kind >= 0.02) & (kind < 0.05)):
        if src[i] < i:
            texts[i] = texts[src[i]] + " and that was all there was"
    for k, i in enumerate(range(17, n, leak_every)):
        texts[i] = texts[i] + " " + LEAKS[k % len(LEAKS)] + " " + texts[(i * 7) % n][:100]
    if n > 10:
        texts[5] = ""
        texts[6] = "... !!!"
    return texts

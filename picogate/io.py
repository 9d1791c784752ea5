"""File IO at the boundary: atomic writes (a crash mid-write leaves the old file intact) and
bounded reads of regular files only (no FIFO, device or directory is ever opened as input)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from picogate.errors import InputError, first_line

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the kernel says it (/proc, Linux 4.7+).

    Elsewhere it is read by setting and restoring it under a lock: `os.umask` is the only portable
    reader, and another thread creating a file in between would get the probe value.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` on a temp file beside `path`, fsync it, then rename it over `path`.

    `mkstemp` creates the temp file 0600; it is opened up to what `open()` would give (0666 less the
    umask, so 0644 under umask 022) before the rename, because reports and results are for people.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
        finally:
            os.close(fd)
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return target


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# -- reading: only regular files, sizes checked before reading

MAX_EVIDENCE_BYTES = 512 * 1024 * 1024  # metrics/JSON evidence read whole; larger tables belong in parquet


def regular_file(path: str | Path, what: str = "file") -> Path:
    """`path` if it is a regular file (after links); else an `InputError` that says what it is.

    Directories, FIFOs (a read would block forever), sockets and devices such as /dev/zero
    (a read never ends) are refused before anything is opened.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a file")
        raise InputError(f"{path}: not a regular file ({kind}); pass a {what} file")
    return p


def read_bounded(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file no larger than `limit`: checked with stat, then read at most limit + 1 bytes.

    The second bound catches a file that grows between the stat and the read.
    """
    p = regular_file(path, what)
    if p.stat().st_size > limit:
        raise InputError(f"{path}: {what} file is larger than {limit:,} bytes")
    try:
        with open(p, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    if len(raw) > limit:
        raise InputError(f"{path}: {what} file is larger than {limit:,} bytes")
    return raw


MAX_LINE_BYTES = 64 << 20  # one row or corpus document; far past any real one, and what one line may hold in memory


def read_lines(path: str | Path, what: str = "file", max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The lines of a regular file, streamed (row files have no size limit: one line is held at a time).

    A line is read at most `max_line` bytes at a time, so a file with no newline (a huge sparse file)
    is refused at that size instead of being read whole. Any OSError while opening or reading is an
    `InputError` naming the file, so an unreadable rows file stops the gate with one line instead of
    an internal error.
    """
    p = regular_file(path, what)
    try:
        fh = open(p, "rb")  # noqa: SIM115 - closed below; a generator keeps it open between lines
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    with fh:
        number = 0
        while True:
            try:
                line = fh.readline(max_line + 1)
            except OSError as exc:
                raise InputError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
            if not line:
                return
            number += 1
            if len(line) > max_line:
                raise InputError(f"{path}:{number}: line is longer than {max_line:,} bytes; a JSONL {what} file "
                                 "holds one JSON object per line")
            yield line


def open_parquet(path: str | Path, what: str = "parquet", source: Any = None) -> Any:
    """A `pyarrow.parquet.ParquetFile` for batch reads, every column name once.

    Only a regular file is opened (pyarrow would block on a FIFO), unless `source` is an open handle
    (a Ray read unit's filesystem file). A name given to two columns is refused: a reader keyed by
    name would keep one of them silently.
    """
    import pyarrow.parquet as pq  # here, so this module stays standard library at import (torch-only path)

    if source is None:
        regular_file(path, what)
    try:
        pf = pq.ParquetFile(path if source is None else source)
    except Exception as exc:  # pyarrow raises many types for truncated or foreign files
        raise InputError(f"{path}: cannot read as parquet ({first_line(exc)})") from None
    counts = Counter(pf.schema_arrow.names)  # a Counter: a file may have very many columns
    twice = sorted(n for n, k in counts.items() if k > 1)
    if twice:
        raise InputError(f"{path}: column '{twice[0]}' appears {counts[twice[0]]} times; name each column once")
    return pf

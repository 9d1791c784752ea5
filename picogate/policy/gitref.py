"""Rule files at a git revision: `git:REV:path` -> a temporary copy that `load_rules` can read.

`extends` is resolved beside the file, so the whole folder of the file is taken from the
same revision (`git:main:rules/skill_release.yaml` also brings `rules/release.yaml` as it was
on main). Paths are relative to the current directory, as in `git show REV:./path`. A REV
that starts with `-` is refused, and every REV reaches git after `--end-of-options` (git >= 2.24),
so no REV is ever read as an option.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path, PurePosixPath

from picogate.errors import PicogateError
from picogate.escape import text

PREFIX = "git:"


def is_git_ref(ref: str) -> bool:
    return ref.startswith(PREFIX)


def _git(*args: str) -> bytes:
    try:
        proc = subprocess.run(["git", *args], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PicogateError(f"cannot run git ({exc})") from None
    if proc.returncode != 0:
        first = (proc.stderr.decode(errors="replace").strip().splitlines() or ["failed"])[0]
        raise PicogateError(f"git {text(' '.join(args))}: {text(first)}")
    return proc.stdout


def materialize(ref: str, workdir: str | Path | None = None) -> Path:
    """Write the folder of `git:REV:path` at REV into a temporary folder; return the file's path there.

    >>> materialize("git:HEAD~1:rules/release.yaml")   # doctest: +SKIP
    PosixPath('/tmp/picogate-git-.../release.yaml')
    """
    body = ref[len(PREFIX):]
    rev, sep, path = body.partition(":")
    if not sep or not rev or not path:
        raise PicogateError(f"'{text(ref)}': write git:REV:path, e.g. git:main:rules/release.yaml")
    if rev.startswith("-"):  # git would read it as an option; --end-of-options below guards the rest
        raise PicogateError(f"git ref '{text(rev)}' may not start with '-'")
    rel = PurePosixPath(path[2:] if path.startswith("./") else path)
    folder = rel.parent
    listing = _git("ls-tree", "--name-only", "--end-of-options",
                   f"{rev}:./{folder}" if str(folder) != "." else f"{rev}:./")
    files = [n for n in listing.decode().splitlines() if n.endswith((".yaml", ".yml"))]
    if rel.name not in files:
        raise PicogateError(f"'{text(ref)}': {text(rel)} does not exist at {text(rev)}")
    out = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="picogate-git-"))
    out.mkdir(parents=True, exist_ok=True)
    for name in files:
        (out / name).write_bytes(_git("show", "--end-of-options", f"{rev}:./{folder / name}"))
    return out / rel.name

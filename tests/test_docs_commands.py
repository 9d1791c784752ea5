# .venv/bin/python -m pytest tests/test_docs_commands.py -q
"""Docs that run: every shell command the README and docs/*.md mark runnable works as written.

The convention (for whoever writes docs):

- A fenced block whose info string is ``bash run`` (``sh``/``shell``/``console`` work too) is run, one
  command per line (a trailing backslash continues it; blank and comment-only lines are skipped), with
  bash, in a temporary copy of the working tree, with the test's virtual environment as ``.venv`` and
  its ``bin/`` first on PATH. Commands of a block run in order; each expects exit status 0, or
  ``exit=N`` from the info string (```` ```bash run exit=1 ````), or ``(exit N)`` in its own trailing
  comment (``picogate preflight examples/plan_undertrained.yaml   # blocked (exit 1)``).
- ``setup`` in the info string (```` ```bash run setup ````) runs that block once before every other
  block: the README's demo leaves ``demo-run/`` (a trained tiny model, a judged run directory) for the
  commands that score or judge a run.
- A shell block without ``run`` must read as a synopsis (an UPPERCASE placeholder, ``[optional]`` parts or
  ``...`` on each line), so that nothing that looks copyable is left unchecked.

Each command must exit as documented and print no traceback and no "internal error". The demo is the
slow part (about a minute on 2 cores); everything else takes a second or two a command.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELLS = {"bash", "sh", "shell", "console"}
# Commands shown in the docs that this test cannot run, and why. Each is still checked to name a real file.
NOT_RUN = {"bash scripts/test.sh": "it runs the whole test suite, this test included"}
# What a fresh clone does not have: the copy leaves these out, as .gitignore does.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "demo-run", "runs", "dist", "build", "*.egg-info", "__pycache__",
                                    ".pytest_cache", ".ruff_cache", ".hypothesis", "*.preflight.json")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`]*)$")
EXIT_COMMENT = re.compile(r"#.*\(exit (\d+)\)")
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z0-9_]{2,}\b|\[[^\]]*\]|\.\.\.")
TIMEOUT_S = 600


@dataclass
class Command:
    line: int            # where it starts in its file
    text: str            # as bash gets it (continuation lines joined by bash itself)
    exit: int


@dataclass
class Block:
    path: Path
    line: int            # the opening fence
    info: list[str]
    commands: list[Command] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def runnable(self) -> bool:
        return "run" in self.info[1:]

    @property
    def setup(self) -> bool:
        return self.runnable and "setup" in self.info[1:]


def _commands(lines: list[tuple[int, str]], default_exit: int) -> list[Command]:
    """Logical commands of a block: backslash-continued lines joined, blank and comment lines skipped."""
    out: list[Command] = []
    start, parts = 0, []
    for number, line in lines:
        if not parts and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not parts:
            start = number
        parts.append(line)
        if line.rstrip().endswith("\\"):
            continue
        text = "\n".join(parts)
        m = EXIT_COMMENT.search(parts[-1])
        out.append(Command(start, text, int(m.group(1)) if m else default_exit))
        parts = []
    if parts:
        out.append(Command(start, "\n".join(parts), default_exit))
    return out


def parse(path: Path) -> list[Block]:
    """The shell blocks of one markdown file."""
    blocks: list[Block] = []
    fence, block, body = None, None, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence, body = m.group(1), []
                info = m.group(2).split()
                block = Block(path, number, info) if info and info[0].lower() in SHELLS else None
            continue
        if m and m.group(1).startswith(fence) and not m.group(2).strip():
            if block is not None:
                exits = [int(t.split("=", 1)[1]) for t in block.info[1:] if re.fullmatch(r"exit=\d+", t)]
                block.commands = _commands(body, exits[0] if exits else 0)
                blocks.append(block)
            fence, block = None, None
            continue
        body.append((number, line))
    return blocks


BLOCKS = [b for path in DOCS if path.is_file() for b in parse(path)]
RUNNABLE = [b for b in BLOCKS if b.runnable]
SETUP = [b for b in RUNNABLE if b.setup]


@dataclass
class Ran:
    command: Command
    rc: int | None       # None: not run (NOT_RUN)
    output: str


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]
    setup: dict[str, list[Ran]]

    def run(self, block: Block) -> list[Ran]:
        done = []
        for command in block.commands:
            bare = command.text.split("#")[0].strip()     # NOT_RUN names the command without its comment
            if bare in NOT_RUN:
                script = bare.split()[-1]
                assert (self.root / script).is_file(), f"{block.id}: {script} does not exist"
                done.append(Ran(command, None, NOT_RUN[bare]))
                continue
            proc = subprocess.run(["bash", "-c", command.text], cwd=self.root, env=self.env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT_S, check=False)
            done.append(Ran(command, proc.returncode, proc.stdout))
        return done


def _shadow_venv(target: Path) -> None:
    """`.venv` in the copy: the running environment's files by symlink, and an install stamp that matches the
    copy's pyproject.toml, so scripts/_env.sh finds it installed and never runs pip."""
    target.mkdir()
    for entry in Path(sys.prefix).iterdir():
        if entry.name != ".picogate-installed":
            (target / entry.name).symlink_to(entry)
    stamp = hashlib.sha256((target.parent / "pyproject.toml").read_bytes()).hexdigest()
    (target / ".picogate-installed").write_text(stamp + "\n")


def _git_snapshot(root: Path, env: dict[str, str]) -> None:
    """Make the copy a one-commit repository on `main`, as a fresh clone is, for `git:main:PATH` rule files."""
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=docs", "-c", "user.email=docs@example.com", "-c", "commit.gpgsign=false",
                  "commit", "-q", "--no-verify", "-m", "copy of the working tree"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    if sys.prefix == sys.base_prefix:
        pytest.skip("the docs' commands run from a virtual environment (.venv); this Python is not in one")
    root = tmp_path_factory.mktemp("docs") / "picogate"
    shutil.copytree(REPO, root, ignore=NOT_COPIED, symlinks=True)
    _shadow_venv(root / ".venv")
    env = {k: v for k, v in os.environ.items()
           if k not in {"GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "PICOGATE_VENV", "PYTHONPATH", "PYTHONHOME"}}
    env.update(PATH=f"{root / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(root / ".venv"),
               GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", PYTHONDONTWRITEBYTECODE="1")
    if shutil.which("git"):
        _git_snapshot(root, env)
    ws = Workspace(root, env, {})
    for block in SETUP:
        ws.setup[block.id] = ws.run(block)
    return ws


def _check(block: Block, ran: list[Ran]) -> None:
    for r in ran:
        if r.rc is None:
            continue
        where = f"{block.path.relative_to(REPO)}:{r.command.line}: {r.command.text}"
        tail = "\n".join(r.output.splitlines()[-25:])
        assert r.rc == r.command.exit, f"{where}\nexit {r.rc}, documented {r.command.exit}; output ends:\n{tail}"
        assert "Traceback (most recent call last)" not in r.output, f"{where}\nprinted a traceback:\n{tail}"
        assert "internal error" not in r.output, f"{where}\nprinted an internal error:\n{tail}"


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.id for b in RUNNABLE])
def test_documented_commands_run_as_written(block: Block, workspace: Workspace) -> None:
    assert block.commands, f"{block.id}: marked runnable but has no command"
    if any("git:" in c.text for c in block.commands) and not shutil.which("git"):
        pytest.skip("git is not installed (the block reads rule files at a git revision)")
    _check(block, workspace.setup[block.id] if block.setup else workspace.run(block))


@pytest.mark.parametrize("block", [b for b in BLOCKS if not b.runnable],
                         ids=[b.id for b in BLOCKS if not b.runnable])
def test_unmarked_shell_blocks_are_synopses(block: Block) -> None:
    """A shell block not marked `run` must not look copyable: every command in it shows a placeholder."""
    for command in block.commands:
        assert PLACEHOLDER.search(command.text.split("#")[0]), (
            f"{block.path.relative_to(REPO)}:{command.line}: {command.text!r} looks like a command a reader would "
            "copy: mark the block ```bash run (and make it run), or write it as a synopsis (UPPERCASE placeholders, "
            "[optional] parts)")


def _demo_sections() -> list[tuple[str, str]]:
    """(file, text) of every section whose heading names the demo."""
    out = []
    for path in DOCS:
        for section in re.split(r"(?m)^(?=#{1,6} )", path.read_text(encoding="utf-8")):
            if re.match(r"#{1,6} .*\bdemo\b", section, re.IGNORECASE):
                out.append((str(path.relative_to(REPO)), section))
    return out


def test_demo_figures_quoted_in_the_docs_are_the_demos(workspace: Workspace) -> None:
    """A figure quoted as `metric` 0.96 in a section about the demo is what the demo's postrun.json holds."""
    if not SETUP:
        pytest.skip("no setup block ran the demo")
    evidence = json.loads((workspace.root / "demo-run" / "postrun.json").read_text(encoding="utf-8"))["evidence"]
    quoted = [(where, name, value) for where, text in _demo_sections()
              for name, value in re.findall(r"`([a-z_][\w.]*)` (\d+(?:\.\d+)?)\b", text)]
    assert quoted, "no `metric` value figures found in the demo sections"
    for where, name, value in quoted:
        decimals = len(value.partition(".")[2])
        assert name in evidence, f"{where}: `{name}` is not in the demo's evidence"
        assert round(float(evidence[name]), decimals) == float(value), (
            f"{where}: quotes `{name}` {value}, the demo gives {evidence[name]}")


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(REPO)) for p in DOCS])
def test_the_docs_point_only_inside_the_repository(path: Path) -> None:
    """A clone has only the repository: every relative link or `../` path resolves to a file in it."""
    text = path.read_text(encoding="utf-8")
    targets = [t for t in re.findall(r"\]\(([^)\s#]+)", text) if not re.match(r"[a-z]+:", t)]
    targets += re.findall(r"`(\.\./[^`\s]+)`", text)
    for target in targets:
        resolved = (path.parent / target).resolve()
        assert resolved.is_relative_to(REPO), f"{path.name}: {target} is outside the repository"
        assert resolved.exists(), f"{path.name}: {target} does not exist"


def test_the_docs_have_runnable_commands() -> None:
    """The parser finds the marked blocks (a changed fence syntax would otherwise pass silently)."""
    assert SETUP, "no ```bash run setup block (the README's demo) found"
    assert len(RUNNABLE) >= 5, [b.id for b in RUNNABLE]

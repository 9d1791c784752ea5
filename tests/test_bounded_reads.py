# .venv/bin/python -m pytest tests/test_bounded_reads.py -q
"""Only regular files are read, and sizes are checked before reading (issue 11, "Bounded reads").

Every door that reads a user's file (rule files and the profiles they extend, plans, rule tests,
data rows, corpus shards, run directories) is tried with a huge sparse file, a FIFO (a read would
block forever), a folder and a link to /dev/zero (a read never ends). Each must give one clean
error naming the file, quickly; an OSError while reading must be that error too, never an
internal error. A FIFO that is opened would hang the test: `no_hang` turns that into a failure.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from picogate import RuleError, load_rules
from picogate.cli import main as picogate
from picogate.errors import InputError, PicogateError
from picogate.evaluator.rows import EvalInputError, load_eval_rows
from picogate.paths import RULES_DIR
from picogate.policy.ruletests import run_rule_tests
from picogate.postrun.rundir import RunDir, RunRecorder, sha256_file
from picogate.preflight.gate import preflight
from picogate.preflight.plan import load_plan
from picogate.yamlstrict import YAMLError, load_file

REPO = Path(__file__).resolve().parents[1]
SYSFS_WRITE_ONLY = Path("/sys/bus/pci/rescan")  # a regular file (stat) that even root cannot open for reading

BASE = """\
profile: base
metrics:
  x: {type: float, description: a test metric}
rules:
  - id: r.one
    stage: postrun
    severity: block
    check: x >= 0.5
    message: "x is {observed}"
    fix: raise x
"""


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """Fail, rather than hang or exhaust CI, if anything here reads what it must not: opening a FIFO for
    reading waits for a writer (an alarm after 20 s), and reading /dev/zero or a sparse 3 GB file whole
    grows without bound (a data limit 4 GiB above today's use makes that a MemoryError, not the OOM killer)."""

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("blocked for 20 s: something opened a FIFO or read a device")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    limits = resource.getrlimit(resource.RLIMIT_DATA)
    used = next(int(line.split()[1]) * 1024 for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmData:"))
    cap = used + (4 << 30)
    if (limits[0] == resource.RLIM_INFINITY or limits[0] > cap) and (limits[1] == resource.RLIM_INFINITY
                                                                     or limits[1] >= cap):
        resource.setrlimit(resource.RLIMIT_DATA, (cap, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, limits)
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def special(tmp_path: Path, kind: str, name: str) -> Path:
    """A non-regular file called `name`: a FIFO, a folder, or a link to /dev/zero."""
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "dir":
        p.mkdir()
    else:
        p.symlink_to("/dev/zero")
    return p


KINDS = {"fifo": "a FIFO", "dir": "a directory", "devzero": "a device"}


# -- rule files: stat first, regular files only, bounded read ----------------------------------

def test_huge_sparse_rule_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(3 * 2**30)  # 3 GB that take no disk: reading it whole took 2.2 GB RSS before
    code = textwrap.dedent(f"""
        import resource, time  # under a 2 GiB data limit, reading the file whole would be a MemoryError
        resource.setrlimit(resource.RLIMIT_DATA, (2 << 30, resource.getrlimit(resource.RLIMIT_DATA)[1]))
        from picogate import RuleError, load_rules
        t = time.perf_counter()
        try:
            load_rules({str(big)!r})
        except RuleError as exc:
            print(exc)
        # VmHWM is this process's own peak; ru_maxrss would carry the (large) pytest parent's peak across fork
        hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        print(time.perf_counter() - t, hwm // 1024)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    message, figures = proc.stdout.strip().splitlines()
    assert "big.yaml" in message and "larger than 2,000,000 bytes" in message
    _, peak_mib = figures.split()
    assert int(peak_mib) < 400  # the interpreter and polars alone are ~150 MiB (a hang is caught by timeout)


@pytest.mark.parametrize("kind", KINDS)
def test_special_rule_file_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    path = special(tmp_path, kind, "rules.yaml")
    with pytest.raises(RuleError) as info:
        load_rules(path)
    assert f"not a regular file ({KINDS[kind]})" in info.value.reason and "rules.yaml" in str(info.value)
    with pytest.raises(YAMLError, match="not a regular file"):
        load_file(path)


def test_cli_rule_file_fifo_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rules = special(tmp_path, "fifo", "rules.yaml")
    metrics = tmp_path / "m.json"
    metrics.write_text('{"run_id": "a", "x": 1.0}')
    assert picogate(["evaluate", str(metrics), "--rules", str(rules)]) == 2
    err = capsys.readouterr().err
    assert "not a regular file (a FIFO)" in err and err.count("\n") == 1 and "Traceback" not in err


# -- extends: by name and path only, never a scan of the folder -------------------------------

def test_extends_ignores_fifos_and_devices_beside_the_profile(tmp_path: Path) -> None:
    special(tmp_path, "fifo", "a_fifo.yaml")
    special(tmp_path, "devzero", "zero.yml")
    special(tmp_path, "fifo", "unrelated.yml")
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "child.yaml").write_text("profile: child\nextends: [base]\n")
    rs = load_rules(tmp_path / "child.yaml")
    assert rs.profile == "child" and [r.id for r in rs.rules] == ["r.one"]
    assert [Path(f).name for f in rs.files] == ["base.yaml", "child.yaml"]


def test_extends_falls_back_to_shipped_profiles(tmp_path: Path) -> None:
    special(tmp_path, "fifo", "release_notes.yaml")
    (tmp_path / "child.yaml").write_text("profile: child\nextends: [release]\n")
    rs = load_rules(tmp_path / "child.yaml")
    assert rs.files == (*load_rules("release").files, rs.files[-1])


def test_extends_unknown_parent_is_a_clear_error(tmp_path: Path) -> None:
    special(tmp_path, "fifo", "other.yaml")  # the old loader opened every *.y*ml here looking for the name
    special(tmp_path, "devzero", "zero.yml")
    (tmp_path / "child.yaml").write_text("profile: child\nextends: [nobase]\n")
    with pytest.raises(RuleError) as info:
        load_rules(tmp_path / "child.yaml")
    err = info.value
    assert (Path(err.file or "").name, err.line, err.column) == ("child.yaml", 2, 11)
    assert "no profile named 'nobase'" in err.reason and "no nobase.yaml in" in err.reason
    assert "shipped profiles: honesty, release, skill_release" in err.reason


def test_parent_found_as_a_fifo_is_refused_by_name(tmp_path: Path) -> None:
    special(tmp_path, "fifo", "base.yaml")
    (tmp_path / "child.yaml").write_text("profile: child\nextends: [base]\n")
    with pytest.raises(RuleError, match=r"base\.yaml: not a regular file \(a FIFO\)"):
        load_rules(tmp_path / "child.yaml")


def test_a_profile_is_found_by_its_file_name_only(tmp_path: Path) -> None:
    """The old loader opened every YAML file in the folder looking for `profile: base`."""
    (tmp_path / "elsewhere.yaml").write_text(BASE)  # profile: base, in a file of another name
    (tmp_path / "child.yaml").write_text("profile: child\nextends: [base]\n")
    with pytest.raises(RuleError, match="no profile named 'base'"):
        load_rules(tmp_path / "child.yaml")
    (tmp_path / "base.yaml").write_text(BASE.replace("profile: base", "profile: other"))
    with pytest.raises(RuleError, match=r"profile 'other' is in a file named for 'base'") as info:
        load_rules(tmp_path / "child.yaml")
    assert info.value.line == 1


def test_shipped_rule_files_are_named_after_their_profiles() -> None:
    files = sorted(RULES_DIR.glob("*.y*ml"))
    assert files
    for f in files:
        assert load_file(f).data["profile"] == f.stem, f
        assert load_rules(f.stem).profile == f.stem


def test_load_rules_by_name_ignores_a_folder_of_that_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "release").mkdir()
    special(tmp_path, "fifo", "honesty")
    assert load_rules("release").profile == "release"
    with pytest.raises(RuleError, match="not a regular file"):
        load_rules("honesty")  # an existing file in the working directory is a path, and this one is a FIFO
    with pytest.raises(RuleError, match=r"no profile named 'nope' \(none shipped; shipped profiles: honesty"):
        load_rules("nope")


# -- plans, rule tests, rows, corpus, run directories ----------------------------------------

def copy_example(tmp_path: Path) -> Path:
    for sub in ("base", "sft", "eval", "external"):
        shutil.copytree(REPO / "examples" / "data" / sub, tmp_path / "data" / sub)
    shutil.copy(REPO / "examples" / "plan.yaml", tmp_path / "plan.yaml")
    return tmp_path / "plan.yaml"


def set_corpus(plan: Path, corpus: str, extra: str = "") -> Path:
    text = plan.read_text().replace('corpus: ["data/base/*.parquet"]', f'corpus: ["{corpus}"]{extra}')
    plan.write_text(text)
    return plan


@pytest.mark.parametrize("kind", KINDS)
def test_special_plan_file(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture) -> None:
    plan = special(tmp_path, kind, "plan.yaml")
    with pytest.raises(InputError, match=rf"plan.yaml: not a regular file \({KINDS[kind]}\)"):
        load_plan(plan)
    assert picogate(["preflight", str(plan), "-q"]) == 2
    err = capsys.readouterr().err
    assert "not a regular file" in err and err.count("\n") == 1


def test_huge_plan_is_refused_before_reading(tmp_path: Path) -> None:
    with open(tmp_path / "plan.yaml", "wb") as f:
        f.truncate(3 * 2**30)
    with pytest.raises(InputError, match="plan file is larger than"):
        load_plan(tmp_path / "plan.yaml")


@pytest.mark.parametrize("kind", ["fifo", "devzero"])
def test_special_rule_test_file(tmp_path: Path, kind: str) -> None:
    special(tmp_path, kind, "tests/t.yaml")
    with pytest.raises(PicogateError, match=r"t\.yaml: not a regular file"):
        run_rule_tests([tmp_path / "tests"])  # found in a folder: not skipped, not waited on
    with pytest.raises(PicogateError, match=r"t\.yaml: not a regular file"):
        run_rule_tests([tmp_path / "tests" / "t.yaml"])  # named: not "no such file"


@pytest.mark.parametrize(("kind", "name"), [("fifo", "data/sft/more.jsonl"), ("devzero", "data/sft/more.jsonl"),
                                            ("fifo", "data/sft/more.parquet")])
def test_special_rows_file_in_a_glob(tmp_path: Path, kind: str, name: str) -> None:
    plan = copy_example(tmp_path)
    plan.write_text(plan.read_text().replace('sft: ["data/sft/*.jsonl"]', 'sft: ["data/sft/*"]'))
    special(tmp_path, kind, name)
    with pytest.raises(InputError, match=rf"more\.\w+: not a regular file \({KINDS[kind]}\)"):
        preflight(plan)


@pytest.mark.parametrize("kind", ["fifo", "devzero"])
def test_special_evaluator_rows_file(tmp_path: Path, kind: str) -> None:
    path = special(tmp_path, kind, "eval.jsonl")
    with pytest.raises(EvalInputError, match=rf"eval\.jsonl: not a regular file \({KINDS[kind]}\)"):
        load_eval_rows(path)


@pytest.mark.parametrize(("kind", "name"), [("fifo", "x.bin"), ("devzero", "x.bin"), ("fifo", "x.npy"),
                                            ("fifo", "x.jsonl"), ("fifo", "x.parquet")])
def test_special_corpus_file(tmp_path: Path, kind: str, name: str) -> None:
    plan = set_corpus(copy_example(tmp_path), name, "\n  bos_token_id: 7")
    special(tmp_path, kind, name)
    with pytest.raises(InputError, match=rf"{name}: not a regular file \({KINDS[kind]}\)"):
        preflight(plan)


def test_a_folder_named_like_a_shard_is_not_a_corpus_file(tmp_path: Path) -> None:
    plan = set_corpus(copy_example(tmp_path), "x.bin", "\n  bos_token_id: 7")
    special(tmp_path, "dir", "x.bin")
    from picogate.preflight.gate import run

    result, ev = run(plan)
    assert ev["files.corpus.missing"] == 1 and result.status == "blocked"


def _readable(path: Path) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not SYSFS_WRITE_ONLY.is_file() or _readable(SYSFS_WRITE_ONLY),
                    reason="no unreadable sysfs file here")
@pytest.mark.parametrize("name", ["shard.bin", "shard.jsonl"])
def test_unreadable_corpus_file_is_an_input_error(tmp_path: Path, name: str, capsys: pytest.CaptureFixture) -> None:
    """A link to a sysfs write-only file: a regular file by stat, but open() fails with EACCES even for
    root (chmod 000 does not stop root). This was `internal error: PermissionError`."""
    plan = set_corpus(copy_example(tmp_path), name, "\n  bos_token_id: 7")
    (tmp_path / name).symlink_to(SYSFS_WRITE_ONLY)
    assert picogate(["preflight", str(plan), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"{name}: cannot read" in err and "internal error" not in err and err.count("\n") == 1


def test_permission_error_on_a_token_shard_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    """chmod 000 as a non-root user: the memory map's open() raises PermissionError."""
    import numpy as np

    plan = set_corpus(copy_example(tmp_path), "shard.bin", "\n  bos_token_id: 7")
    np.array([7, 1, 2, 7, 3], dtype=np.uint16).tofile(tmp_path / "shard.bin")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "shard.bin"))

    monkeypatch.setattr(np, "memmap", denied)
    assert picogate(["preflight", str(plan), "-q"]) == 2
    err = capsys.readouterr().err
    assert "shard.bin: cannot read token shard (Permission denied)" in err and "internal error" not in err


def _run_dir(tmp_path: Path) -> Path:
    rec = RunRecorder(tmp_path / "run")
    rec.manifest["stages"]["preflight"] = {"status": "approved", "result": "preflight.json", "data_files": []}
    rec._save()
    return rec.path


@pytest.mark.parametrize("kind", KINDS)
def test_special_run_dir_files(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture) -> None:
    run = _run_dir(tmp_path)
    special(run, kind, "preflight.json")
    with pytest.raises(InputError, match=rf"preflight\.json: not a regular file \({KINDS[kind]}\)"):
        RunDir(run).preflight()
    special(run, kind, "eval_results.parquet")
    with pytest.raises(InputError, match=rf"eval_results\.parquet: not a regular file \({KINDS[kind]}\)"):
        RunDir(run).table("eval_results.parquet")
    with pytest.raises(InputError, match="not a regular file"):
        sha256_file(run / "eval_results.parquet")
    (run / "run.json").unlink()
    special(run, kind, "run.json")
    with pytest.raises(InputError, match=rf"run\.json: not a regular file \({KINDS[kind]}\)"):
        RunDir(run)
    assert picogate(["postrun", str(run)]) == 2
    err = capsys.readouterr().err
    assert "run.json: not a regular file" in err and err.count("\n") == 1


def test_run_dir_that_is_a_fifo(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="run: not a directory"):
        RunDir(special(tmp_path, "fifo", "run"))


def test_huge_run_manifest_is_refused_before_reading(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    with open(run / "run.json", "wb") as f:
        f.truncate(3 * 2**30)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError, match="JSON file is larger than"):
        RunDir(run)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 100 * 1024  # KiB: nothing was read


def test_run_dir_json_read_as_before(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    (run / "preflight.json").write_text(json.dumps({"status": "approved"}))
    assert RunDir(run).preflight() == {"status": "approved"}


# -- JSONL doors: a line is bounded, so a file with no newline is refused, not read whole --------------

def _sparse(path: Path, size: int = 3 << 30) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)  # 3 GB of zeros, no newline, almost no disk
    return path


def test_huge_line_in_a_rows_file_is_refused_at_the_line_limit(tmp_path: Path) -> None:
    from picogate.io import MAX_LINE_BYTES

    path = _sparse(tmp_path / "eval.jsonl")
    with pytest.raises(InputError, match=rf"eval\.jsonl:1: line is longer than {MAX_LINE_BYTES:,} bytes"):
        load_eval_rows(path)


def test_huge_line_in_a_corpus_jsonl_is_refused(tmp_path: Path) -> None:
    plan = set_corpus(copy_example(tmp_path), "data/base/huge.jsonl")
    _sparse(tmp_path / "data" / "base" / "huge.jsonl")
    with pytest.raises(InputError, match=r"huge\.jsonl:1: line is longer than"):
        preflight(plan)


def test_line_limit_counts_lines_and_keeps_the_last_line_without_newline(tmp_path: Path) -> None:
    from picogate.io import read_lines

    path = tmp_path / "x.jsonl"
    path.write_bytes(b"ab\n" + b"c" * 10 + b"\nlast")
    assert list(read_lines(path, "rows", max_line=11)) == [b"ab\n", b"c" * 10 + b"\n", b"last"]
    with pytest.raises(InputError, match=r"x\.jsonl:2: line is longer than 10 bytes"):
        list(read_lines(path, "rows", max_line=10))

# .venv/bin/pytest -q -x -p no:cacheprovider tests/integrations/test_mlflow.py
"""MLflow both ways, against a real local tracking store made here (no mocks), plus pandas in through Arrow.

mlflow-skinny has no SQLAlchemy, so a `sqlite:` store cannot be opened: the store is MLflow's file
store (`file:` URI), which MLflow 3 opens only with MLFLOW_ALLOW_FILE_STORE=true. Telemetry is off
and HTTP retries are zero, so nothing leaves the machine and the unreachable-store test is quick.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient

from picogate import evaluate
from picogate.cli import main
from picogate.errors import InputError, PicogateError
from picogate.integrations.mlflow import log_result, log_results, read_runs

ENV = {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
       "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}

RULES = """\
profile: mlflow_test
metrics:
  quality.score: {type: float, description: a score the trainer logs}
  params.lr: {type: float, description: the learning rate (an MLflow param; text in MLflow)}
  tags.dataset: {type: string, description: the training data's name}
  info.status: {type: string, description: the MLflow run's status}
rules:
  - id: quality.score
    stage: postrun
    severity: block
    check: quality.score >= 0.5
    message: "quality score {quality.score}"
    fix: train longer
  - id: params.lr
    stage: postrun
    severity: warn
    check: params.lr <= 0.01
    message: "learning rate {params.lr}"
    fix: lower the learning rate
  - id: tags.dataset
    stage: postrun
    severity: block
    check: tags.dataset == "fineweb"
    message: "trained on {tags.dataset}"
    fix: train on the release data
  - id: info.finished
    stage: postrun
    severity: block
    check: info.status == "FINISHED"
    message: "run status {info.status}"
    fix: let the run finish
"""

# name -> (metrics, params, tags, finished); the expected verdict is the name's first word
GATE_RUNS = {
    "approved": ({"quality.score": 0.8}, {"lr": "0.001"}, {"dataset": "fineweb"}, True),
    "warn": ({"quality.score": 0.6}, {"lr": "0.1"}, {"dataset": "fineweb"}, True),
    "blocked-low": ({"quality.score": 0.2}, {"lr": "0.001"}, {"dataset": "fineweb"}, True),
    "blocked-nan": ({"quality.score": math.nan}, {"lr": "0.001"}, {"dataset": "fineweb"}, True),
    "blocked-inf": ({"quality.score": math.inf}, {"lr": "0.001"}, {"dataset": "fineweb"}, True),
    "blocked-running": ({"quality.score": 0.9}, {"lr": "0.001"}, {"dataset": "fineweb"}, False),
    "blocked-lr-text": ({"quality.score": 0.9}, {"lr": "fast"}, {"dataset": "fineweb"}, True),
}


def _make_run(client: MlflowClient, exp: str, name: str, metrics: dict, params: dict, tags: dict,
              finished: bool = True) -> str:
    run = client.create_run(exp, run_name=name, tags={"name": name, **tags})
    rid = run.info.run_id
    for k, v in metrics.items():
        client.log_metric(rid, k, 0.0, step=0)  # an earlier value: the latest one is read
        client.log_metric(rid, k, v, step=1)
    for k, v in params.items():
        client.log_param(rid, k, v)
    if finished:
        client.set_terminated(rid)
    return rid


def _experiment(client: MlflowClient, name: str, runs: dict) -> dict[str, str]:
    exp = client.create_experiment(name)
    return {n: _make_run(client, exp, n, *spec) for n, spec in runs.items()}


@pytest.fixture(scope="module", autouse=True)
def _mlflow_env():
    """MLflow's settings for the module, and a guard: a socket may connect only to this machine."""
    connect = socket.socket.connect

    def local_only(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"a test tried to reach {address} over the network")
        connect(self, address)

    with pytest.MonkeyPatch.context() as mp:
        for k, v in ENV.items():
            mp.setenv(k, v)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setattr(socket.socket, "connect", local_only)
        yield


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One store for the read-only tests: experiments `gate`, `odd`, `dup`, `runid`, `tagged`, `empty`."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = (root / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=uri)
    ids = _experiment(client, "gate", GATE_RUNS)
    odd = _experiment(client, "odd", {
        "odd": ({"a b": 1.0, "x::y": 2.0, "eval/loss": 3.0, "quality.score": 0.9, "-inf": -math.inf},
                {"lr": "0.001", "Batch Size": "32"}, {"dataset": "fineweb"}, True)})
    _experiment(client, "dup", {"dup": ({"params.lr": 0.5}, {"lr": "0.001"}, {}, True)})
    _experiment(client, "runid", {"r": ({"run_id": 1.0}, {}, {}, True)})
    _experiment(client, "tagged", {
        "t1": ({"quality.score": 0.8}, {"lr": "0.001"}, {"dataset": "fineweb", "plan": "d20"}, True),
        "t2": ({"quality.score": 0.1}, {"lr": "0.001"}, {"dataset": "fineweb", "plan": "d26"}, True)})
    _experiment(client, "tagged-dup", {
        "u1": ({}, {}, {"plan": "same"}, True), "u2": ({}, {}, {"plan": "same"}, True)})
    _experiment(client, "tagged-missing", {"v1": ({}, {}, {"plan": "p"}, True), "v2": ({}, {}, {}, True)})
    client.create_experiment("empty")
    rules = root / "rules.yaml"
    rules.write_text(RULES)
    return {"uri": uri, "ids": ids, "odd": odd, "rules": str(rules), "client": client}


@pytest.fixture
def fresh(tmp_path: Path) -> dict:
    """A store of its own for tests that write verdicts back."""
    uri = (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=uri)
    ids = _experiment(client, "gate", {k: GATE_RUNS[k] for k in ("approved", "warn", "blocked-low")})
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    return {"uri": uri, "ids": ids, "rules": str(rules), "client": client}


def _by_name(df: pl.DataFrame) -> dict[str, dict]:
    return {row["tags.name"]: row for row in df.iter_rows(named=True)}


# -- read_runs ------------------------------------------------------------------------------------

def test_read_runs_one_row_per_run_with_prefixed_params_and_tags(store: dict) -> None:
    df = read_runs("gate", tracking_uri=store["uri"])
    assert df.height == len(GATE_RUNS)
    rows = _by_name(df)
    good = rows["approved"]
    assert good["run_id"] == store["ids"]["approved"] == good["info.run_id"]
    assert good["quality.score"] == 0.8  # the latest value, not the step-0 one
    assert good["params.lr"] == "0.001"  # text, as MLflow keeps it; the boundary reads it as a number
    assert good["tags.dataset"] == "fineweb"
    assert good["info.status"] == "FINISHED" and rows["blocked-running"]["info.status"] == "RUNNING"
    assert good["tags.mlflow.runName"] == "approved"
    assert math.isnan(rows["blocked-nan"]["quality.score"])
    assert df.schema["quality.score"] == pl.Float64 and df.schema["params.lr"] == pl.String


def test_evaluate_read_runs_gives_each_run_its_verdict(store: dict) -> None:
    """Missing (NaN, inf), unreadable (lr "fast") and unfinished runs never approve."""
    df = read_runs(["gate"], tracking_uri=store["uri"])
    result = evaluate(df, store["rules"])
    names = dict(df.select("run_id", "tags.name").iter_rows())
    got = {names[r]: s for r, s in result.runs.select("run_id", "status").iter_rows()}
    assert got == {name: name.split("-")[0] for name in GATE_RUNS}
    outcomes = {(names[c["run_id"]], c["rule_id"]): c["outcome"] for c in result.checks.iter_rows(named=True)}
    assert outcomes["blocked-nan", "quality.score"] == "missing"
    assert outcomes["blocked-inf", "quality.score"] == "missing"
    assert outcomes["blocked-lr-text", "params.lr"] == "error"


def test_same_evidence_same_outcomes_as_a_mapping(store: dict) -> None:
    """The MLflow door and the list-of-mappings door give the same verdicts."""
    df = read_runs("gate", tracking_uri=store["uri"])
    rows = [{k: v for k, v in row.items() if v is not None} for row in df.iter_rows(named=True)]
    a = evaluate(df, store["rules"]).checks.select("run_id", "rule_id", "outcome", "observed")
    b = evaluate(rows, store["rules"]).checks.select("run_id", "rule_id", "outcome", "observed")
    assert a.sort("run_id", "rule_id").equals(b.sort("run_id", "rule_id"))


def test_filter_string_and_pagination(store: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import picogate.integrations.mlflow as m

    monkeypatch.setattr(m, "_PAGE", 2)  # 7 runs over 4 pages
    assert read_runs("gate", tracking_uri=store["uri"]).height == len(GATE_RUNS)
    df = read_runs("gate", "params.lr = '0.1'", tracking_uri=store["uri"])
    assert df.get_column("tags.name").to_list() == ["warn"]


def test_odd_names_are_kept_as_logged_and_never_approve_by_accident(store: dict) -> None:
    df = read_runs("odd", tracking_uri=store["uri"])
    for name in ("a b", "x::y", "eval/loss", "params.Batch Size", "-inf"):
        assert name in df.columns
    assert df.item(0, "-inf") == -math.inf
    # the rules read quality.score (0.9) and params.lr: the odd names do not disturb them; the run lacks
    # nothing else, so it is approved only because its declared evidence is all there
    assert evaluate(df, store["rules"]).status == "approved"


def test_a_name_given_twice_is_an_error_naming_both(store: dict) -> None:
    with pytest.raises(InputError, match=r"mlflow:dup: 'params\.lr' is given twice: as column 'params' "
                                         r"field 'lr' and as column 'params\.lr'"):
        read_runs("dup", tracking_uri=store["uri"])


def test_a_metric_named_run_id_is_refused(store: dict) -> None:
    with pytest.raises(InputError, match="metric named 'run_id', which is reserved"):
        read_runs("runid", tracking_uri=store["uri"])


def test_run_id_from_a_tag(store: dict) -> None:
    df = read_runs("tagged", tracking_uri=store["uri"], run_id_tag="plan")
    assert sorted(df.get_column("run_id").to_list()) == ["d20", "d26"]
    assert set(df.get_column("info.run_id").to_list()) <= {r.info.run_id for r in store["client"].search_runs(
        [store["client"].get_experiment_by_name("tagged").experiment_id])}
    with pytest.raises(InputError, match="duplicate run_id 'same'"):
        read_runs("tagged-dup", tracking_uri=store["uri"], run_id_tag="plan")
    with pytest.raises(InputError, match="1 run\\(s\\) have no tag 'plan'"):
        read_runs("tagged-missing", tracking_uri=store["uri"], run_id_tag="plan")


@pytest.mark.parametrize(("names", "flt", "match"), [
    ("nope", None, "mlflow:nope: no such MLflow experiment in file://"),
    ("empty", None, "mlflow:empty: no runs in it"),
    ("gate", "params.lr = '9'", "no runs match the filter"),
    ("gate", "params.lr ==== 3", "cannot search runs"),
    ([], None, "name at least one MLflow experiment"),
])
def test_bad_inputs_fail_closed_with_one_line(store: dict, names, flt, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        read_runs(names, flt, tracking_uri=store["uri"])
    assert "\n" not in str(err.value)


def test_unreachable_store(store: dict) -> None:
    with socket.socket() as s:  # a local port nobody listens on: refused at once, nothing leaves the machine
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match=r"cannot read the tracking store "
                                         r"http://user:\*\*\*@127\.0\.0\.1:\d+: .* Connection refused$") as err:
        read_runs("gate", tracking_uri=f"http://user:secret@127.0.0.1:{port}")
    assert "secret" not in str(err.value) and "\n" not in str(err.value)


def test_file_store_refused_by_mlflow_says_how_to_opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")  # a URI not opened before: MLflow caches the stores it opened
    with pytest.raises(InputError, match="MLFLOW_ALLOW_FILE_STORE=true"):
        read_runs("gate", tracking_uri=(tmp_path / "mlruns").as_uri())


def test_a_database_store_needs_the_full_mlflow(tmp_path: Path) -> None:
    try:
        import sqlalchemy  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("SQLAlchemy is installed: MLflow can open a sqlite store here")
    with pytest.raises(InputError, match=r"a database store .* needs the full mlflow package"):
        read_runs("gate", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert not (tmp_path / "mlflow.db").exists()


def test_without_mlflow_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in ("mlflow", "mlflow.tracking"):
        monkeypatch.setitem(sys.modules, mod, None)  # `import mlflow` now raises ImportError
    with pytest.raises(PicogateError, match=r"install 'picogate\[mlflow\]'"):
        read_runs("gate", tracking_uri="file:///nowhere")


def test_import_picogate_does_not_import_mlflow() -> None:
    code = ("import sys, picogate, picogate.cli, picogate.integrations.mlflow; picogate.cli.build_parser(); "
            "sys.exit('mlflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- the CLI --------------------------------------------------------------------------------------

def _cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_evaluate_mlflow_experiment(store: dict, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _cli(capsys, "evaluate", "mlflow:gate", "--rules", store["rules"], "--tracking-uri", store["uri"],
                        "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["status"] == "blocked" and len(doc["runs"]) == len(GATE_RUNS)
    code, out, _ = _cli(capsys, "evaluate", "mlflow:gate", "--rules", store["rules"], "--tracking-uri",
                        store["uri"], "--filter", "tags.name = 'approved'")
    assert code == 0 and "APPROVED" in out


def test_cli_honours_mlflow_tracking_uri(store: dict, capsys: pytest.CaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    code, out, _ = _cli(capsys, "evaluate", "mlflow:gate", "--rules", store["rules"], "--filter",
                        "tags.name = 'warn'", "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "warn"
    assert _cli(capsys, "evaluate", "mlflow:gate", "--rules", store["rules"], "--filter", "tags.name = 'warn'",
                "--fail-on", "warn")[0] == 1


@pytest.mark.parametrize(("argv", "match"), [
    (["mlflow:nope"], "picogate: error: mlflow:nope: no such MLflow experiment"),
    (["mlflow:dup"], "is given twice"),
    (["examples/metrics.jsonl", "--filter", "x = '1'"], "--filter, --tracking-uri: only for METRICS given as mlflow:"),
])
def test_cli_cannot_run_exits_2_with_one_line(store: dict, capsys: pytest.CaptureFixture, argv: list[str],
                                              match: str) -> None:
    code, out, err = _cli(capsys, "evaluate", *argv, "--rules", store["rules"], "--tracking-uri", store["uri"])
    assert code == 2 and out == ""
    assert match in err and err.count("\n") == 1


def test_cli_log_to_mlflow_writes_each_verdict_back(fresh: dict, capsys: pytest.CaptureFixture) -> None:
    """Runs keyed by a tag still find their MLflow run (through info.run_id)."""
    code, out, _ = _cli(capsys, "evaluate", "mlflow:gate", "--rules", fresh["rules"], "--tracking-uri",
                        fresh["uri"], "--run-id-tag", "name", "--log-to-mlflow", "--format", "json")
    assert code == 1
    assert {r["run_id"] for r in json.loads(out)["runs"]} == set(fresh["ids"])
    for name, rid in fresh["ids"].items():
        run = fresh["client"].get_run(rid)
        assert run.data.tags["picogate.status"] == name.split("-")[0]
        assert run.data.tags["picogate.profile"] == "mlflow_test"


# -- log_result -----------------------------------------------------------------------------------

def test_log_result_tags_metrics_and_artifacts(fresh: dict, tmp_path: Path) -> None:
    client, rid = fresh["client"], fresh["ids"]["blocked-low"]
    result = evaluate(read_runs("gate", "tags.name = 'blocked-low'", tracking_uri=fresh["uri"]), fresh["rules"])
    log_result(result, rid, tracking_uri=fresh["uri"])
    data = client.get_run(rid).data
    assert data.tags["picogate.status"] == "blocked" and data.tags["picogate.profile"] == "mlflow_test"
    assert data.metrics["picogate.blocking"] == 1.0 and data.metrics["picogate.warnings"] == 0.0
    local = Path(client.download_artifacts(rid, "picogate", str(tmp_path / "dl")))
    assert sorted(p.name for p in local.iterdir()) == ["report.md", "result.json"]
    report = (local / "report.md").read_text()
    assert "**blocked**" in report and "quality.score" in report
    doc = json.loads((local / "result.json").read_text())
    assert doc["status"] == "blocked" and doc["runs"][0]["run_id"] == rid


def test_log_result_one_run_under_another_name_and_without_report(fresh: dict) -> None:
    """A trainer names its run after the plan: a one-run result is logged whatever its run_id."""
    rid = fresh["ids"]["approved"]
    result = evaluate({"run_id": "d20", "quality.score": 0.9, "params": {"lr": 0.001}, "tags": {"dataset": "fineweb"},
                       "info": {"status": "FINISHED"}}, fresh["rules"], stage="postrun")
    log_result(result, rid, tracking_uri=fresh["uri"], report=False)
    run = fresh["client"].get_run(rid)
    assert run.data.tags["picogate.status"] == "approved" and run.data.tags["picogate.stage"] == "postrun"
    assert fresh["client"].list_artifacts(rid) == []


def test_log_result_of_several_runs_logs_the_matching_one_or_refuses(fresh: dict) -> None:
    df = read_runs("gate", tracking_uri=fresh["uri"])
    result = evaluate(df, fresh["rules"])
    rid = fresh["ids"]["warn"]
    log_result(result, rid, tracking_uri=fresh["uri"], report=False)
    assert fresh["client"].get_run(rid).data.tags["picogate.status"] == "warn"
    with pytest.raises(PicogateError, match="the result holds 3 runs and none has run_id 'nope'"):
        log_result(result, "nope", tracking_uri=fresh["uri"])
    assert log_results(result, df, tracking_uri=fresh["uri"], report=False) == 3


def test_log_result_to_a_missing_run_is_one_line(fresh: dict) -> None:
    result = evaluate({"quality.score": 0.9}, fresh["rules"])
    with pytest.raises(InputError, match="MLflow run 0123abc: cannot log the verdict") as err:
        log_result(result, "0123abc", tracking_uri=fresh["uri"])
    assert "\n" not in str(err.value)


# -- pandas in, through Arrow ---------------------------------------------------------------------

def test_pandas_frames_evaluate_through_arrow(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent("""\
        profile: pandas_test
        metrics:
          steps: {type: int, description: optimizer steps}
          score: {type: float, description: a score}
        rules:
          - {id: steps, stage: postrun, severity: block, check: steps >= 10, message: m, fix: f}
          - {id: score, stage: postrun, severity: block, check: score >= 0.5, message: m, fix: f}
        """))
    frame = pd.DataFrame({
        "run_id": ["ok", "null-int", "na-float", "nan"],
        "steps": pd.array([10, None, 12, 12], dtype="Int64"),
        "score": pd.array([0.5, 0.75, None, 0.75], dtype="Float32"),
    })
    frame.loc[3, "score"] = float("nan")
    result = evaluate(frame, str(rules))
    assert dict(result.runs.select("run_id", "status").iter_rows()) == {
        "ok": "approved", "null-int": "blocked", "na-float": "blocked", "nan": "blocked"}
    plain = pd.DataFrame({"run_id": ["a"], "steps": [10], "score": [float("nan")]})  # numpy dtypes, a NaN
    assert evaluate(plain, str(rules)).checks.filter(pl.col("rule_id") == "score")["outcome"].to_list() == ["missing"]


def test_a_pandas_frame_from_mlflow_search_runs_evaluates(store: dict, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's first try, `evaluate(mlflow.search_runs(...))`, works, and agrees with read_runs."""
    pytest.importorskip("pandas")
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    frame = mlflow.search_runs(experiment_names=["gate"])
    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent("""\
        profile: search_runs
        metrics:
          metrics.quality.score: {type: float, description: the score as mlflow.search_runs names it}
        rules:
          - {id: q, stage: postrun, severity: block, check: metrics.quality.score >= 0.5, message: m, fix: f}
        """))
    via_pandas = dict(evaluate(frame, str(rules)).runs.select("run_id", "status").iter_rows())
    renamed = read_runs("gate", tracking_uri=store["uri"]).rename({"quality.score": "metrics.quality.score"})
    assert via_pandas == dict(evaluate(renamed, str(rules)).runs.select("run_id", "status").iter_rows())
    assert list(via_pandas.values()).count("approved") == 4  # approved, warn, running, lr-text: score >= 0.5

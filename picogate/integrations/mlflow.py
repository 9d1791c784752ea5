"""MLflow, both ways: runs in as a metrics table, the verdict back out as tags, metrics and artifacts.

    from picogate import evaluate
    from picogate.integrations.mlflow import log_results, read_runs

    runs = read_runs(experiment_names="d20-sweep", filter_string="attributes.status = 'FINISHED'")
    result = evaluate(runs, "skill_release")
    log_results(result, runs)           # picogate.status / picogate.profile tags, counts, report.md

The CLI door is `picogate evaluate mlflow:EXPERIMENT --rules PROFILE [--filter ...] [--log-to-mlflow]`.
MLflow (the `mlflow` extra; the skinny client suffices) is imported only when one of these functions
runs, so `import picogate` never imports it. Every error is one-line `PicogateError`: the gate fails
closed when the store cannot be read.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from picogate.catalog import RUN_ID
from picogate.errors import InputError, PicogateError
from picogate.metrics import read_metrics

if TYPE_CHECKING:
    import argparse

    from picogate.result import GateResult

PREFIX = "mlflow:"  # `picogate evaluate mlflow:EXPERIMENT`
PARAMS, TAGS, INFO = "params", "tags", "info"  # the column prefixes, as MLflow's own filter strings name them
INFO_FIELDS = ("run_id", "experiment_id", "run_name", "status")  # info.<field>: facts of RunInfo worth a rule
ARTIFACT_DIR = "picogate"  # log_result writes picogate/report.md and picogate/result.json
_PAGE = 1000  # runs per search request (MLflow's default page size)
_PASSWORD = re.compile(r"(://[^/\s:@]*):[^/\s@]*@")  # the password of scheme://user:password@host
_SCHEMES = re.compile(r"Supported URI schemes are: (\[[^\]]*\])")  # in MLflow's "unsupported URI" error
_OS_ERROR = re.compile(r"\[Errno -?\d+\][^\"')\n]*")  # e.g. "[Errno 111] Connection refused"


def read_runs(experiment_names: str | Sequence[str], filter_string: str | None = None,
              tracking_uri: str | None = None, run_id_tag: str | None = None) -> pl.DataFrame:
    """One row per active MLflow run of the experiments, through the evidence boundary (`read_metrics`).

    Columns, named so that a rule file can declare them (the catalog's names are lowercase dotted
    segments, and these prefixes are the ones MLflow's filter strings use):
    - `run_id`: the MLflow run id, or the value of tag `run_id_tag` (a run without it is an error);
    - each metric by its own name, latest value (MLflow keeps floats; NaN and ±inf are missing);
    - `params.<name>` and `tags.<name>` (text in MLflow, kept as text: a rule typed as a number reads
      `"0.001"` as 0.001 by the boundary's usual rule, and a param that is not a number is `error`);
    - `info.run_id`, `info.experiment_id`, `info.run_name`, `info.status` (`FINISHED`, `FAILED`, ...).
    Names are kept as logged: one that the catalog cannot declare (`eval/loss`, `a b`) is simply never
    read. A name given twice (metric `params.lr` beside param `lr`) is an error naming both, as on every
    door; a metric named `run_id` is refused (the run key is reserved).

    >>> read_runs("d20-sweep", tracking_uri="http://127.0.0.1:5000").columns[:2]  # doctest: +SKIP
    ['run_id', 'info.run_id']
    """
    names = [experiment_names] if isinstance(experiment_names, str) else list(experiment_names)
    where = PREFIX + ",".join(names)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise InputError(f"{where}: name at least one MLflow experiment")
    client, uri = _client(tracking_uri)
    ids = [_experiment_id(client, name, uri) for name in names]
    runs = list(_search(client, ids, filter_string, where, uri))
    if not runs:
        why = f" match the filter {filter_string!r}" if filter_string else " in it"
        raise InputError(f"{where}: no runs{why} (tracking store {uri})")
    return read_metrics(_table(runs, run_id_tag, where), what=where)


def log_result(result: GateResult, mlflow_run_id: str, *, tracking_uri: str | None = None,
               report: bool = True, run_id: str | None = None) -> None:
    """Write one run's verdict to MLflow run `mlflow_run_id`.

    Tags `picogate.status` (approved | warn | blocked), `picogate.profile` (and `picogate.stage` when the
    result is of one stage); metrics `picogate.blocking` and `picogate.warnings` (counts of checks);
    with `report`, artifacts `picogate/report.md` and `picogate/result.json`, rendered by the output
    layer exactly as `--format markdown` and `--format json` write them.

    A result of one run is logged whatever its picogate `run_id` (a trainer names runs after its plan).
    A result of several runs is never logged whole, since one verdict would stand for runs it was not
    about: the run whose `run_id` is `run_id` (default: `mlflow_run_id`, as `read_runs` keys them) is
    logged, and none matching is an error. `log_results` logs every run of a result.
    """
    one = _one_run(result, run_id or mlflow_run_id)
    client, uri = _client(tracking_uri)
    _log(client, one, mlflow_run_id, report, uri)


def log_results(result: GateResult, runs: pl.DataFrame | None = None, *, tracking_uri: str | None = None,
                report: bool = True) -> int:
    """Each run's verdict to its own MLflow run; returns how many runs were logged.

    `runs` is the frame `read_runs` returned: its `info.run_id` column names each run's MLflow run,
    which is how runs keyed by a tag (`run_id_tag`) find their way back. Without it, each picogate
    `run_id` must be an MLflow run id.
    """
    mlflow_ids: dict[str, str] = {}
    if runs is not None and f"{INFO}.run_id" in runs.columns:
        mlflow_ids = dict(runs.select(RUN_ID, f"{INFO}.run_id").iter_rows())
    client, uri = _client(tracking_uri)
    n = 0
    for one in result.chunks(1):
        rid = one.runs.get_column(RUN_ID)[0]
        _log(client, one, mlflow_ids.get(rid, rid), report, uri)
        n += 1
    return n


# -- the CLI door (picogate/cli.py: `evaluate mlflow:EXPERIMENT`) ----------------------------------

def add_mlflow_args(p: argparse.ArgumentParser) -> None:
    """The `mlflow:` options of `picogate evaluate`."""
    g = p.add_argument_group("MLflow (METRICS given as mlflow:EXPERIMENT)")
    g.add_argument("--filter", metavar="FILTER_STRING", help="only runs matching this MLflow search filter, "
                                                             "e.g. \"attributes.status = 'FINISHED'\"")
    g.add_argument("--tracking-uri", metavar="URI", help="the tracking store (default: $MLFLOW_TRACKING_URI)")
    g.add_argument("--run-id-tag", metavar="TAG", help="key runs by this tag's value instead of the MLflow run id")
    g.add_argument("--log-to-mlflow", action="store_true",
                   help="write each run's verdict back to its MLflow run (tags, counts, report.md, result.json)")


def metrics_from_args(args: argparse.Namespace) -> Any:
    """`args.metrics`, or for `mlflow:EXPERIMENT` the runs `read_runs` reads; MLflow options elsewhere are an
    error rather than silently ignored."""
    source: str = args.metrics
    if not source.startswith(PREFIX):
        given = [f"--{n.replace('_', '-')}" for n in ("filter", "tracking_uri", "run_id_tag", "log_to_mlflow")
                 if getattr(args, n, None)]
        if given:
            raise PicogateError(f"{', '.join(given)}: only for METRICS given as mlflow:EXPERIMENT, not {source!r}")
        return source
    return read_runs(source[len(PREFIX):], getattr(args, "filter", None),
                     tracking_uri=getattr(args, "tracking_uri", None), run_id_tag=getattr(args, "run_id_tag", None))


# -- MLflow, imported here only -------------------------------------------------------------------

def _client(tracking_uri: str | None) -> tuple[Any, str]:
    """An MlflowClient and its store's URI for messages (credentials hidden); `None` lets MLflow resolve
    the URI as it always does ($MLFLOW_TRACKING_URI first)."""
    mlflow = _mlflow()
    try:
        client = mlflow.tracking.MlflowClient(tracking_uri=tracking_uri)
        uri = str(client.tracking_uri)
    except Exception as exc:  # a malformed URI, an unknown scheme
        raise InputError(f"MLflow tracking store {_shown(tracking_uri)}: {_reason(exc)}") from None
    return client, _shown(uri)


def _mlflow() -> Any:
    """The mlflow package, or the one-line error that says how to get it (the only place it is imported)."""
    try:
        import mlflow.entities
        import mlflow.tracking
    except ImportError as exc:
        raise PicogateError(f"MLflow runs need the MLflow client: install 'picogate[mlflow]' ({exc})") from None
    return mlflow


def _experiment_id(client: Any, name: str, uri: str) -> str:
    try:
        exp = client.get_experiment_by_name(name)
    except Exception as exc:  # an unreachable server, a store MLflow refuses to open
        raise InputError(f"{PREFIX}{name}: cannot read the tracking store {uri}: {_reason(exc)}") from None
    if exp is None:
        raise InputError(f"{PREFIX}{name}: no such MLflow experiment in {uri}")
    if exp.lifecycle_stage != "active":
        raise InputError(f"{PREFIX}{name}: the MLflow experiment is {exp.lifecycle_stage} (in {uri})")
    return str(exp.experiment_id)


def _search(client: Any, ids: list[str], filter_string: str | None, where: str, uri: str) -> Iterator[Any]:
    """Every active run, page by page."""
    token = None
    while True:
        try:
            page = client.search_runs(ids, filter_string or "", max_results=_PAGE, page_token=token)
        except Exception as exc:  # a malformed filter, a store that stopped answering
            raise InputError(f"{where}: cannot search runs in {uri}: {_reason(exc)}") from None
        yield from page
        token = page.token
        if not token:
            return


def _table(runs: list[Any], run_id_tag: str | None, where: str) -> Any:
    """The runs as one Arrow table: run key, then `info`, `params` and `tags` as struct columns (which the
    boundary flattens to dotted names, naming any clash), then the metrics."""
    import pyarrow as pa

    if run_id_tag is not None:
        keys = [run.data.tags.get(run_id_tag) for run in runs]
        untagged = [run.info.run_id for run, key in zip(runs, keys, strict=True) if key is None]
        if untagged:
            raise InputError(f"{where}: {len(untagged)} run(s) have no tag '{run_id_tag}' to key them by "
                             f"(e.g. MLflow run {untagged[0]}); tag them or filter them out")
    else:
        keys = [run.info.run_id for run in runs]
    for run in runs:
        if RUN_ID in run.data.metrics:
            raise InputError(f"{where}: MLflow run {run.info.run_id} logs a metric named '{RUN_ID}', which is "
                             "reserved for the run key; rename the metric")
    names = [RUN_ID]
    columns = [pa.array(keys, pa.string())]

    def struct(name: str, rows: list[dict[str, Any]], kind: pa.DataType) -> None:
        fields = _union(rows)
        if fields:
            names.append(name)
            columns.append(pa.StructArray.from_arrays(
                [pa.array([r.get(f) for r in rows], kind) for f in fields], names=fields))

    struct(INFO, [{f: getattr(run.info, f) for f in INFO_FIELDS} for run in runs], pa.string())
    struct(PARAMS, [run.data.params for run in runs], pa.string())
    struct(TAGS, [run.data.tags for run in runs], pa.string())
    metrics = [run.data.metrics for run in runs]
    for m in _union(metrics):
        names.append(m)
        columns.append(pa.array([row.get(m) for row in metrics], pa.float64()))
    return pa.Table.from_arrays(columns, names=names)


def _union(rows: Iterable[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _one_run(result: GateResult, run_id: str) -> GateResult:
    if result.runs.height == 1:
        return result
    for one in result.chunks(1):
        if one.runs.get_column(RUN_ID)[0] == run_id:
            return one
    raise PicogateError(f"log_result: the result holds {result.runs.height} runs and none has run_id {run_id!r}; "
                        "pass run_id=..., a one-run result, or use log_results for every run")


def _log(client: Any, one: GateResult, mlflow_run_id: str, report: bool, uri: str) -> None:
    from picogate.io import atomic_write_text
    from picogate.output import GateReport

    counts = one.runs.row(0, named=True)
    tags = {"picogate.status": one.status, "picogate.profile": one.ruleset.profile}
    if one.stage:
        tags["picogate.stage"] = one.stage
    now = int(time.time() * 1000)
    entities = _mlflow().entities
    metrics = [entities.Metric(f"picogate.{k}", float(counts[k]), now, 0) for k in ("blocking", "warnings")]
    try:
        client.log_batch(mlflow_run_id, metrics=metrics, tags=[entities.RunTag(k, v) for k, v in tags.items()])
        if report:
            gate = GateReport(one, "evaluate")
            with tempfile.TemporaryDirectory(prefix="picogate-mlflow-") as tmp:
                atomic_write_text(Path(tmp) / "report.md", gate.render("markdown"))
                atomic_write_text(Path(tmp) / "result.json", gate.render("json"))
                client.log_artifacts(mlflow_run_id, tmp, artifact_path=ARTIFACT_DIR)
    except Exception as exc:  # no such run, a deleted run, an unreachable store or artifact location
        raise InputError(f"MLflow run {mlflow_run_id}: cannot log the verdict to {uri}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """The first line of an MLflow error, short; the file store's long opt-out notice said in a few words."""
    text = str(exc)
    if "MLFLOW_ALLOW_FILE_STORE" in text:
        return ("MLflow refuses the filesystem store unless MLFLOW_ALLOW_FILE_STORE=true is set "
                "(or use a database or server URI)")
    schemes = _SCHEMES.search(text)
    if "unsupported URI" in text and schemes:  # the skinny client has no database stores (no SQLAlchemy)
        return (f"this MLflow client opens only {schemes.group(1)} URIs; a database store (sqlite:, "
                "postgresql:, ...) needs the full mlflow package, or serve it and pass its http(s): URI")
    lines = _PASSWORD.sub(r"\1:***@", text).strip().splitlines()  # MLflow's messages quote the URI whole
    if not lines:
        return type(exc).__name__
    reason = lines[0][:300]
    cause = _OS_ERROR.search(text)  # a refused connection is named at the end of a long line: keep it
    return reason if cause is None or cause.group() in reason else f"{reason} ... {cause.group()}"


def _shown(uri: str | None) -> str:
    """A tracking URI fit for a message: a password in it is hidden."""
    return _PASSWORD.sub(r"\1:***@", uri) if uri else "(MLflow's default)"

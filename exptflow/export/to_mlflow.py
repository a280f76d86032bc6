"""``exptflow export mlflow``: one MLflow run per experiment, in an MLflow experiment named
after the sweep, found again by its tags on the next export and updated in place.

A run holds the experiment's params, its final metrics (the results table's), the series
``exptflow.log`` logged (with their steps and times), the git commit and each stage's state as
tags, its status (FINISHED, FAILED, KILLED, RUNNING or SCHEDULED) and its log files and
``artifacts/`` as artifacts. Re-exporting logs only what the run lacks: MLflow keeps every
value logged for a step (the file store appends, a server's store may too), so a point is
logged only when the run's history has no point with its step, time and value.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exptflow.errors import ExptflowError, MissingExtraError
from exptflow.export.experiments import Experiment, Point, Sweep

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Run

INSTALL = "exptflow export mlflow needs MLflow: pip install 'exptflow[mlflow]'"

TAG_ROOT_ID = "exptflow.root_id"  # a hash of the experiments root: what finds its runs
TAG_ROOT = "exptflow.root"
TAG_EXPERIMENT = "exptflow.experiment"  # the experiment directory's name in that root

STATUS = {
    "done": "FINISHED",
    "failed": "FAILED",
    "killed": "KILLED",
    "running": "RUNNING",
    "pending": "SCHEDULED",
}
TERMINAL = {"FINISHED", "FAILED", "KILLED"}
DATABASES = {"sqlite", "postgresql", "mysql", "mssql"}  # MLflow's SQLAlchemy stores


@dataclass
class MlflowExport:
    """What an export did, for the message the CLI prints."""

    tracking_uri: str
    experiment: str
    created: int = 0
    updated: int = 0
    points: int = 0  # metric values logged this time (0 when nothing changed)
    files: int = 0  # artifacts uploaded this time


def _import_mlflow(uri: str | None) -> Any:
    try:
        import mlflow
    except ImportError:
        raise MissingExtraError(INSTALL) from None
    scheme = (uri or mlflow.get_tracking_uri()).partition(":")[0].partition("+")[0]
    if scheme in DATABASES and not all(map(importlib.util.find_spec, ("sqlalchemy", "alembic"))):
        raise MissingExtraError(f"{INSTALL} (a {scheme} store needs sqlalchemy and alembic)")
    return mlflow


def root_id(root: Path) -> str:
    return hashlib.sha256(str(root).encode()).hexdigest()[:32]


def export_mlflow(
    sweep: Sweep, tracking_uri: str | None = None, experiment: str | None = None
) -> MlflowExport:
    """Create or update one run per experiment of ``sweep``; MLflow's own default store
    (``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``) unless ``tracking_uri``."""
    mlflow = _import_mlflow(tracking_uri)
    result = MlflowExport(tracking_uri or mlflow.get_tracking_uri(), experiment or sweep.name)
    try:
        _export(mlflow.MlflowClient(tracking_uri=result.tracking_uri), sweep, result)
    except mlflow.exceptions.MlflowException as error:
        raise ExptflowError(f"MLflow at {result.tracking_uri}: {error.message}") from None
    return result


def _export(client: MlflowClient, sweep: Sweep, result: MlflowExport) -> None:
    experiment_id = _experiment_id(client, result.experiment)
    runs = existing_runs(client, experiment_id, sweep.root)
    for exported in sweep.experiments:
        run = runs.get(exported.name)
        if run is None:
            run = _create_run(client, experiment_id, exported, sweep)
            result.created += 1
        else:
            result.updated += 1
        _update(client, run, exported, result)


def _experiment_id(client: MlflowClient, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return str(client.create_experiment(name))
    if found.lifecycle_stage != "active":
        raise ExptflowError(
            f"MLflow experiment {name!r} is deleted: restore it "
            f"(`mlflow experiments restore --experiment-id {found.experiment_id}`) "
            "or export to another with --experiment NAME"
        )
    return str(found.experiment_id)


def existing_runs(client: MlflowClient, experiment_id: str, root: Path) -> dict[str, Run]:
    """The runs earlier exports made for the experiments of ``root``, by experiment name
    (the oldest, should a run have been copied)."""
    runs: dict[str, Run] = {}
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{TAG_ROOT_ID}` = '{root_id(root)}'",
            max_results=1000,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        for run in page:
            runs.setdefault(run.data.tags.get(TAG_EXPERIMENT, ""), run)
        token = page.token
        if not token:
            return runs


def _create_run(
    client: MlflowClient, experiment_id: str, exported: Experiment, sweep: Sweep
) -> Run:
    identity = {
        TAG_ROOT_ID: root_id(sweep.root),
        TAG_ROOT: str(sweep.root),
        TAG_EXPERIMENT: exported.name,
        "exptflow.sweep": sweep.name,
    }
    start = _ms(exported.start)
    return client.create_run(experiment_id, start_time=start, tags=identity, run_name=exported.name)


def _update(client: MlflowClient, run: Run, exported: Experiment, result: MlflowExport) -> None:
    from mlflow.entities import Param, RunTag

    run_id = run.info.run_id
    params = [
        Param(name, param_value(value))
        for name, value in exported.params.items()
        if name not in run.data.params and _accepts(name, "param", exported)
    ]
    tags = [RunTag(k, v) for k, v in tags_of(exported).items() if run.data.tags.get(k) != v]
    metrics = _new_metrics(client, run, exported)
    if metrics or params or tags:
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    result.points += len(metrics)
    result.files += _upload(client, run_id, exported.log_files, "logs")
    result.files += _upload(client, run_id, _files(exported.paths.artifacts), "artifacts")
    _set_status(client, run, exported)


def param_value(value: Any) -> str:
    """Text as it is, other values as JSON (``true``, ``0.1``), cut to MLflow's limit."""
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

    text = value if isinstance(value, str) else json.dumps(value)
    return text[:MAX_PARAM_VAL_LENGTH]


def tags_of(exported: Experiment) -> dict[str, str]:
    """Git state, each stage's state and duration, and the metrics that are text."""
    from mlflow.utils.validation import MAX_TAG_VAL_LENGTH

    git = exported.git
    tags = {
        "mlflow.source.git.commit": git.get("commit"),
        "exptflow.git.branch": git.get("branch"),
        "exptflow.git.dirty": git.get("dirty"),
    }
    for stage, state in exported.states.items():
        tags[f"exptflow.stage.{stage}.state"] = state
        tags[f"exptflow.stage.{stage}.duration"] = exported.durations.get(stage)
    for name, text in exported.labels.items():
        if _accepts(name, "metric", exported):
            tags[f"exptflow.metric.{name}"] = text
    return {k: str(v)[:MAX_TAG_VAL_LENGTH] for k, v in tags.items() if v is not None}


def _new_metrics(client: MlflowClient, run: Run, exported: Experiment) -> list[Metric]:
    """The points of each series the run lacks, and each final value that changed (a metric
    logged as a series is its series: MLflow's latest value is its last point)."""
    from mlflow.entities import Metric

    fallback = _ms(exported.end or exported.start) or 0
    now = int(time.time() * 1000)  # a changed value is logged later than the one it replaces
    new: list[Metric] = []
    for name, points in exported.series.items():
        if _accepts(name, "metric", exported):
            logged = _history(client, run, name)
            new += [m for m in _as_metrics(name, points, fallback) if _key(m) not in logged]
    for name, value in exported.metrics.items():
        if name in exported.series or not _accepts(name, "metric", exported):
            continue
        if name not in run.data.metrics:
            new.append(Metric(name, value, fallback, 0))
        elif run.data.metrics[name] != value:
            new.append(Metric(name, value, now, 0))
    return new


def _as_metrics(name: str, points: list[Point], fallback: int) -> Iterable[Metric]:
    from mlflow.entities import Metric

    for point in points:
        yield Metric(name, point.value, _ms(point.time) or fallback, point.step)


def _key(metric: Metric) -> tuple[int, int, float]:
    return metric.step, metric.timestamp, metric.value


def _history(client: MlflowClient, run: Run, name: str) -> set[tuple[int, int, float]]:
    if name not in run.data.metrics:  # never logged: no request
        return set()
    return {_key(metric) for metric in client.get_metric_history(run.info.run_id, name)}


def _accepts(name: str, what: str, exported: Experiment) -> bool:
    """Whether MLflow takes ``name`` for a metric, param or tag; a warning when it doesn't."""
    from mlflow.utils.validation import path_not_unique, validate_param_and_metric_name

    if validate_param_and_metric_name(name) and not path_not_unique(name):
        return True
    print(
        f"warning: {exported.name}: MLflow refuses the {what} name {name!r} (letters, digits, "
        "'_', '-', '.', ' ', ':' and '/' only); not exported",
        file=sys.stderr,
    )
    return False


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


def _upload(client: MlflowClient, run_id: str, files: list[Path], artifact_path: str) -> int:
    """Upload the files the run lacks or holds at another size (a log still growing)."""
    if not files:
        return 0
    held = {info.path: info.file_size for info in client.list_artifacts(run_id, artifact_path)}
    changed = [f for f in files if held.get(f"{artifact_path}/{f.name}") != f.stat().st_size]
    for path in changed:
        client.log_artifact(run_id, str(path), artifact_path)
    return len(changed)


def _set_status(client: MlflowClient, run: Run, exported: Experiment) -> None:
    status = STATUS[exported.outcome]
    if status in TERMINAL:
        client.set_terminated(run.info.run_id, status, end_time=_ms(exported.end))
    elif run.info.status != status:
        client.update_run(run.info.run_id, status=status)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)

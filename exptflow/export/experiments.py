"""What an export sends, read through the results API: each experiment's params, final
metrics (the results table's), logged series with their steps, stage states, timings and git
commit. Both exporters take a ``Sweep``; neither reads an experiment's files itself."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from exptflow.layout.jsonfiles import read_json
from exptflow.layout.paths import ExperimentPaths
from exptflow.layout.record import StageRecord, read_record
from exptflow.layout.states import StageState
from exptflow.layout.table import compiled_table
from exptflow.results.load import compiled_workdir, load
from exptflow.results.rows import read_series

# An experiment's outcome from its stages' states, the worst first: one state decides.
OUTCOMES = (
    ("running", {StageState.RUNNING}),
    ("failed", {StageState.FAILED, StageState.TIMED_OUT}),
    ("killed", {StageState.KILLED, StageState.LOST}),
    ("pending", {StageState.PENDING}),
)


@dataclass(frozen=True)
class Point:
    """One logged value of a series."""

    step: int
    time: float | None  # seconds since the epoch, as ``exptflow.log`` stamped it
    value: float


@dataclass(frozen=True)
class Experiment:
    name: str
    paths: ExperimentPaths
    params: dict[str, Any]
    states: dict[str, str]  # stage -> state, as ``exptflow status`` says it
    durations: dict[str, float | None]
    metrics: dict[str, float]  # the results table's final numeric values
    labels: dict[str, str]  # the table's metrics that are no numbers (a parser's text)
    series: dict[str, list[Point]]  # what ``exptflow.log`` logged, metric by metric
    records: dict[str, StageRecord]  # the stages that ran

    @property
    def outcome(self) -> str:
        """``done`` when every stage is, else the worst of running, failed, killed, pending."""
        states = set(self.states.values())
        for outcome, members in OUTCOMES:
            if states & members:
                return outcome
        return "done"

    @property
    def start(self) -> float | None:
        starts = [r.start for r in self.records.values() if r.start is not None]
        return min(starts) if starts else None

    @property
    def end(self) -> float | None:
        ends = [r.end for r in self.records.values() if r.end is not None]
        return max(ends) if ends else None

    @property
    def git(self) -> dict[str, Any]:
        """Commit, branch and dirty of the latest stage run's repository ({} without git)."""
        ran = sorted(self.records.values(), key=lambda r: r.start or 0)
        found = [r.git for r in ran if isinstance(r.git, dict)]
        return found[-1] if found else {}

    @property
    def log_files(self) -> list[Path]:
        return [log for stage in self.states for log in self.paths.logs(stage)]


@dataclass(frozen=True)
class Sweep:
    root: Path  # the experiments root, resolved: with a name, it identifies an experiment
    name: str  # what the exports call the sweep: `<directory>/<sweep file stem>`
    experiments: list[Experiment]

    @property
    def metric_names(self) -> list[str]:
        """Every numeric metric: the table's and the logged series', in first-seen order."""
        names: dict[str, None] = {}
        for experiment in self.experiments:
            names.update(dict.fromkeys([*experiment.metrics, *experiment.series]))
        return list(names)


def read_sweep(output: str | Path, query: str | None = None, all: bool = False) -> Sweep:
    """The experiments of the results table of ``output`` (``query``/``all`` as ``load``'s)."""
    root = Path(output).resolve()
    frame = load(root, query, all=all)
    stages = frame.attrs["stages"]
    columns = (frame.attrs["params"], stages, frame.attrs["metrics"])
    experiments = [_experiment(row, *columns) for row in frame.to_dict("records")]
    return Sweep(root=root, name=sweep_name(root), experiments=experiments)


def sweep_name(root: Path) -> str:
    """`digits/params` for `examples/digits/params.yaml`; `<parent>/<root>` uncompiled."""
    workdir = compiled_workdir(root).resolve()
    table = compiled_table(workdir, root)
    if table and isinstance(table.get("sweep"), str):
        return f"{workdir.name}/{Path(table['sweep']).stem}"
    return f"{root.parent.name}/{root.name}"


def _experiment(
    row: dict[str, Any], params_of: list[str], stages: list[str], metrics: list[str]
) -> Experiment:
    paths = ExperimentPaths(row["directory"])
    params = read_json(paths.params_file)  # exact types (the table's columns may be floats)
    if not isinstance(params, dict):  # a directory mlrunner wrote: the table's then
        params = {name: row[name] for name in params_of if _present(row.get(name))}
    ran = [stage for stage in stages if isinstance(row.get(f"{stage}_state"), str)]
    records = {stage: read_record(paths, stage) for stage in ran}
    values = {name: row[name] for name in metrics if _present(row.get(name))}
    return Experiment(
        name=row["experiment"],
        paths=paths,
        params=params,
        states={stage: row[f"{stage}_state"] for stage in ran},
        durations={stage: _number(row[f"{stage}_duration"]) for stage in ran},
        metrics={k: float(v) for k, v in values.items() if _is_number(v)},
        labels={k: str(v) for k, v in values.items() if not _is_number(v)},
        series=read_points(paths),
        records={stage: record for stage, record in records.items() if record is not None},
    )


def read_points(paths: ExperimentPaths) -> dict[str, list[Point]]:
    """Each logged metric's points; a point without ``step`` is numbered by its position, as
    ``exptflow.series`` numbers it."""
    warnings: list[str] = []
    series: dict[str, list[Point]] = {}
    for point in read_series(paths.series, warnings):
        for name, value in point.items():
            if name in ("step", "time") or not _is_number(value):
                continue
            points = series.setdefault(name, [])
            step = point.get("step")
            step = int(step) if _is_number(step) else len(points)
            points.append(Point(step, _number(point.get("time")), float(value)))
    for warning in warnings:
        print(warning, file=sys.stderr)
    return series


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and math.isfinite(value)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) else None

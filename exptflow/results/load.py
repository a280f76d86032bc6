"""The pandas side: ``exptflow.load`` (one row per experiment), ``exptflow.series`` (one
metric's logged points, read only when asked for) and aggregation over seeds."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from exptflow.errors import UserInputError
from exptflow.layout.paths import ExperimentPaths, SweepPaths
from exptflow.results import collect as collector
from exptflow.results import rows
from exptflow.results.sources import Parser, registered_parsers


def load(
    output_dir: str | Path = "output",
    query: str | None = None,
    group_over: Sequence[str] | None = None,
    workdir: str | Path | None = None,
    warn: bool = True,
    all: bool = False,
    parsers: Sequence[Parser] = (),
) -> pd.DataFrame:
    """One row per experiment: ``experiment``, params, ``<stage>_state``, ``<stage>_duration``,
    metrics and ``directory``.

    ``query`` filters with pandas query syntax (``"lr <= 1e-2 and test_state == 'done'"``;
    backquote names with a dash: ``` `early-stop` ```). ``group_over=["seed"]`` averages the
    metrics over those params: ``<metric>_mean``, ``_std`` and ``_count`` per combination of
    the other params. ``df.attrs`` lists the ``params``, ``stages`` and ``metrics`` columns.

    Only the compiled sweep's experiments, as in ``results.tsv``; ``all=True`` adds the
    directories of experiments no longer in the sweep, with a column ``in_sweep`` (False).

    ``parsers``: functions ``parser(experiment_dir, record) -> dict`` of columns, applied
    after those of ``register_parser`` (``exptflow.examine`` passes mlrunner's as these).
    An output root mlrunner wrote reads too: its ``param`` and ``stat`` files.
    """
    output = Path(output_dir)
    workdir = compiled_workdir(output) if workdir is None else workdir
    sources = collector.sources_from_table(Path(workdir), str(output.resolve()), all)
    collection = collector.collect(sources)
    _apply_parsers(collection, [*registered_parsers(), *parsers])
    if warn:
        for warning in collection.warnings:
            print(warning, file=sys.stderr)
    frame = to_frame(collection)
    if query:
        frame = filter_rows(frame, query)
    if group_over:
        frame = aggregate(frame, group_over)
    return frame


def compiled_workdir(output: Path) -> Path:
    """Where the sweep of ``output`` was compiled: usually the output root's parent."""
    beside = output.resolve().parent
    return beside if SweepPaths(beside).table.exists() else Path(".")


def _apply_parsers(collection: collector.Collection, given: Sequence[Parser]) -> None:
    if not given:
        return
    parsers = [(getattr(p, "__name__", repr(p)), p) for p in given]
    for row in collection.rows:
        paths = ExperimentPaths(row["directory"])
        params = {key: row[key] for key in collection.params if key in row}
        record = {"params": params, "stages": {}}
        found = rows.apply_parsers(parsers, paths, record, collection.warnings)
        row.update(found)
        collector._extend(collection.metrics, found)


def to_frame(collection: collector.Collection) -> pd.DataFrame:
    columns = [*collector.leading_columns(collection), *collection.params]
    columns += [f"{s}_{w}" for s in collection.stages for w in ("state", "duration")]
    columns += [*collection.metrics, "directory"]
    frame = pd.DataFrame(collection.rows, columns=columns)
    frame.attrs.update(
        params=list(collection.params),
        stages=list(collection.stages),
        metrics=list(collection.metrics),
    )
    return frame


def filter_rows(frame: pd.DataFrame, query: str) -> pd.DataFrame:
    try:
        result = frame.query(query)
    except Exception as error:  # pandas raises many kinds for a bad expression
        raise UserInputError(f"query {query!r}: {error}; use pandas query syntax") from None
    result.attrs.update(frame.attrs)
    return result


def aggregate(frame: pd.DataFrame, group_over: Sequence[str]) -> pd.DataFrame:
    """Mean, standard deviation and count of every metric over the ``group_over`` params."""
    params = frame.attrs.get("params", [])
    unknown = [name for name in group_over if name not in params]
    if unknown:
        raise UserInputError(
            f"--group-over {', '.join(unknown)}: not a param; params: {', '.join(params)}"
        )
    keys = [p for p in params if p not in group_over and frame[p].astype(str).nunique() > 1]
    metrics = [m for m in frame.attrs.get("metrics", []) if pd.api.types.is_numeric_dtype(frame[m])]
    if not metrics:
        raise UserInputError("--group-over: the results have no numeric metric to aggregate")
    if not keys:
        frame = frame.assign(_all="all")
        keys = ["_all"]
    grouped = frame.groupby(keys, sort=False, dropna=False)[metrics].agg(["mean", "std", "count"])
    grouped.columns = [f"{metric}_{stat}" for metric, stat in grouped.columns]
    result = grouped.reset_index().drop(columns=["_all"], errors="ignore")
    result.attrs.update(
        params=[k for k in keys if k != "_all"], stages=[], metrics=list(grouped.columns)
    )
    return result


def series(output_dir: str | Path, experiment: str, metric: str) -> pd.DataFrame:
    """The logged points of one metric of one experiment: columns ``step`` and ``metric``."""
    path = ExperimentPaths.of(output_dir, experiment).series
    warnings: list[str] = []
    points = [p for p in rows.read_series(path, warnings) if metric in p]
    for warning in warnings:
        print(warning, file=sys.stderr)
    steps = [p.get("step", index) for index, p in enumerate(points)]
    return pd.DataFrame({"step": steps, metric: [p[metric] for p in points]})

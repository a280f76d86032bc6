"""PNG plots of a sweep: a metric against a param (a line per hue value, error bars over the
repeats, e.g. seeds), and the logged curves of each experiment. Needs matplotlib
(``pip install 'exptflow[plot]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from exptflow.errors import UserInputError
from exptflow.layout.jsonfiles import read_json, write_json
from exptflow.layout.paths import OutputPaths
from exptflow.results.load import series

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure() -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UserInputError("plots need matplotlib: pip install 'exptflow[plot]'") from None
    return Figure(figsize=(6.4, 4.2), layout="constrained")


def _require(frame: pd.DataFrame, columns: list[str | None]) -> None:
    for column in columns:
        if column is not None and column not in frame.columns:
            valid = ", ".join(map(str, frame.columns))
            raise UserInputError(f"no column {column!r} in the results; columns: {valid}")


def metric_against_param(
    frame: pd.DataFrame, metric: str, x: str, hue: str | None = None
) -> Figure:
    """Mean of ``metric`` for each value of ``x``; one line per ``hue`` value; std as bars."""
    _require(frame, [metric, x, hue])
    data = frame.dropna(subset=[metric])
    figure = _figure()
    axes = figure.subplots()
    groups = data.groupby(hue, sort=True) if hue else [(None, data)]
    for value, group in groups:
        stats = group.groupby(x, sort=True)[metric].agg(["mean", "std"]).fillna({"std": 0.0})
        label = f"{hue}={value[0] if isinstance(value, tuple) else value}" if hue else metric
        axes.errorbar(
            stats.index, stats["mean"], yerr=stats["std"], marker="o", capsize=3, label=label
        )
    axes.set_xlabel(x)
    axes.set_ylabel(metric)
    if (
        pd.api.types.is_numeric_dtype(data[x])
        and (data[x] > 0).all()
        and data[x].max() / data[x].min() >= 100
    ):
        axes.set_xscale("log")
    axes.legend()
    axes.grid(alpha=0.3)
    return figure


def curves(frame: pd.DataFrame, output_dir: str | Path, metric: str) -> Figure:
    """The logged series of ``metric``, one line per experiment."""
    figure = _figure()
    axes = figure.subplots()
    for name in frame["experiment"]:
        points = series(output_dir, name, metric)
        if len(points):
            axes.plot(points["step"], points[metric], label=name)
    if not axes.lines:
        raise UserInputError(f"no experiment logged {metric!r} (exptflow.log({metric}=...))")
    axes.set_xlabel("step")
    axes.set_ylabel(metric)
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return figure


def save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=120)
    return path


def draw(frame: pd.DataFrame, output_dir: str | Path, spec: dict[str, Any]) -> Figure:
    """The plot a spec describes: ``{"curves": METRIC}``, or ``{"metric", "x", "hue"}``."""
    if spec.get("curves"):
        return curves(frame, output_dir, spec["curves"])
    if spec.get("metric") and spec.get("x"):
        return metric_against_param(frame, spec["metric"], spec["x"], spec.get("hue"))
    raise UserInputError("exptflow plot: give METRIC --x PARAM, or --curves METRIC")


def record(output_dir: str | Path, name: str, spec: dict[str, Any]) -> None:
    """Remember a plot for ``exptflow report``, which draws it again from the latest results."""
    specs = OutputPaths(output_dir).plot_specs
    if Path(output_dir).is_dir():
        write_json(specs / f"{name}.json", spec)


def recorded(output_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The plots ``exptflow plot`` drew for these experiments, by name."""
    specs = OutputPaths(output_dir).plot_specs
    found = {path.stem: read_json(path) for path in sorted(specs.glob("*.json"))}
    return {name: spec for name, spec in found.items() if isinstance(spec, dict)}

"""The pages ``snakemake --report`` shows for a sweep (``exptflow report``): the results table,
each stage's real command, state and runtime per experiment, and the plots ``exptflow plot``
drew, redrawn from the latest results. Plain HTML and PNG files in the output root's
``.exptflow/report/``; the generated ``rule report_pages`` marks them as report items."""

from __future__ import annotations

import html
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from exptflow.errors import UserInputError
from exptflow.layout.jsonfiles import write_atomic
from exptflow.layout.paths import ExperimentPaths, OutputPaths, shared_directory
from exptflow.layout.record import read_record
from exptflow.results import plot
from exptflow.results.collect import Collection, collect, results_path, table_columns, write_table
from exptflow.results.sources import Sources

STYLE = (
    "body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
    "th{background:#eee}code{white-space:pre-wrap}"
)
STAGE_COLUMNS = ("experiment", "stage", "state", "runtime", "command", "host", "started", "log")


def write_pages(sources: Sources) -> list[str]:
    """The results table (refreshed first, as the collector writes it), the stages page and
    the plots; what it did, one line each."""
    collection = collect(sources)
    write_table(collection, results_path(sources))
    outputs = OutputPaths(sources.output)
    pages = _fresh(outputs.report_pages)
    write_atomic(pages / "results.html", results_page(collection))
    write_atomic(pages / "stages.html", stages_page(collection, sources))
    said = [f"exptflow: {pages}: results.html, stages.html ({len(collection.rows)} experiments)"]
    return said + draw_recorded_plots(sources.output, _fresh(outputs.report_plots))


def _fresh(directory: Path) -> Path:
    """An empty directory: pages of an earlier report never outlive the sweep they showed."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def results_page(collection: Collection) -> str:
    columns = table_columns(collection)
    rows = [[_text(row.get(column)) for column in columns] for row in collection.rows]
    return _page("Results", columns, rows)


def stages_page(collection: Collection, sources: Sources) -> str:
    rows = []
    for row in collection.rows:
        paths = ExperimentPaths.of(sources.output, row["experiment"])
        planned = sources.experiments.get(paths.name, {}).get("commands", {})
        rows += [_stage_row(paths, stage, planned.get(stage)) for stage in collection.stages]
    for stage, jobs in sources.shared.items():  # each job of a shared stage once
        for name, job in jobs.items():
            directory = shared_directory(stage, name)
            paths = ExperimentPaths.of(sources.output, directory)
            rows.append(_stage_row(paths, stage, job.get("command"), directory))
    return _page("Stages", STAGE_COLUMNS, [row for row in rows if row])


def _stage_row(
    paths: ExperimentPaths, stage: str, planned: str | None, label: str | None = None
) -> list[str]:
    """What the stage ran; a stage that never started, with the command it will run.
    ``label``: what the row calls the directory (its name, for an experiment)."""
    record = read_record(paths, stage)
    label = label or paths.name
    if record is None:
        return [label, stage, "pending", "", planned, "", "", ""] if planned else []
    started = "" if record.start is None else time.strftime("%F %T", time.localtime(record.start))
    runtime = "" if record.duration is None else f"{record.duration:.2f} s"
    values = [label, stage, record.state.value, runtime, record.command, record.host]
    return [_text(value) for value in [*values, started, record.log]]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _page(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>\n"
        for row in rows
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body>\n<table><tr>{head}</tr>\n{body}</table>\n"
        "</body></html>\n"
    )


def draw_recorded_plots(output: Path, directory: Path) -> list[str]:
    """Each plot ``exptflow plot`` recorded, drawn again from the current results."""
    specs = plot.recorded(output)
    if not specs:
        return []
    from exptflow.results.load import load

    said = []
    for name, spec in specs.items():
        try:
            figure = plot.draw(load(output, spec.get("query"), warn=False), output, spec)
        except UserInputError as error:  # matplotlib missing, a metric no longer there
            said.append(f"exptflow: plot {name} left out: {error}")
            continue
        plot.save(figure, directory / f"{name}.png")
        said.append(f"exptflow: {directory / name}.png")
    return said

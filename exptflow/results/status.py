"""``exptflow status``: each experiment's stages, from the files alone.

Needs no Snakemake and no lock, so it works while a run is going and on another machine.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from exptflow.layout.mlrunner import MlrunnerPaths
from exptflow.layout.paths import ExperimentPaths
from exptflow.layout.states import DISPLAY_ORDER, StageState
from exptflow.layout.table import Members, compiled_table, members
from exptflow.results.mlrunner import MlrunnerLayout
from exptflow.runtime.liveness import DONE, StageStatus, stage_status


def _expected(workdir: Path, output: Path) -> dict[str, dict[str, str]] | None:
    """Experiment → {stage: command}, from the compiled table when it describes this output."""
    table = compiled_table(workdir, output)
    if table is None:
        return None
    return {
        name: {stage: entry["commands"].get(stage) for stage in entry["stages"]}
        for name, entry in table["experiments"].items()
    }


def mark_outdated(statuses: list[StageStatus], commands: dict[str, str]) -> list[StageStatus]:
    """Done stages that compile would run again: another command, or after a stage that reruns."""
    marked = []
    reruns = False
    for status in statuses:
        if status.state == DONE and (
            reruns or status.record is None or status.record.command != commands.get(status.stage)
        ):
            status = replace(status, state=StageState.OUTDATED)
        reruns = reruns or status.state != DONE
        marked.append(status)
    return marked


def sweep_status(
    output: Path, workdir: Path = Path("."), include_stale: bool = False
) -> dict[str, list[StageStatus]]:
    """The compiled sweep's experiments (``include_stale``: and those it no longer lists)."""
    return _sweep_status(output, workdir, include_stale)[0]


def status_report(output: Path, workdir: Path = Path("."), include_stale: bool = False) -> str:
    """``exptflow status``: experiments no longer in the sweep are marked, or counted if hidden."""
    statuses, sweep = _sweep_status(output, workdir, include_stale)
    return format_status(statuses, sweep.not_in_sweep)


def _sweep_status(
    output: Path, workdir: Path, include_stale: bool
) -> tuple[dict[str, list[StageStatus]], Members]:
    expected = _expected(workdir, output)
    sweep = members(output, expected)
    stages_of = expected or {}
    now = time.time()
    statuses = {}
    mlrunner = MlrunnerLayout(output)
    for name in sweep.shown(include_stale):
        paths = ExperimentPaths.of(output, name)
        commands = stages_of.get(name)
        if commands is None and MlrunnerPaths(paths.root).is_experiment():
            statuses[name] = mlrunner.statuses(paths)  # a directory mlrunner ran
            continue
        stages = list(commands) if commands else paths.recorded_stages()
        found = [stage_status(paths, stage, now) for stage in stages]
        statuses[name] = mark_outdated(found, commands) if commands else found
    return statuses, sweep


def _cell(status: StageStatus) -> str:
    if status.duration is None:
        return f"{status.stage} {status.state}"
    return f"{status.stage} {status.state} {format_duration(status.duration)}"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def format_status(
    statuses: dict[str, list[StageStatus]], not_in_sweep: Collection[str] = ()
) -> str:
    """One line per experiment, then totals; ``not_in_sweep`` are marked when shown and
    counted in a last line when not."""
    if not statuses:
        return _with_hidden("no experiments yet", statuses, not_in_sweep)
    rows = [[name, *map(_cell, stages)] for name, stages in statuses.items()]
    marked = set(not_in_sweep)
    rows = [[*row, NOT_IN_SWEEP] if row[0] in marked else row for row in rows]
    widths = [max(len(row[i]) for row in rows if len(row) > i) for i in range(max(map(len, rows)))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    counts = Counter(s.state for stages in statuses.values() for s in stages)
    total = ", ".join(f"{counts[state]} {state}" for state in DISPLAY_ORDER if counts[state])
    lines.append(f"{len(statuses)} experiments, {sum(counts.values())} stages: {total}")
    return _with_hidden("\n".join(lines), statuses, not_in_sweep)


NOT_IN_SWEEP = "(not in the sweep)"


def _with_hidden(text: str, shown: Collection[str], not_in_sweep: Collection[str]) -> str:
    hidden = [name for name in not_in_sweep if name not in shown]
    if not hidden:
        return text
    return (
        f"{text}\n{len(hidden)} experiment(s) not in the sweep hidden: "
        "`exptflow status --all` shows them, `exptflow clean` archives them"
    )

"""``exptflow status``: each experiment's stages, from the files alone.

Needs no Snakemake and no lock, so it works while a run is going and on another machine.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from exptflow.layout.mlrunner import MlrunnerPaths
from exptflow.layout.paths import ExperimentPaths, shared_directory
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
    statuses, sweep, shared = _sweep_status(output, workdir, include_stale)
    return format_status(statuses, sweep.not_in_sweep, shared)


def _sweep_status(
    output: Path, workdir: Path, include_stale: bool
) -> tuple[dict[str, list[StageStatus]], Members, dict[str, StageStatus]]:
    table = compiled_table(workdir, output)
    expected = _expected(workdir, output)
    sweep = members(output, expected)
    stages_of = expected or {}
    now = time.time()
    sharing = SharedStates(output, table, now) if table and table.get("shared") else None
    statuses = {}
    mlrunner = MlrunnerLayout(output)
    for name in sweep.shown(include_stale):
        paths = ExperimentPaths.of(output, name)
        commands = stages_of.get(name)
        if commands is None and MlrunnerPaths(paths.root).is_experiment():
            statuses[name] = mlrunner.statuses(paths)  # a directory mlrunner ran
            continue
        if sharing is not None and commands is not None:
            statuses[name] = sharing.of_experiment(name)
            continue
        stages = list(commands) if commands else paths.recorded_stages()
        found = [stage_status(paths, stage, now) for stage in stages]
        statuses[name] = mark_outdated(found, commands) if commands else found
    return statuses, sweep, sharing.shared_jobs() if sharing else {}


class SharedStates:
    """States in a sweep with shared stages: a job (an experiment's own, or a shared stage's)
    is outdated when its command changed or a job it waits for reruns, in whichever
    experiment or shared directory that job is."""

    def __init__(self, output: Path, table: dict[str, Any], now: float) -> None:
        self.output, self.now = output, now
        self.experiments: dict[str, Any] = table["experiments"]
        self.shared: dict[str, Any] = table.get("shared", {})
        self.found: dict[tuple[str, str], StageStatus] = {}  # (stage, directory) -> status

    def of_experiment(self, name: str) -> list[StageStatus]:
        return [self._status(stage, name) for stage in self.experiments[name]["stages"]]

    def shared_jobs(self) -> dict[str, StageStatus]:
        """The shared jobs the experiments shown use, by directory (under the output root),
        stage by stage."""
        order = {stage: index for index, stage in enumerate(self.shared)}
        jobs = [(key, status) for key, status in self.found.items() if key[0] in order]
        jobs.sort(key=lambda job: order[job[0][0]])
        return {directory: status for (_, directory), status in jobs}

    def _status(self, stage: str, name: str) -> StageStatus:
        job = self.experiments[name].get("shared", {}).get(stage)
        directory = shared_directory(stage, job) if job is not None else name
        if (stage, directory) in self.found:
            return self.found[stage, directory]
        entry = self.shared.get(stage, {}).get(job, {}) if job is not None else {}
        served = entry.get("experiments", []) if job is not None else [name]
        command = entry.get("command") if job is not None else self._command(stage, name)
        reruns = any(self._status(*before).state != DONE for before in self._before(stage, served))
        status = stage_status(ExperimentPaths.of(self.output, directory), stage, self.now)
        if status.state == DONE and (
            reruns or status.record is None or status.record.command != command
        ):
            status = replace(status, state=StageState.OUTDATED)
        self.found[stage, directory] = status
        return status

    def _command(self, stage: str, name: str) -> str | None:
        command: str | None = self.experiments[name]["commands"].get(stage)
        return command

    def _before(self, stage: str, served: list[str]) -> list[tuple[str, str]]:
        """(stage, experiment) of the job before ``stage`` in each experiment it serves."""
        found = []
        for name in served:
            stages = self.experiments.get(name, {}).get("stages", [])
            position = stages.index(stage) if stage in stages else 0
            if position > 0:
                found.append((stages[position - 1], name))
        return found


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
    statuses: dict[str, list[StageStatus]],
    not_in_sweep: Collection[str] = (),
    shared: Mapping[str, StageStatus] | None = None,
) -> str:
    """One line per experiment, then one per shared job (``shared``: by directory), then
    totals that count each shared job once; ``not_in_sweep`` are marked when shown and
    counted in a last line when not."""
    if not statuses:
        return _with_hidden("no experiments yet", statuses, not_in_sweep)
    shared = shared or {}
    rows = [[name, *map(_cell, stages)] for name, stages in statuses.items()]
    marked = set(not_in_sweep)
    rows = [[*row, NOT_IN_SWEEP] if row[0] in marked else row for row in rows]
    rows += [[directory, _cell(status)] for directory, status in shared.items()]
    widths = [max(len(row[i]) for row in rows if len(row) > i) for i in range(max(map(len, rows)))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    shared_stages = {status.stage for status in shared.values()}
    counts = Counter(
        s.state for stages in statuses.values() for s in stages if s.stage not in shared_stages
    )
    counts.update(status.state for status in shared.values())
    total = ", ".join(f"{counts[state]} {state}" for state in DISPLAY_ORDER if counts[state])
    jobs = f", {len(shared)} shared jobs" if shared else ""
    lines.append(f"{len(statuses)} experiments{jobs}, {sum(counts.values())} stages: {total}")
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

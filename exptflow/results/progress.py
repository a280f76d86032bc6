"""What a live run has done so far, from the stage records alone (so a SLURM run too).

A stage counts for the run that ``exptflow run`` started (its ``EXPTFLOW_RUN_ID``, which every
record names): running or ended in this run is what it says; a record of an earlier run counts
as done only while compile would not run the stage again (same command, nothing before it
reruns), and as pending otherwise. Stages behind one that failed in this run are skipped.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from exptflow.layout.paths import ExperimentPaths, shared_directory
from exptflow.layout.record import StageRecord, read_record
from exptflow.layout.states import StageState

if TYPE_CHECKING:
    from exptflow.compiler.plan import Plan
    from exptflow.compiler.subset import Targets


class Progress(str, Enum):
    """A stage's place in the run, as the progress display counts it."""

    DONE = "done"
    RUNNING = "running"
    FAILED = "failed"
    PENDING = "pending"
    SKIPPED = "skipped"  # an earlier stage of its experiment failed in this run
    CANCELLED = "cancelled"  # `exptflow cancel` stopped it, or kept it from starting

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Scope:
    """What the run is to run: each experiment's stages and their commands, in order."""

    output: Path
    commands: Mapping[str, Mapping[str, str]]  # experiment -> stage -> command

    @property
    def stages(self) -> list[str]:
        """Every stage name, in the order experiments list them."""
        return list(dict.fromkeys(s for stages in self.commands.values() for s in stages))


@dataclass(frozen=True)
class Ended:
    """A stage that ended in this run: what the display reports as it happens."""

    experiment: str
    record: StageRecord

    @property
    def failed(self) -> bool:
        return self.record.state not in (StageState.DONE, StageState.CANCELLED)


@dataclass
class RunWatch:
    """Re-reads only the records that changed since the last ``poll`` (a stat each)."""

    scope: Scope
    run_id: str
    _seen: dict[str, tuple[int, int]] = field(default_factory=dict)
    _records: dict[tuple[str, str], StageRecord | None] = field(default_factory=dict)

    def poll(self) -> Iterator[Ended]:
        """Stages that ended in this run since the last poll, each as its record is read."""
        for experiment, stage, path in self._files():
            if not self._changed(path):
                continue
            record = read_record(ExperimentPaths.of(self.scope.output, experiment), stage)
            self._records[experiment, stage] = record
            if record and record.run_id == self.run_id and record.state != StageState.RUNNING:
                yield Ended(experiment, record)

    def _files(self) -> Iterator[tuple[str, str, str]]:
        for experiment, commands in self.scope.commands.items():
            paths = ExperimentPaths.of(self.scope.output, experiment)
            for stage in commands:
                yield experiment, stage, paths.record_file(stage)

    def _changed(self, path: str) -> bool:
        try:
            status = os.stat(path)
        except FileNotFoundError:
            return self._seen.pop(path, None) is not None
        signature = (status.st_mtime_ns, status.st_size)
        if self._seen.get(path) == signature:
            return False
        self._seen[path] = signature
        return True

    def states(self) -> dict[str, list[tuple[str, Progress, StageRecord | None]]]:
        """Experiment -> (stage, progress, record) in stage order, as of the last poll."""
        return {
            experiment: list(self._experiment_states(experiment, commands))
            for experiment, commands in self.scope.commands.items()
        }

    def _experiment_states(
        self, experiment: str, commands: Mapping[str, str]
    ) -> Iterator[tuple[str, Progress, StageRecord | None]]:
        reruns = failed = False
        for stage, command in commands.items():
            record = self._records.get((experiment, stage))
            progress = progress_of(record, self.run_id, command, reruns)
            if failed and progress == Progress.PENDING:
                progress = Progress.SKIPPED
            failed = failed or progress in (Progress.FAILED, Progress.SKIPPED, Progress.CANCELLED)
            reruns = reruns or progress != Progress.DONE
            yield stage, progress, record

    def tally(self) -> dict[str, Counter[Progress]]:
        """Stage -> how many of its jobs are in each progress state."""
        counts: dict[str, Counter[Progress]] = {stage: Counter() for stage in self.scope.stages}
        for stages in self.states().values():
            for stage, progress, _ in stages:
                counts[stage][progress] += 1
        return counts


ENDED_AS = {
    StageState.RUNNING: Progress.RUNNING,
    StageState.DONE: Progress.DONE,
    StageState.CANCELLED: Progress.CANCELLED,
}


def progress_of(
    record: StageRecord | None, run_id: str, command: str, after_rerun: bool
) -> Progress:
    if record is None:
        return Progress.PENDING
    if record.run_id == run_id:
        return ENDED_AS.get(record.state, Progress.FAILED)
    current = record.state == StageState.DONE and record.command == command
    return Progress.DONE if current and not after_rerun else Progress.PENDING


class Estimate(NamedTuple):
    """Seconds left, from the stages measured so far; ``unmeasured``: stages with work left
    that no run has finished yet (so the run takes at least ``seconds``)."""

    seconds: float | None
    unmeasured: tuple[str, ...]


def eta(
    states: Mapping[str, Sequence[tuple[str, Progress, StageRecord | None]]], now: float
) -> Estimate:
    """The work left (pending stages at their stage's mean duration, running ones for what
    their mean has left), shared by the stages running now."""
    durations = _durations(states)
    left, running, measured = 0.0, 0, False
    unmeasured: dict[str, None] = {}
    for stages in states.values():
        for stage, progress, record in stages:
            if progress not in (Progress.PENDING, Progress.RUNNING):
                continue
            running += progress == Progress.RUNNING
            if stage not in durations:
                unmeasured[stage] = None
                continue
            mean = durations[stage]
            if progress == Progress.RUNNING and record is not None:
                mean = max(mean - (now - float(record.start or now)), 0.0)
            left, measured = left + mean, True
    seconds = left / max(running, 1) if measured or not unmeasured else None
    return Estimate(seconds, tuple(unmeasured))


def _durations(
    states: Mapping[str, Sequence[tuple[str, Progress, StageRecord | None]]],
) -> dict[str, float]:
    """Each stage's mean duration over its finished runs (this run's and earlier ones)."""
    found: dict[str, list[float]] = {}
    for stages in states.values():
        for stage, _, record in stages:
            if record is not None and record.state == StageState.DONE and record.duration:
                found.setdefault(stage, []).append(float(record.duration))
    return {stage: sum(values) / len(values) for stage, values in found.items()}


def scope_of(plan_: Plan, targets: Targets | None) -> Scope:
    """What the progress display counts: the whole sweep, or the stages a selection targets
    (from each experiment's first targeted stage to its last)."""
    commands = _commands(plan_)
    if targets is None:
        return Scope(Path(plan_.output), commands)
    chosen: dict[str, set[str]] = {}
    for file in (*targets.run, *targets.forced):
        owner = ExperimentPaths.of_done(Path(file))
        if owner:
            chosen.setdefault(owner[0].name, set()).add(owner[1])
    return Scope(Path(plan_.output), {n: _between(commands[n], s) for n, s in chosen.items()})


def _commands(plan_: Plan) -> dict[str, dict[str, str]]:
    """Each experiment's own stages, and each job of a shared stage once, by its directory:
    those of shared stages before the experiments' own first (prep), the others after."""
    stages = plan_.sweep.stages
    first_own = next((i for i, stage in enumerate(stages) if not stage.shared), len(stages))
    before = {stage.name for stage in stages[:first_own]}
    shared = {
        shared_directory(s.job.stage, s.name): {s.job.stage: s.job.command} for s in plan_.shared
    }
    own = {p.directory_name: p.commands for p in plan_.experiments}
    first = {name: job for name, job in shared.items() if next(iter(job)) in before}
    last = {name: job for name, job in shared.items() if name not in first}
    return {**first, **own, **last}


def _between(commands: dict[str, str], targeted: set[str]) -> dict[str, str]:
    stages = list(commands)
    positions = [stages.index(stage) for stage in targeted]
    return {s: commands[s] for s in stages[min(positions) : max(positions) + 1]}

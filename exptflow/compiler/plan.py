"""What a compiled sweep will run: every (experiment, stage) job and whether it is new,
already done, or outdated (done with another command, or after a stage that reruns)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from exptflow.layout.paths import ExperimentPaths, existing_directories
from exptflow.layout.record import read_record
from exptflow.layout.states import StageState
from exptflow.sweep import render
from exptflow.sweep.expand import Experiment
from exptflow.sweep.spec import Sweep

# A job compile plans is pending (never ran: `new` in compile's counts), done or outdated.
NEW, DONE, OUTDATED = StageState.PENDING, StageState.DONE, StageState.OUTDATED


class Job(NamedTuple):  # a tuple: built 3 times per experiment, 300,000 times for big sweeps
    stage: str
    directory: str  # relative to the compile directory, as the commands use it
    command: str
    state: StageState


class PlannedExperiment(NamedTuple):
    experiment: Experiment
    directory_name: str
    jobs: tuple[Job, ...]

    @property
    def commands(self) -> dict[str, str]:
        return {job.stage: job.command for job in self.jobs}


@dataclass(frozen=True)
class Tuning:
    """What the Snakefile of ``exptflow tune`` needs to run the trials of a search."""

    study: str  # the trials' folder, relative to the compile directory
    trials: int
    parallel: int


@dataclass(frozen=True)
class Plan:
    sweep: Sweep
    output: str
    experiments: tuple[PlannedExperiment, ...]
    orphans: tuple[str, ...]
    overrides: tuple[str, ...] = ()  # `-S`, as given: recorded in the table and each run
    tune: Tuning | None = None  # a search's trials instead of the grids' experiments

    @property
    def study(self) -> str | None:
        return self.tune.study if self.tune else None

    def jobs(self) -> list[Job]:
        return [job for planned in self.experiments for job in planned.jobs]

    def counts(self) -> Counter[StageState]:
        return Counter(job.state for job in self.jobs())

    def to_run(self) -> list[Job]:
        return [job for job in self.jobs() if job.state != DONE]


def _state(paths: ExperimentPaths, stage: str, command: str, upstream_reruns: bool) -> StageState:
    if not paths.done(stage).exists():
        return NEW
    record = read_record(paths, stage)
    if upstream_reruns or record is None or record.command != command:
        return OUTDATED
    return DONE


def plan_experiment(
    renderers: dict[str, render.Renderer],
    output: str,
    experiment: Experiment,
    directory_name: str,
    existing: Path | None,
) -> PlannedExperiment:
    """``existing``: the experiment's directory as this process reaches it, if it exists."""
    directory = f"{output}/{directory_name}"
    reserved = render.reserved_values(directory, directory_name)
    params = experiment.params
    if existing is None:  # the common case, kept lean: big sweeps plan 100,000s of these
        jobs = tuple(
            [
                Job(stage, directory, renderers[stage](params, reserved), NEW)
                for stage in experiment.stages
            ]
        )
        return PlannedExperiment(experiment, directory_name, jobs)
    paths = ExperimentPaths(existing)  # the commands' `directory` is relative to the workdir
    planned = []
    reruns = False
    for stage in experiment.stages:
        command = renderers[stage](params, reserved)
        state = _state(paths, stage, command, reruns)
        reruns = reruns or state != DONE
        planned.append(Job(stage, directory, command, state))
    return PlannedExperiment(experiment, directory_name, tuple(planned))


def make_plan(
    sweep: Sweep,
    output: str,
    experiments: list[Experiment],
    directories: dict[str, str],
    workdir: Path,
    orphans: list[str],
) -> Plan:
    root = workdir / output
    existing = existing_directories(root)

    def reached(name: str) -> Path | None:
        return root / name if name in existing else None

    renderers = {stage.name: render.Renderer(stage.tokens) for stage in sweep.stages}
    planned = tuple(
        plan_experiment(renderers, output, e, directories[e.name], reached(directories[e.name]))
        for e in experiments
    )
    return Plan(sweep, output, planned, tuple(orphans))

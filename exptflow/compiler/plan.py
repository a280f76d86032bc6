"""What a compiled sweep will run: every (experiment, stage) job and whether it is new,
already done, or outdated (done with another command, or after a stage that reruns)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from exptflow.layout.paths import SHARED, ExperimentPaths, existing_directories, shared_directory
from exptflow.layout.record import read_record
from exptflow.layout.states import StageState
from exptflow.sweep import render
from exptflow.sweep.expand import Experiment
from exptflow.sweep.render import Scalar
from exptflow.sweep.shared import SharedJob
from exptflow.sweep.spec import Stage, Sweep

# A job compile plans is pending (never ran: `new` in compile's counts), done or outdated.
NEW, DONE, OUTDATED = StageState.PENDING, StageState.DONE, StageState.OUTDATED


class Job(NamedTuple):  # a tuple: built 3 times per experiment, 300,000 times for big sweeps
    stage: str
    directory: str  # relative to the compile directory, as the commands use it
    command: str
    state: StageState


NO_SHARED: Mapping[str, str] = {}


class PlannedExperiment(NamedTuple):
    experiment: Experiment
    directory_name: str
    jobs: tuple[Job, ...]  # its own stages' jobs
    shared: Mapping[str, str] = NO_SHARED  # shared stage -> the name of the job it uses

    @property
    def commands(self) -> dict[str, str]:
        return {job.stage: job.command for job in self.jobs}


class PlannedShared(NamedTuple):
    """One job of a shared stage: the experiments it serves, the done files it waits for."""

    job: Job
    name: str  # its directory: <output>/_shared/<stage>/<name>
    params: Mapping[str, Scalar]  # its key's values
    members: tuple[str, ...]  # the experiment directories it serves
    after: tuple[str, ...]  # done files, relative to the compile directory


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
    shared: tuple[PlannedShared, ...] = ()  # the jobs of shared stages, each once

    @property
    def study(self) -> str | None:
        return self.tune.study if self.tune else None

    def jobs(self) -> list[Job]:
        """Every job once; with shared stages, stage by stage (prep before train)."""
        own = [job for planned in self.experiments for job in planned.jobs]
        if not self.shared:
            return own
        order = {name: index for index, name in enumerate(self.sweep.stage_names)}
        return sorted(own + [shared.job for shared in self.shared], key=lambda j: order[j.stage])

    def directories(self) -> list[str]:
        """Where its jobs run, relative to the output root: experiments, then shared jobs."""
        shared = [shared_directory(s.job.stage, s.name) for s in self.shared]
        return [planned.directory_name for planned in self.experiments] + shared

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
    shared: Mapping[str, list[SharedJob]] | None = None,
) -> Plan:
    if shared:
        planner = SharedPlanner(sweep, output, experiments, directories, workdir, shared)
        planned, shared_jobs = planner.plan()
        return Plan(sweep, output, planned, tuple(orphans), shared=shared_jobs)
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


class SharedPlanner:
    """The plan of a sweep with shared stages: stage by stage in template order, since a job's
    state depends on the jobs before it, of its own experiment or of a shared stage."""

    def __init__(
        self,
        sweep: Sweep,
        output: str,
        experiments: list[Experiment],
        directories: dict[str, str],
        workdir: Path,
        shared: Mapping[str, list[SharedJob]],
    ) -> None:
        self.sweep, self.output, self.workdir = sweep, output, workdir
        self.experiments = experiments
        self.by_name = {experiment.name: experiment for experiment in experiments}
        self.directories = directories
        self.shared = shared
        self.job_of = {
            (job.stage, member): job
            for jobs in shared.values()
            for job in jobs
            for member in job.members
        }
        self.states: dict[tuple[str, str], StageState] = {}  # (stage, directory) -> state
        # What the output root holds: a job whose directory is not there is new (no stat).
        root = workdir / output
        self.existing = {f"{output}/{name}" for name in existing_directories(root)}
        for stage in shared:
            found = existing_directories(root / SHARED / stage)
            self.existing |= {f"{output}/{shared_directory(stage, name)}" for name in found}
        self.references = {s.name: render.referenced_stages(s.tokens) for s in sweep.stages}

    def plan(self) -> tuple[tuple[PlannedExperiment, ...], tuple[PlannedShared, ...]]:
        own: dict[str, list[Job]] = {experiment.name: [] for experiment in self.experiments}
        shared: list[PlannedShared] = []
        for stage in self.sweep.stages:
            renderer = render.Renderer(stage.tokens)
            if stage.shared is not None:
                shared += [
                    self._shared_job(stage, renderer, job) for job in self.shared[stage.name]
                ]
                continue
            for experiment in self.experiments:
                if stage.name in experiment.stages:
                    own[experiment.name].append(self._own_job(stage, renderer, experiment))
        planned = tuple(
            PlannedExperiment(e, self.directories[e.name], tuple(own[e.name]), self._uses(e))
            for e in self.experiments
        )
        return planned, tuple(shared)

    def _uses(self, experiment: Experiment) -> dict[str, str]:
        return {
            stage: self.job_of[stage, experiment.name].name
            for stage in experiment.stages
            if (stage, experiment.name) in self.job_of
        }

    def directory(self, stage: str, experiment: Experiment) -> str:
        """Where ``stage`` of ``experiment`` runs: its own directory, or a shared job's."""
        job = self.job_of.get((stage, experiment.name))
        name = shared_directory(stage, job.name) if job else self.directories[experiment.name]
        return f"{self.output}/{name}"

    def _before(self, stage: str, experiment: Experiment) -> tuple[str, str] | None:
        """The job the experiment runs just before ``stage``: (stage, directory)."""
        position = experiment.stages.index(stage)
        if position == 0:
            return None
        previous = experiment.stages[position - 1]
        return previous, self.directory(previous, experiment)

    def _references(self, stage: Stage, members: list[Experiment]) -> dict[str, str]:
        """``{<stage>._output}``: a shared job's directory, or the directories a shared job
        gathers."""
        found = {}
        for name in self.references[stage.name]:
            if self.sweep.stage(name).shared is not None:  # one job serves all: spec checks keys
                found[name + render.OUTPUT_OF] = render.quote(self.directory(name, members[0]))
            else:
                found[name + render.OUTPUT_OF] = " ".join(
                    render.quote(self.directory(name, member)) for member in members
                )
        return found

    def _job(self, stage: Stage, command: str, directory: str, after: list[tuple[str, str]]) -> Job:
        if directory in self.existing:
            reruns = any(self.states[before] != DONE for before in after)
            state = _state(ExperimentPaths(self.workdir / directory), stage.name, command, reruns)
        else:
            state = NEW
        self.states[stage.name, directory] = state
        return Job(stage.name, directory, command, state)

    def _own_job(self, stage: Stage, renderer: render.Renderer, experiment: Experiment) -> Job:
        directory = self.directory(stage.name, experiment)
        reserved = render.reserved_values(directory, self.directories[experiment.name])
        if self.references[stage.name]:
            reserved.update(self._references(stage, [experiment]))
        before = self._before(stage.name, experiment)
        command = renderer(experiment.params, reserved)
        return self._job(stage, command, directory, [before] if before else [])

    def _shared_job(
        self, stage: Stage, renderer: render.Renderer, shared: SharedJob
    ) -> PlannedShared:
        members = [self.by_name[name] for name in shared.members]
        directory = f"{self.output}/{shared_directory(stage.name, shared.name)}"
        reserved = render.reserved_values(directory, shared.name)
        reserved.update(self._references(stage, members))
        after = list(
            dict.fromkeys(b for b in map(lambda m: self._before(stage.name, m), members) if b)
        )
        job = self._job(stage, renderer(shared.params, reserved), directory, after)
        done = tuple(ExperimentPaths(directory).done_file(name) for name, directory in after)
        dirs = tuple(self.directories[m.name] for m in members)
        return PlannedShared(job, shared.name, shared.params, dirs, done)

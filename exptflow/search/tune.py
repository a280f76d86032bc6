"""``exptflow tune``: an adaptive search run as a Snakemake workflow, round after round.

A round compiles the search's Snakefile and runs Snakemake on it; trials are proposed and
told inside it. A trial whose stage fails blocks the trials queued behind it, so Snakemake
ends the round; the failed trial is told as failed and the next round goes on.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from exptflow.compiler.compile import CompileOptions, check_same_sweep, write
from exptflow.compiler.plan import Plan, Tuning
from exptflow.layout.jsonfiles import read_json, write_json
from exptflow.layout.paths import ExperimentPaths, OutputPaths, StudyPaths
from exptflow.layout.states import StageState
from exptflow.layout.trials import (
    COMPLETE,
    FAIL,
    Told,
    proposals,
    read_told,
    write_told,
)
from exptflow.runtime import launch
from exptflow.runtime.liveness import stage_status
from exptflow.search.runtime import (
    QUIET,
    Tuner,
    best_of,
    best_trial,
    earlier_experiments,
    report,
    told_if_finished,
    told_trials,
    trial_line,
)
from exptflow.search.space import Space, grid_size, space_of
from exptflow.sweep import spec


@dataclass(frozen=True)
class TuneOptions:
    compile: CompileOptions = field(default_factory=CompileOptions)
    trials: int | None = None  # --trials: instead of the search block's
    parallel: int | None = None  # --parallel


@dataclass(frozen=True)
class Prepared:
    plan: Plan
    space: Space
    study: StudyPaths
    workdir: Path


def prepare(options: TuneOptions) -> Prepared:
    """Read the sweep, write the search's Snakefile, table and settings. No trial runs."""
    settings = options.compile
    workdir = Path(settings.workdir)
    sweep = spec.load(workdir / settings.sweep, settings.sweep, workdir, settings.overrides)
    output = settings.output or sweep.output
    space = space_of(sweep, settings.title, output)
    study = OutputPaths(output).study(space.fingerprint())
    tuning = Tuning(study.root.as_posix(), _budget(space, options), _parallel(space, options))
    plan = Plan(sweep, output, (), (), settings.overrides, tuning)
    check_same_sweep(settings)
    _write_settings(StudyPaths(workdir / study.root), space, settings)
    write(plan, settings.workdir)
    return Prepared(plan, space, StudyPaths(workdir / study.root), workdir)


def _budget(space: Space, options: TuneOptions) -> int:
    trials = options.trials or space.search.trials
    return min(trials, grid_size(space)) if space.search.sampler == "grid" else trials


def _parallel(space: Space, options: TuneOptions) -> int:
    return options.parallel or space.search.parallel or max(1, len(space.sweep.slots))


def _write_settings(study: StudyPaths, space: Space, options: CompileOptions) -> None:
    settings = {
        "sweep": options.sweep,
        "title": options.title,
        "overrides": list(options.overrides),
        "output": space.output,
        "search": {
            "metric": space.search.metric,
            "direction": space.search.direction,
            "sampler": space.search.sampler,
            "seed": space.search.seed,
        },
    }
    if read_json(study.settings) != settings:
        write_json(study.settings, settings)


# A stage that fails in every trial (a typo in the command) stops the search after this many.
BARREN_ROUNDS = 3
FAILED_STATES = (StageState.FAILED, StageState.TIMED_OUT, StageState.CANCELLED)


def tell_failures(prepared: Prepared) -> list[Told]:
    """Tell as failed the open trials whose experiment has a stage that failed for good."""
    tuning = prepared.plan.tune
    assert tuning is not None
    failed = []
    for proposal in proposals(prepared.study):
        if proposal.number >= tuning.trials or read_told(prepared.study, proposal.number):
            continue
        paths = ExperimentPaths.of(prepared.workdir / prepared.space.output, proposal.experiment)
        for stage in proposal.entry["stages"]:
            state = stage_status(paths, stage, time.time()).state
            if state in FAILED_STATES:
                log = paths.latest_log(stage)
                reason = f"stage {stage} {state} (log: {log})"
                failed.append(Told(proposal.number, proposal.experiment, FAIL, None, reason))
                break
    for told in failed:
        write_told(prepared.study, told)
        report(prepared.study, prepared.space, told, tuning.trials)
    return failed


ANNOUNCE_SECONDS = 0.5  # how often the terminal learns of trials that finished


class Announcer:
    """Prints each trial the moment its stages finish, while Snakemake runs: its jobs tell
    the optimizer a batch at a time, which is soon enough for it but not for a person."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.seen: dict[int, Told] = {t.number: t for t in told_trials(prepared.study)}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Announcer:
        self.thread.start()
        return self

    def __exit__(self, *exception: object) -> None:
        self.stopped.set()
        self.thread.join()
        self.announce()

    def _watch(self) -> None:
        while not self.stopped.wait(ANNOUNCE_SECONDS):
            self.announce()

    def announce(self) -> None:
        space, tuning = self.prepared.space, self.prepared.plan.tune
        assert tuning is not None
        for proposal in proposals(self.prepared.study):
            if proposal.number in self.seen or proposal.number >= tuning.trials:
                continue
            told = read_told(self.prepared.study, proposal.number)
            if told is None:  # not told yet: shown once done (a stage that fails: at the end)
                told = told_if_finished(space, proposal)
                if told is None or told.state == FAIL:
                    continue
            self.seen[told.number] = told
            best = best_of(list(self.seen.values()), space)
            print(trial_line(space, told, best, tuning.trials), flush=True)


@contextlib.contextmanager
def _first_batches_proposed(prepared: Prepared) -> Iterator[None]:
    """Propose the first two batches (they wait for no result) while Snakemake starts: its
    own jobs then find them, and no stage waits for Optuna to load."""
    tuning = prepared.plan.tune
    assert tuning is not None
    tuner = Tuner(prepared.study.root.as_posix(), tuning.trials, tuning.parallel)

    def propose() -> None:
        with contextlib.suppress(Exception):  # the job's own try says what went wrong
            for batch in (0, 1):
                tuner.propose(batch)

    thread = threading.Thread(target=propose, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def summary(prepared: Prepared) -> str:
    tuning = prepared.plan.tune
    assert tuning is not None
    told = told_trials(prepared.study)
    complete = sum(t.state == COMPLETE for t in told)
    search = prepared.space.search
    line = (
        f"exptflow tune: {search.direction} {search.metric}, {search.sampler} sampler: "
        f"{len(told)} of {tuning.trials} trials told ({complete} complete, "
        f"{len(told) - complete} failed), {tuning.parallel} at a time"
    )
    best = best_trial(prepared.study, prepared.space)
    if best is not None:
        line += (
            f"\nbest: {search.metric} {best.value:.6g}, trial {best.number + 1}: "
            f"{prepared.space.output}/{best.experiment}"
        )
    return line


def tune(options: TuneOptions, snakemake_arguments: list[str]) -> int:
    """Run the search to its budget, a round at a time; Snakemake's exit code."""
    workdir = Path(options.compile.workdir)
    launch.refuse_beside_live_run(workdir, "exptflow tune")
    unlocked, kept = launch.recover_from_crash(workdir)
    if unlocked:
        print("exptflow: removed a stale Snakemake lock left by a killed run")
    if kept:
        print(f"exptflow: kept {kept} stage(s) that had finished before the crash")
    barren = 0  # rounds in a row in which every trial failed
    first = True
    while True:
        prepared = prepare(options)
        if first:
            _say_what_seeds(prepared)
            first = False
        names = [proposal.experiment for proposal in proposals(prepared.study)]
        launch.settle_interrupted(workdir / prepared.plan.output, names)
        print(summary(prepared).splitlines()[0], flush=True)
        complete_before = _complete(prepared)
        # Before any thread starts; its jobs only log what the Announcer prints.
        process = launch.start_snakemake(snakemake_arguments, workdir, environment={QUIET: "1"})
        with Announcer(prepared), _first_batches_proposed(prepared):
            code, cancelled = launch.wait_cancellable(process)
        if code == 0 or cancelled or not tell_failures(prepared):
            print(summary(prepared), flush=True)
            return code
        barren = barren + 1 if _complete(prepared) == complete_before else 0
        if barren == BARREN_ROUNDS:
            print(
                f"exptflow tune: every trial failed, {BARREN_ROUNDS} rounds in a row; fix the "
                "cause (see the logs above), then rerun `exptflow tune` (failed trials stay "
                "told as failed and count against the budget)",
                flush=True,
            )
            return code


def _say_what_seeds(prepared: Prepared) -> None:
    if prepared.space.search.sampler == "grid":
        return
    own = {proposal.experiment for proposal in proposals(prepared.study)}
    count = len(earlier_experiments(prepared.space, own))  # `exptflow tune` works in "."
    if count:
        what = "experiment of this space seeds" if count == 1 else "experiments of this space seed"
        print(f"exptflow tune: {count} earlier {what} the optimizer")


def _complete(prepared: Prepared) -> int:
    return sum(told.state == COMPLETE for told in told_trials(prepared.study))

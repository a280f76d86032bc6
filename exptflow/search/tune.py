"""``exptflow tune``: an adaptive search run as a Snakemake workflow, round after round.

A round compiles the search's Snakefile and runs Snakemake on it; while it runs, this
process tells each trial as it finishes and proposes the next batch (the Snakefile's jobs
wait for it, and do it themselves when Snakemake runs the Snakefile alone). A trial whose
stage fails blocks the trials queued behind it, so Snakemake ends the round; the failed
trial is told as failed and the next round goes on.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from exptflow.compiler.compile import CompileOptions, check_same_sweep, write
from exptflow.compiler.plan import Plan, Tuning
from exptflow.layout.jsonfiles import read_json, write_json
from exptflow.layout.paths import ExperimentPaths, OutputPaths, StudyPaths
from exptflow.layout.states import StageState
from exptflow.layout.trials import COMPLETE, FAIL, Proposal, Told, proposals
from exptflow.runtime import launch
from exptflow.runtime.liveness import stage_status
from exptflow.search.runtime import (
    DRIVER,
    Tuner,
    best_of,
    best_trial,
    earlier_experiments,
    hold_lock,
    report,
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
    prepared = Prepared(plan, space, StudyPaths(workdir / study.root), workdir)
    _forget_unfilled_batches(tuner_of(prepared))
    write(plan, settings.workdir)
    return prepared


def _forget_unfilled_batches(tuner: Tuner) -> None:
    """A batch marked proposed with trials missing (a budget raised: the last batch, or one
    past the old budget that only told) is proposed again: its job runs, and asks for them.
    The marks that every batch was proposed go too: Snakemake would trust them."""
    for batch in range(tuner.batches):
        if not all(tuner.ledger.proposal(trial) for trial in tuner.batch(batch)):
            Path(tuner.proposed(batch)).unlink(missing_ok=True)
    if not all(Path(tuner.proposed(batch)).exists() for batch in range(tuner.batches + 2)):
        for parity in (0, 1):
            Path(tuner.all_told(parity)).unlink(missing_ok=True)


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


def tuner_of(prepared: Prepared) -> Tuner:
    tuning = prepared.plan.tune
    assert tuning is not None
    return Tuner(prepared.study.root.as_posix(), tuning.trials, tuning.parallel)


def tell_failures(prepared: Prepared) -> list[Told]:
    """Tell as failed the open trials whose experiment has a stage that failed for good."""
    tuner = tuner_of(prepared)
    failed = []
    for proposal in tuner.ledger.proposals():
        if proposal.number >= tuner.trials or tuner.ledger.told(proposal.number):
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
        tuner.ledger.add_told(told)
        report(tuner, prepared.space, told)
    return failed


POLL_SECONDS = 0.01  # how soon a finished trial is told, and the batch it frees proposed
POLL_PER_TRIAL = 0.0005  # seconds more per running trial: a search of many at once polls less
ANNOUNCE_SECONDS = 0.25  # how soon a trial is printed once no trial runs
# A trial whose `.done` files are written but whose record still says it runs: after this
# long, the job of the batch that waits for it tells it (Snakemake's own wait for outputs).
SETTLE_SECONDS = 60.0


class Proposer:
    """The optimizer's side of a round, in this process: it tells each trial the moment its
    stages finish (and prints it), and proposes batch j the moment every trial of batch
    j - 2 is told, with Optuna loaded once and away from Snakemake's interpreter, which
    meanwhile starts and ends trials. It holds the lock of each batch it will propose from
    before the batch can be asked for, so that the Snakefile's `suggest` job for it waits
    for its proposals rather than asking too. Should proposing here fail, it lets go of its
    locks and the jobs tell and propose themselves."""

    def __init__(self, prepared: Prepared, serve: bool = True) -> None:
        self.tuner = tuner_of(prepared)
        self.space = prepared.space
        self.seen = {told.number: told for told in self.tuner.ledger.told_trials()}
        self.held: dict[int, int] = {}  # the batches this process will propose: their locks
        self.settling: dict[int, float] = {}  # batches waiting on a record: since when
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        for batch in range(self.tuner.batches if serve else 0):
            if batch < 2 or self._proposed(batch - 2):
                self._hold(batch)

    def __enter__(self) -> Proposer:
        self.thread.start()
        return self

    def __exit__(self, *exception: object) -> None:
        self.stopped.set()
        self.thread.join()
        self._release()
        try:
            self._tell_and_show(self.tuner.ledger.proposals())  # the last trials
        except Exception as error:  # the next `exptflow tune` tells them
            print(f"exptflow tune: could not tell the last trials: {error}", file=sys.stderr)

    def _serve(self) -> None:
        try:
            while not self.stopped.wait(self._interval()):
                self._step()
        except Exception as error:
            self._release()
            print(
                f"exptflow tune: proposing failed here ({error}); Snakemake's jobs propose",
                file=sys.stderr,
                flush=True,
            )
            while not self.stopped.wait(ANNOUNCE_SECONDS):
                with contextlib.suppress(Exception):
                    self._announce(self.tuner.ledger.proposals())

    def _interval(self) -> float:
        running = len(self._open(self.tuner.ledger.known()))
        if not (running or self.held):
            return ANNOUNCE_SECONDS
        return min(POLL_SECONDS + POLL_PER_TRIAL * running, ANNOUNCE_SECONDS)

    def _step(self) -> None:
        self._tell_and_show(self.tuner.ledger.known())
        for batch in sorted(self.held):
            if self.tuner.ready(batch):
                self._propose(batch)
            elif self.tuner.settling(batch):
                since = self.settling.setdefault(batch, time.monotonic())
                if time.monotonic() - since > SETTLE_SECONDS:
                    self._leave_to_the_job(batch)

    def _tell_and_show(self, proposals: list[Proposal]) -> None:
        for proposal in self._open(proposals):
            self.tuner.tell(proposal, quiet=True)
        self._announce(proposals)

    def _propose(self, batch: int) -> None:
        self._hold(batch + 2)  # before its trials can run: before these are proposed
        self.tuner.propose(batch)
        os.close(self.held.pop(batch))

    def _leave_to_the_job(self, batch: int) -> None:
        self._hold(batch + 2)
        os.close(self.held.pop(batch))

    def _announce(self, proposals: list[Proposal]) -> None:
        for proposal in self._open(proposals):
            told = self.tuner.ledger.told(proposal.number)
            if told is None:
                continue  # a stage that fails: told and shown once the round ends
            self.seen[told.number] = told
            best = best_of(list(self.seen.values()), self.space)
            print(trial_line(self.space, told, best, self.tuner.trials), flush=True)

    def _open(self, proposals: list[Proposal]) -> list[Proposal]:
        budget = self.tuner.trials
        return [p for p in proposals if p.number < budget and p.number not in self.seen]

    def _proposed(self, batch: int) -> bool:
        return all(self.tuner.ledger.proposal(trial) for trial in self.tuner.batch(batch))

    def _hold(self, batch: int) -> None:
        if batch >= self.tuner.batches or batch in self.held or self._proposed(batch):
            return
        descriptor = hold_lock(self.tuner.batch_lock(batch), wait=False)
        if descriptor is not None:  # else another process proposes it
            self.held[batch] = descriptor

    def _release(self) -> None:
        for batch in list(self.held):
            os.close(self.held.pop(batch))


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
        # Its locks held before Snakemake's jobs can ask (its files are relative to ".").
        proposer = Proposer(prepared, serve=workdir.resolve() == Path.cwd().resolve())
        environment = {DRIVER: str(os.getpid())}
        process = launch.start_snakemake(snakemake_arguments, workdir, environment=environment)
        with proposer:  # its thread starts after Snakemake's process does
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

"""Propose a trial, tell its result: what ``exptflow tune`` does while Snakemake runs the
trials, and what the Snakefile's own jobs do where no ``exptflow tune`` does it first.

The jobs are local rules of Snakemake, so a search runs wherever its stages run, locally or
on a cluster, and resumes as any workflow does. Everything is read from files: a trial may
be proposed in another process than the one that proposed the trial before it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exptflow.errors import ExptflowError
from exptflow.layout.jsonfiles import read_json
from exptflow.layout.paths import (
    NOT_EXPERIMENTS,
    ExperimentPaths,
    StudyPaths,
    SweepPaths,
    existing_directories,
)
from exptflow.layout.trials import COMPLETE, FAIL, RUNNING, Ledger, Proposal, Told

# Every job of a search's Snakefile imports this module (on a cluster: every stage job's
# Snakemake): the sweep model, the compiler and Optuna load only where a trial is proposed.
if TYPE_CHECKING:
    from exptflow.search.space import Space
    from exptflow.search.study import Past


class Tuner:
    def __init__(self, study: str, trials: int, parallel: int) -> None:
        self.paths = StudyPaths(study)
        self.ledger = Ledger(self.paths)
        self.trials = trials
        self.parallel = parallel
        self._space: Space | None = None
        self._seen: dict[str, Past | None] = {}  # past experiments, read once per process
        self._lock = threading.Lock()

    # --- paths the rules name -----------------------------------------------------------
    def proposal(self, trial: str | int) -> str:
        return self.paths.proposal(trial).as_posix()

    def proposed(self, batch: str | int) -> str:
        return self.paths.proposed(self.parallel, batch).as_posix()

    def batch(self, batch: int) -> range:
        """The trials of a batch: ``parallel`` of them (the last within the budget)."""
        return range(batch * self.parallel, min((batch + 1) * self.parallel, self.trials))

    def all_told(self, parity: str | int) -> str:
        return self.paths.all_told(self.parallel, parity).as_posix()

    def all_told_log(self, parity: str | int) -> str:
        return self.paths.all_told_log(self.parallel, parity).as_posix()

    def mark_all_told(self, marks: list[str], output: str, log: str) -> None:
        text = f"{len(marks)} batches proposed: {', '.join(Path(m).name for m in marks)}\n"
        _write_log(log, text)
        Path(output).write_text(text, encoding="utf-8")

    def batch_log(self, batch: str | int) -> str:
        return self.paths.batch_log(self.parallel, batch).as_posix()

    def batch_lock(self, batch: int) -> Path:
        return self.paths.batch_lock(self.parallel, batch)

    @property
    def batches(self) -> int:
        return -(-self.trials // self.parallel)

    def open_experiments(self, batch: int) -> list[tuple[str, list[str]]]:
        """The experiment and stages of each trial of ``batch`` not told as failed."""
        return [self.experiment_of(k) for k in self.batch(batch) if not self._failed(k)]

    def import_optuna_in_background(self) -> None:
        if DRIVER not in os.environ:  # `exptflow tune` proposes: this process never asks
            threading.Thread(target=_import_optuna, daemon=True).start()

    def experiment_of(self, trial: int) -> tuple[str, list[str]]:
        proposal = self.ledger.proposal(trial)
        if proposal is None:
            raise ExptflowError(f"{self.proposal(trial)}: missing or unreadable; rerun tune")
        return proposal.experiment, list(proposal.entry["stages"])

    # --- the jobs ------------------------------------------------------------------------
    def suggest(self, batch: int, log: str) -> None:
        """Tell every finished trial, then propose the trials of ``batch``, but what the
        ``exptflow tune`` that drives this run did first: it tells each trial as it ends,
        and proposes the batches whose locks it holds (this job waits for it)."""
        with file_lock(self.batch_lock(batch)):
            proposed = [self.ledger.proposal(trial) for trial in self.batch(batch)]
            if DRIVER in os.environ and all(proposed):  # the last two: it tells them too
                lines = [_proposed_before(p) for p in proposed if p]
            else:
                told = [line + "\n" for line in self.tell_finished(quiet=DRIVER in os.environ)]
                lines = told + self.propose(batch)
        text = "".join(lines) or "no trial to tell or propose\n"
        _write_log(log, text)
        Path(self.proposed(batch)).write_text(text, encoding="utf-8")

    def propose(self, batch: int) -> list[str]:
        """Ask for the values of the trials of ``batch`` not proposed yet: a line for each
        trial of the batch."""
        lines = []
        with self._lock, file_lock(self.paths.lock):
            for trial in self.batch(batch):
                proposal = self.ledger.proposal(trial)
                if proposal is None:
                    proposal, learnt = self._ask(trial)
                    lines.append(f"trial {trial + 1}: {proposal.experiment}, from {learnt}\n")
                else:
                    lines.append(_proposed_before(proposal))
        return lines

    def ready(self, batch: int) -> bool:
        """Whether ``batch`` may be proposed: every trial of batch j - 2 told (so that the
        proposals know its results)."""
        return batch < 2 or all(self.ledger.told(trial) for trial in self.batch(batch - 2))

    def settling(self, batch: int) -> bool:
        """Whether every trial of batch j - 2 finished but one is not told yet, its record
        not settled (a stage's job has ended for Snakemake, not yet for its files)."""
        if batch < 2:
            return False
        proposals = [self.ledger.proposal(trial) for trial in self.batch(batch - 2)]
        return all(p and (self._told(p) or finished(self.output, p)) for p in proposals)

    def _ask(self, trial: int) -> tuple[Proposal, str]:
        """A new trial's values from the optimizer: once per trial, ever."""
        from exptflow.search.study import propose

        space = self.space()
        own = [p for p in self.ledger.proposals() if p.number != trial]
        history = [self._past(p) for p in own]
        if space.search.sampler != "grid":
            history += self._earlier_experiments(space, {p.experiment for p in own})
        values = propose(space, history, trial)
        proposal = self._proposal(space, trial, values)
        self.ledger.add_proposal(proposal)
        return proposal, f"{len(history)} trials and earlier experiments"

    def tell_finished(self, quiet: bool = False) -> list[str]:
        """Tell the trials whose stages all finished and that were not told yet: a line for
        each."""
        proposed = self.ledger.proposals()
        pending = [p for p in proposed if p.number < self.trials and not self._told(p)]
        return [line for line in (self.tell(p, quiet) for p in pending) if line is not None]

    def tell(self, proposal: Proposal, quiet: bool = False) -> str | None:
        """Tell a trial whose stages all finished, unless another process told it: its line."""
        if not finished(self.output, proposal):
            return None
        space = self.space()
        told = told_of(space, proposal)
        if told is None:
            return None
        with self._lock, file_lock(self.paths.lock):
            if self.ledger.told(told.number) is not None:
                return None
            self.ledger.add_told(told)
            return report(self, space, told, quiet)

    # --- helpers -------------------------------------------------------------------------
    @functools.cached_property
    def output(self) -> str:
        """The experiments root, read without loading the sweep (the space is for asking)."""
        settings = read_json(self.paths.settings)
        return settings["output"] if isinstance(settings, dict) else self.space().output

    def space(self) -> Space:
        if self._space is None:
            self._space = load_space(self.paths)
        return self._space

    def best(self) -> Told | None:
        return best_of(self.ledger.told_trials(), self.space())

    def _told(self, proposal: Proposal) -> bool:
        return self.ledger.told(proposal.number) is not None

    def _failed(self, trial: int) -> bool:
        told = self.ledger.told(trial)
        return told is not None and told.state == FAIL

    def _proposal(self, space: Space, trial: int, values: dict[str, Any]) -> Proposal:
        """The trial's experiment, planned as compile plans one: its directory (a new one
        when an old directory holds other params) and its table entry."""
        from exptflow.compiler import identity
        from exptflow.compiler.plan import make_plan
        from exptflow.layout.table import table_entry

        experiment = space.experiment(values)
        directories, _ = identity.assign([experiment], Path(space.output), rename_changed=True)
        plan = make_plan(space.sweep, space.output, [experiment], directories, Path("."), [])
        (planned,) = plan.experiments
        return Proposal(trial, planned.directory_name, values, table_entry(planned))

    def _past(self, proposal: Proposal) -> Past:
        from exptflow.search.study import Past

        told = self.ledger.told(proposal.number)
        if told is None:
            return Past(proposal.values, RUNNING)
        return Past(proposal.values, told.state, told.value)

    def _earlier_experiments(self, space: Space, own: set[str]) -> list[Past]:
        return earlier_experiments(space, own, self._seen)


def earlier_experiments(
    space: Space, own: set[str], seen: dict[str, Past | None] | None = None
) -> list[Past]:
    """Experiments already in the output root that are points of this space: they seed the
    optimizer (a grid run earlier, a search of another space). ``seen``: those read before."""
    seen = {} if seen is None else seen
    root = Path(space.output)
    for name in sorted(existing_directories(root) - NOT_EXPERIMENTS - own - set(seen)):
        seen[name] = _seed_from(space, root, name)
    return [past for name, past in seen.items() if past and name not in own]


def _import_optuna() -> None:
    with contextlib.suppress(ImportError):  # the first proposal says what to install
        importlib.import_module("optuna")


# Set by `exptflow tune` for its Snakemake: it tells and prints each trial as it finishes,
# and proposes each batch (its jobs then only log, and wait for it).
DRIVER = "EXPTFLOW_TUNE_DRIVER"


def finished(output: str, proposal: Proposal) -> bool:
    """Whether every stage of the trial wrote its `.done` (the last one first: one look for
    a trial still running)."""
    paths = ExperimentPaths.of(output, proposal.experiment)
    return all(paths.done(stage).exists() for stage in reversed(proposal.entry["stages"]))


def told_of(space: Space, proposal: Proposal) -> Told | None:
    """What to tell of a trial whose stages all finished (failed if its metric is missing);
    None while a stage's record has not settled."""
    outcome = metric_of(space, proposal.experiment, proposal.entry)
    if outcome is None:
        return None
    value, reason = outcome
    state = COMPLETE if reason is None else FAIL
    return Told(proposal.number, proposal.experiment, state, value, reason)


def _proposed_before(proposal: Proposal) -> str:
    return f"trial {proposal.number + 1}: {proposal.experiment}, proposed before this job\n"


def _write_log(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """One process at a time (proposals: each sees the ones before it)."""
    descriptor = hold_lock(path)
    assert descriptor is not None
    try:
        yield
    finally:
        os.close(descriptor)


def hold_lock(path: Path, wait: bool = True) -> int | None:
    """The descriptor of ``path``, locked until it is closed (or this process ends); None if
    another holds it and ``wait`` is false."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def load_space(paths: StudyPaths) -> Space:
    from exptflow.search.space import space_of
    from exptflow.sweep import spec

    settings = read_json(paths.settings)
    if not isinstance(settings, dict):
        raise ExptflowError(f"{paths.settings}: missing or unreadable; rerun `exptflow tune`")
    source = settings["sweep"]
    sweep = spec.load(Path(source), source, Path("."), tuple(settings.get("overrides", [])))
    space = space_of(sweep, settings.get("title"), settings["output"])
    if space.fingerprint() != paths.root.name:
        raise ExptflowError(
            f"{source} changed since `exptflow tune` started this search (its space, goal or "
            "fixed params differ); rerun `exptflow tune` to search the new one"
        )
    return space


def _seed_from(space: Space, root: Path, name: str) -> Past | None:
    from exptflow.search.study import Past
    from exptflow.sweep.spec import same_values

    params = read_json(ExperimentPaths.of(root, name).params_file)
    if not isinstance(params, dict):
        return None
    values = {key: params.get(key) for key, _ in space.dimensions}
    if not all(key in params and space.contains(key, v) for key, v in values.items()):
        return None
    experiment = space.experiment(values)
    if not same_values(dict(experiment.params), params):
        return None
    outcome = metric_of(space, name, {"params": params, "stages": list(experiment.stages)})
    if outcome is None or outcome[1] is not None:
        return None
    return Past(values, COMPLETE, outcome[0])


# What a stage's record says while it has not ended: its `.done` may be seen first (a cached
# stage's files are linked one by one; a shared filesystem catches up).
UNSETTLED = ("pending", "running")


def metric_of(
    space: Space, name: str, entry: dict[str, Any]
) -> tuple[float | None, str | None] | None:
    """The trial's value of the searched metric, or why it has none; None while the record
    of one of its stages says that it has not ended yet."""
    from exptflow.results.rows import read_experiment

    sources, parsers = _metric_sources()
    paths = ExperimentPaths.of(space.output, name)
    row = read_experiment(paths, entry, sources, parsers)
    if any(state in UNSETTLED for state, _ in row["stages"].values()):
        return None
    unfinished = [stage for stage, (state, _) in row["stages"].items() if state != "done"]
    if unfinished or not row["stages"]:
        return None, f"stage {unfinished[0] if unfinished else '?'} did not finish"
    metric = space.search.metric
    value = row["metrics"].get(metric)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        found = ", ".join(sorted(row["metrics"])) or "none"
        return None, f"no finite `{metric}` in its results (metrics found: {found})"
    return float(value), None


@functools.lru_cache(maxsize=1)
def _metric_sources() -> tuple[Any, list[Any]]:
    """The metric regexes and parsers of the compiled table (its header, not its trials),
    read once per process."""
    from exptflow.results.sources import LogRegex, Sources, import_parser

    table = read_json(SweepPaths(".").table) or {}
    regexes = tuple(LogRegex(**entry) for entry in table.get("metrics", []))
    names = tuple(table.get("parsers", []))
    sources = Sources(Path(table.get("output", "output")), {}, regexes, names)
    return sources, [(name, import_parser(name, Path("."))) for name in names]


def trial_line(space: Space, told: Told, best: Told | None, budget: int) -> str:
    """``exptflow tune: trial 7/40 <experiment>: <metric> <value>; best ...``."""
    metric = space.search.metric
    result = f"{metric} {told.value:.6g}" if told.state == COMPLETE else f"failed: {told.reason}"
    line = f"exptflow tune: trial {told.number + 1}/{budget} {told.experiment}: {result}"
    if best is not None:
        line += f"; best {metric} {best.value:.6g} (trial {best.number + 1}, {best.experiment})"
    return line


def report(tuner: Tuner, space: Space, told: Told, quiet: bool = False) -> str:
    """One line per trial told, with the best so far: printed and kept in tune.log."""
    line = trial_line(space, told, tuner.best(), tuner.trials)
    if not quiet:
        print(line, flush=True)
    with open(tuner.paths.tune_log, "a", encoding="utf-8") as log:
        log.write(line + "\n")
    return line


def told_trials(paths: StudyPaths) -> list[Told]:
    return Ledger(paths).told_trials()


def best_trial(paths: StudyPaths, space: Space) -> Told | None:
    return best_of(told_trials(paths), space)


def best_of(trials: list[Told], space: Space) -> Told | None:
    complete = [t for t in trials if t.state == COMPLETE and t.value is not None]
    if not complete:
        return None
    sign = -1.0 if space.search.maximize else 1.0
    return min(complete, key=lambda t: (sign * float(t.value or 0.0), t.number))

"""A part of a compiled sweep to run: ``exptflow run --stages``, ``--only``, ``--force``.

The Snakefile stays the one of the whole sweep: a subset is a list of Snakemake targets (the
``.done`` files of the chosen stages), and ``--force`` reruns exactly those targets
(Snakemake's ``--forcerun`` on files), so no other experiment's result is touched.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from exptflow.compiler.plan import DONE, Plan, PlannedExperiment
from exptflow.errors import UserInputError
from exptflow.layout.paths import ExperimentPaths
from exptflow.sweep.render import format_value

# `lr=0.1,seed=0`: params and values, as experiment names write them.
PARAM_QUERY = re.compile(r"^[A-Za-z][\w\-]*=[^,=+*?\[\]]*(,[A-Za-z][\w\-]*=[^,=+*?\[\]]*)*$")
# What only a pandas query holds (an experiment name never does).
PANDAS_QUERY = re.compile(r"==|!=|<|>|\s(and|or|in|not)\s")


@dataclass(frozen=True)
class Selection:
    stages: tuple[str, ...] | None = None  # `--stages`: only these stages
    only: tuple[str, ...] = ()  # `--only`: experiments any of these queries matches
    force: tuple[str, ...] | None = None  # `--force [NAME ...]`: rerun them even if done

    def __bool__(self) -> bool:
        return self.stages is not None or bool(self.only) or self.force is not None


@dataclass(frozen=True)
class Skipped:
    experiment: str
    stage: str
    waits_for: str  # the earlier stage that is not done and not part of this run


@dataclass(frozen=True)
class Targets:
    run: tuple[str, ...]  # `.done` files to bring up to date
    forced: tuple[str, ...]  # `.done` files to make again even if they exist
    skipped: tuple[Skipped, ...]
    experiments: int

    def snakemake_arguments(self) -> list[str]:
        """The targets after ``--`` (no option before them takes them as its values); the
        forced ones too: without a target Snakemake would add its default, the whole sweep."""
        forced = ["--forcerun", *self.forced] if self.forced else []
        return [*forced, "--", *self.run, *self.forced]

    def describe(self) -> str:
        jobs = len(self.run) + len(self.forced)
        forced = f" ({len(self.forced)} forced to rerun)" if self.forced else ""
        return f"exptflow run: {jobs} job(s) of {self.experiments} experiment(s){forced}"


def targets(plan_: Plan, selection: Selection, workdir: Path = Path(".")) -> Targets:
    """The ``.done`` files of the selected stages of the selected experiments.

    A stage runs only after the stages before it: one whose earlier stage is neither done
    nor part of this run is skipped (and reported), never run behind the user's back.
    """
    stages = _check_stages(plan_, selection.stages)
    files: list[str] = []
    skipped: list[Skipped] = []
    experiments = 0
    for planned in select(plan_, selection, workdir):
        wanted, waiting = _stages_to_run(planned, stages)
        files += [str(ExperimentPaths(planned.jobs[0].directory).done(s)) for s in wanted]
        skipped += [Skipped(planned.directory_name, stage, on) for stage, on in waiting]
        experiments += bool(wanted)
    _check_command_line(files)
    forced = selection.force is not None
    run, forced_files = ((), tuple(files)) if forced else (tuple(files), ())
    return Targets(run, forced_files, tuple(skipped), experiments)


# Snakemake gets the targets on its command line: Linux takes about 2 MB of arguments and
# environment in all (a forced target is given twice).
MAX_TARGET_BYTES = 500_000


def _check_command_line(files: list[str]) -> None:
    size = sum(len(name) + 1 for name in files)
    if size > MAX_TARGET_BYTES:
        raise UserInputError(
            f"--stages/--only/--force: {len(files):,} jobs are more targets than Snakemake's "
            "command line takes; select fewer experiments with --only, or run the whole sweep "
            "(`exptflow run` without them runs only what is not done)"
        )


def _stages_to_run(
    planned: PlannedExperiment, stages: set[str] | None
) -> tuple[list[str], list[tuple[str, str]]]:
    """The stages of ``stages`` to run, and those skipped with the earlier stage each waits
    for (one not done and not run now)."""
    wanted: list[str] = []
    waiting: list[tuple[str, str]] = []
    waits_for = ""
    for job in planned.jobs:
        if stages is not None and job.stage not in stages:
            if job.state != DONE and not waits_for:
                waits_for = job.stage
        elif waits_for:
            waiting.append((job.stage, waits_for))
        else:
            wanted.append(job.stage)
    return wanted, waiting


def _check_stages(plan_: Plan, stages: Sequence[str] | None) -> set[str] | None:
    if stages is None:
        return None
    known = plan_.sweep.stage_names
    for stage in stages:
        if stage not in known:
            close = difflib.get_close_matches(stage, known, n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            raise UserInputError(
                f"--stages {','.join(stages)}: no stage `{stage}` in {plan_.sweep.source}; "
                f"{hint}stages: {', '.join(known)}"
            )
    return set(stages)


def select(plan_: Plan, selection: Selection, workdir: Path) -> list[PlannedExperiment]:
    """The experiments ``--only`` (any of its queries) and ``--force NAME...`` both pick."""
    chosen = list(plan_.experiments)
    if selection.only:
        picked: set[str] = set()
        for query in selection.only:
            picked |= _matching("--only", query, plan_, workdir)
        chosen = [p for p in chosen if p.directory_name in picked]
    if selection.force:
        named: set[str] = set()
        for name in selection.force:
            named |= _matching_names("--force", name, plan_.experiments)
        chosen = [p for p in chosen if p.directory_name in named]
    return chosen


def _matching(flag: str, query: str, plan_: Plan, workdir: Path) -> set[str]:
    if PANDAS_QUERY.search(query):
        return _matching_query(flag, query, plan_, workdir)
    if PARAM_QUERY.match(query):
        return _matching_params(flag, query, plan_.experiments)
    return _matching_names(flag, query, plan_.experiments)


def _matching_names(flag: str, pattern: str, experiments: Iterable[PlannedExperiment]) -> set[str]:
    return matching_names(flag, pattern, [planned.directory_name for planned in experiments])


def matching_names(flag: str, pattern: str, names: list[str]) -> set[str]:
    """Experiment names (directory names) that the glob ``pattern`` matches."""
    found = set(fnmatch.filter(names, pattern))
    if not found:
        close = difflib.get_close_matches(pattern, names, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        raise UserInputError(
            f"{flag} {pattern}: no experiment of the sweep has this name; {hint}"
            "`exptflow status` lists them (a glob such as 'lr=0.1+*' picks several)"
        )
    return found


def _matching_params(flag: str, query: str, experiments: Sequence[PlannedExperiment]) -> set[str]:
    """``lr=0.1,seed=0``: every param with one of its listed values (``seed=0,seed=1``)."""
    wanted: dict[str, set[str]] = {}
    for part in query.split(","):
        param, _, value = part.partition("=")
        wanted.setdefault(param, set()).add(value)
    known = {param for planned in experiments for param in planned.experiment.params}
    for param in wanted:
        if param not in known:
            close = difflib.get_close_matches(param, sorted(known), n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            raise UserInputError(
                f"{flag} {query}: no experiment has a param `{param}`; {hint}params: "
                + ", ".join(sorted(known))
            )
    found = {
        planned.directory_name
        for planned in experiments
        if all(_has(planned, param, values) for param, values in wanted.items())
    }
    if not found:
        raise UserInputError(f"{flag} {query}: no experiment of the sweep has these values")
    return found


def _has(planned: PlannedExperiment, param: str, values: set[str]) -> bool:
    params = planned.experiment.params
    return param in params and format_value(params[param]) in values


def _matching_query(flag: str, query: str, plan_: Plan, workdir: Path) -> set[str]:
    """A pandas query over the results table (params, stage states, metrics), as ``exptflow
    show --query`` filters it."""
    from exptflow.results.load import load

    frame = load(workdir / plan_.output, query)
    found = set(frame["experiment"]) & {p.directory_name for p in plan_.experiments}
    if not found:
        raise UserInputError(f"{flag} {query}: no experiment of the sweep matches the query")
    return found

"""``exptflow compile``: a sweep file → Snakefile, experiments table and local profile.

The only writer at compile time. Files are rewritten only when their text changes, so an
unchanged sweep recompiles to byte-identical files and Snakemake has nothing to do.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from exptflow.bulk import paused_gc
from exptflow.compiler import generate, identity
from exptflow.compiler.plan import DONE, NEW, OUTDATED, Plan, make_plan
from exptflow.errors import OtherSweepError, UserInputError
from exptflow.layout.jsonfiles import write_atomic
from exptflow.layout.paths import SweepPaths
from exptflow.layout.table import recorded_sweep, table_text
from exptflow.sweep import expand as expansion
from exptflow.sweep import shared as sharing
from exptflow.sweep import spec

# Past this many experiments compile asks for --yes: a typo in a grid should not hang a laptop.
LARGE_SWEEP = 1_000_000
# Past this many, even --yes can't help: compile time and memory grow linearly (the
# benchmarks' compile case), so this is minutes and gigabytes, and the Snakemake DAG of it
# would not fit either.
MAX_SWEEP = 5_000_000


@dataclass(frozen=True)
class CompileOptions:
    sweep: str = "params.yaml"
    workdir: str = "."
    output: str | None = None
    title: str | None = None
    sample: int | None = None
    seed: int = 0
    rename_changed: bool = False
    yes: bool = False
    replace: bool = False  # compile over another sweep's Snakefile and table
    overrides: tuple[str, ...] = ()  # `-S PARAM=VALUES`, as given
    code: str | None = None  # `--snapshot`: instead of the sweep file's `code`


@dataclass(frozen=True)
class Written:
    path: Path
    changed: bool
    kept_edit: bool = False
    warning: str | None = None  # about a kept edit that the generated files no longer fit


def _check_size(sweep: spec.Sweep, options: CompileOptions) -> None:
    # Sizes only: nothing proportional to the sweep is allocated before this passes.
    total = sum(grid.size() for grid in expansion.select(sweep, options.title))
    if total > MAX_SWEEP:
        raise UserInputError(
            f"{sweep.source}: the grid documents expand to {total:,} experiments, more than "
            f"exptflow can compile (at most {MAX_SWEEP:,}, even with --yes); check the lists "
            "for a typo, or split the sweep into documents with `_title` and compile one "
            "`--title` at a time"
        )
    if total > LARGE_SWEEP and not options.yes:
        raise UserInputError(
            f"{sweep.source}: the grid documents expand to {total:,} experiments; "
            "check the lists for a typo, or pass --yes to compile them all"
        )


def _check_output(output: Path, flag: str | None) -> None:
    what = spec.path_problem(flag) if flag is not None else None
    if what is not None:
        raise UserInputError(f"-o: {what}")
    if output.exists() and not output.is_dir():
        raise UserInputError(
            f"output directory {output} is a file; remove it or choose another with -o DIR"
        )


def plan_sweep(options: CompileOptions) -> Plan:
    """Read, validate and expand the sweep and work out what would run. Writes nothing."""
    workdir = Path(options.workdir)
    sweep = spec.load(workdir / options.sweep, options.sweep, workdir, options.overrides)
    if options.code:
        sweep = dataclasses.replace(sweep, code=options.code)
    output = options.output or sweep.output
    _check_output(workdir / output, options.output)
    if sweep.code != "live":
        from exptflow.runtime.snapshot import check_repository

        check_repository(workdir, output, sweep.source)
    _check_size(sweep, options)
    experiments = expansion.expand(sweep, options.title, options.sample, options.seed)
    directories, conflicts = identity.assign(experiments, workdir / output, options.rename_changed)
    shared, shared_conflicts = identity.assign_shared(
        sharing.share(sweep, experiments), workdir / output, options.rename_changed
    )
    if conflicts or shared_conflicts:
        raise identity.conflict_error(sweep.source, conflicts + shared_conflicts)
    orphans = expansion.orphans(sweep, experiments)
    plan = make_plan(sweep, output, experiments, directories, workdir, orphans, shared)
    return dataclasses.replace(plan, overrides=options.overrides)


def write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, text)
    return True


THREADS_SETTING = re.compile(r"^force-use-threads:\s*(true|True|yes)\s*(#.*)?$", re.MULTILINE)


def _lacks_threads(path: Path, text: str) -> str | None:
    """The generated rules' ``run:`` needs force-use-threads from the default profile."""
    if THREADS_SETTING.search(text):
        return None
    return (
        f"{path}: add `force-use-threads: true` (your edited profile lacks it): "
        "without it Snakemake starts a whole Snakemake for every stage"
    )


def write_profile(
    path: Path, text: str, check_edit: Callable[[Path, str], str | None] | None = None
) -> Written:
    """Write a generated profile unless the user edited the one already there."""
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current is not None and not generate.is_unedited(current):
        warning = check_edit(path, current) if check_edit else None
        return Written(path, changed=False, kept_edit=True, warning=warning)
    return Written(path, write_if_changed(path, text))


def write(plan_: Plan, workdir: str = ".") -> list[Written]:
    paths = SweepPaths(workdir, plan_.output)
    # Every text first: a failure while generating leaves the files of the last compile as
    # they were, never a new table beside an old Snakefile.
    table = table_text(plan_)
    snakefile = generate.snakefile(plan_, paths.table.name)
    profiles = {name: generate.cluster_profile(plan_, name) for name in ("slurm", "kubernetes")}
    default = generate.default_profile(plan_)
    return [
        Written(paths.table, write_if_changed(paths.table, table)),
        Written(paths.snakefile, write_if_changed(paths.snakefile, snakefile)),
        write_profile(paths.profile("default"), default, _lacks_threads),
        *(write_profile(paths.profile(name), text) for name, text in profiles.items()),
    ]


def summary(plan_: Plan) -> str:
    counts = plan_.counts()
    jobs = sum(counts.values())
    shared = f" ({len(plan_.shared)} shared)" if plan_.shared else ""
    return (
        f"{plan_.sweep.source}: {len(plan_.experiments)} experiments, {jobs} jobs{shared}: "
        f"{counts[NEW]} new, {counts[DONE]} done, {counts[OUTDATED]} outdated"
    )


def search_note(plan_: Plan, options: CompileOptions) -> str | None:
    """Which documents compile left out: the search spaces ``exptflow tune`` runs (but those
    ``--sample N`` drew from)."""
    spaces = [grid.where for grid in plan_.sweep.grids if grid.space]
    if not spaces or options.sample is not None:
        return None
    return f"{plan_.sweep.source}: {', '.join(spaces)}: a search space, left to `exptflow tune`"


def dry_run_lines(plan_: Plan) -> list[str]:
    """``<stage>\\t<experiment dir>\\t<command>`` for every job that would run."""
    return [f"{job.stage}\t{job.directory}\t{job.command}" for job in plan_.to_run()]


def check_same_sweep(options: CompileOptions) -> None:
    """One directory, one sweep: its Snakefile and table are the sweep's.

    Compiling another sweep file here would swap them under the first sweep's runs (and its
    results table would lose every row); so only with ``--replace``. Neither way touches the
    first sweep's experiment directories.
    """
    workdir = Path(options.workdir)
    recorded = recorded_sweep(workdir)
    if options.replace or recorded is None:
        return
    if (workdir / recorded).resolve() == (workdir / options.sweep).resolve():
        return
    paths = SweepPaths(workdir)
    raise OtherSweepError(
        f"{paths.snakefile} and {paths.table} were compiled from {recorded}, not "
        f"{options.sweep}: one directory holds one sweep. To keep both, compile "
        f"{options.sweep} in a directory of its own; to replace {recorded}'s Snakefile and "
        f"table, run `exptflow compile {shlex.quote(options.sweep)} --replace` "
        f"({recorded}'s experiment directories are kept either way)"
    )


def compile_sweep(options: CompileOptions) -> tuple[Plan, list[Written]]:
    from exptflow.runtime.launch import refuse_beside_live_run

    # Rewriting the table under a live run would change what its collector reads.
    refuse_beside_live_run(Path(options.workdir), "exptflow compile")
    with paused_gc():
        plan_ = plan_sweep(options)  # first: a missing or broken sweep file is the error to show
        check_same_sweep(options)
        return plan_, write(plan_, options.workdir)

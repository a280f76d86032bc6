"""``exptflow run [SWEEP] [SNAKEMAKE ARGS]``: compile if needed, clear a stale lock, run
Snakemake."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from exptflow.cli.options import (
    add_compile_options,
    add_sweep_argument,
    add_switches,
    compile_options,
    print_orphans,
    sweep_of,
)
from exptflow.cli.selection import add_selection_options, narrowed, without_selection
from exptflow.layout.paths import ExperimentPaths
from exptflow.results.progress import Scope, scope_of


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(
        name,
        help="compile, then run snakemake (resumes after a crash); other args go to snakemake",
    )
    add_sweep_argument(parser)
    detach = "run snakemake in the background, immune to logout; its log goes to the output dir"
    verbose = "show Snakemake's own output instead of the progress display"
    add_switches(parser, {"--detach": detach, "--verbose": verbose})
    add_compile_options(parser)
    add_selection_options(parser)


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    from exptflow.compiler.compile import compile_sweep, search_note, summary
    from exptflow.runtime.launch import (
        detach_snakemake,
        recover_from_crash,
        refuse_beside_live_run,
        run_snakemake,
        settle_interrupted,
        watched_snakemake,
    )

    sweep = sweep_of(arguments, extra)
    refuse_beside_live_run(Path("."), "exptflow run")
    unlocked, kept = recover_from_crash(Path("."))  # first: the plan counts kept stages as done
    if unlocked:
        print("exptflow: removed a stale Snakemake lock left by a killed run")
    if kept:
        print(f"exptflow: kept {kept} stage(s) that had finished before the crash")
    options = compile_options(arguments, sweep)
    plan_, _ = compile_sweep(options)
    print_orphans(plan_.orphans, plan_.sweep.source)
    settled = settle_interrupted(Path(plan_.output), plan_.directories())
    if settled:
        print(f"exptflow: {settled} stage(s) of a killed run recorded as killed or lost; rerunning")
    print(summary(plan_))
    note = search_note(plan_, options)
    if note:
        print(note)
    selected = narrowed(arguments, plan_, extra)  # --stages, --only, --force: Snakemake targets
    if selected is None:
        return 0
    targeted, targets = selected
    if arguments.detach:
        pid, log = detach_snakemake(targeted, Path("."), plan_.output)
        print(f"snakemake runs in the background (pid {pid}); log: {log}")
        print(f"follow it with `exptflow status` or `tail -f {log}`; cancel: kill -TERM -- -{pid}")
        return 0
    if arguments.verbose or inspects(extra):
        return run_snakemake(targeted, Path("."))
    scope = scope_of(plan_, targets)
    return watched_snakemake(targeted, Path("."), scope, lambda names: rerun_command(scope, names))


# Snakemake's flags that ask about the workflow instead of running it: their output is the
# point, so it reaches the terminal as it is (with no progress display).
INSPECTING = {
    *("-n", "--dry-run", "--dryrun", "--unlock", "--lint", "--report", "--summary", "-S"),
    *("--detailed-summary", "-D", "--list-rules", "--list", "-l", "--list-target-rules"),
    *("--lt", "--dag", "--rulegraph", "--filegraph", "--d3dag", "-h", "--help", "--version"),
    *("-v", "--cleanup-metadata", "--cm", "--touch", "-t", "--list-changes", "--lc"),
    *("--list-input-changes", "--li", "--list-params-changes", "--lp", "--list-code-changes"),
    *("--lc", "--list-untracked", "--lu", "--print-compilation", "--archive", "--containerize"),
    *("--delete-all-output", "--delete-temp-output", "--generate-unit-tests", "--export-cwl"),
}


def inspects(extra: list[str]) -> bool:
    return any(argument.split("=")[0] in INSPECTING for argument in extra)


def rerun_command(scope: Scope, names: list[str]) -> str:
    """``exptflow run`` as it was typed (up to `--`, without a selection), with these
    experiments' last stages in the run as Snakemake's targets: it runs what they miss, and
    nothing of the other experiments."""
    given = sys.argv[1:]
    given = without_selection(given[: given.index("--")] if "--" in given else given)
    targets = [
        str(ExperimentPaths.of(scope.output, name).done(list(scope.commands[name])[-1]))
        for name in names
    ]
    return shlex.join(["exptflow", *given, "--", *targets])

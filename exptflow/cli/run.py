"""``exptflow run [SWEEP] [SNAKEMAKE ARGS]``: compile if needed, clear a stale lock, run
Snakemake."""

from __future__ import annotations

import argparse
from pathlib import Path

from exptflow.cli.options import (
    add_compile_options,
    add_sweep_argument,
    add_switches,
    compile_options,
    print_orphans,
    sweep_of,
)


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(
        name,
        help="compile, then run snakemake (resumes after a crash); other args go to snakemake",
    )
    add_sweep_argument(parser)
    detach = "run snakemake in the background, immune to logout; its log goes to the output dir"
    add_switches(parser, {"--detach": detach})
    add_compile_options(parser)


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    from exptflow.compiler.compile import compile_sweep, search_note, summary
    from exptflow.runtime.launch import (
        detach_snakemake,
        recover_from_crash,
        refuse_beside_live_run,
        run_snakemake,
        settle_interrupted,
    )

    sweep = sweep_of(arguments, extra)
    refuse_beside_live_run(Path("."), "exptflow run")
    unlocked, kept = recover_from_crash(Path("."))  # first: the plan counts kept stages as done
    if unlocked:
        print("exptflow: removed a stale Snakemake lock left by a killed run")
    if kept:
        print(f"exptflow: kept {kept} stage(s) that had finished before the crash")
    plan_, _ = compile_sweep(compile_options(arguments, sweep))
    print_orphans(plan_.orphans, plan_.sweep.source)
    settled = settle_interrupted(Path(plan_.output), [p.directory_name for p in plan_.experiments])
    if settled:
        print(f"exptflow: {settled} stage(s) of a killed run recorded as killed or lost; rerunning")
    print(summary(plan_))
    note = search_note(plan_)
    if note:
        print(note)
    if arguments.detach:
        pid, log = detach_snakemake(extra, Path("."), plan_.output)
        print(f"snakemake runs in the background (pid {pid}); log: {log}")
        print(f"follow it with `exptflow status` or `tail -f {log}`; cancel: kill -TERM -- -{pid}")
        return 0
    return run_snakemake(extra, Path("."))

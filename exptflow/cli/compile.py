"""``exptflow compile [SWEEP] [-o DIR] [--title T] [--sample N] [--dry-run]``."""

from __future__ import annotations

import argparse
import sys

from exptflow.cli.options import add_compile_options, compile_options, print_orphans
from exptflow.errors import UserInputError


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(name, help="write the Snakefile, experiments table and profile")
    parser.add_argument("sweep", nargs="?", default="params.yaml", help="default: params.yaml")
    add_compile_options(parser)
    parser.add_argument(
        "--dry-run", "-n", action="store_true", help="write nothing; print each command to run"
    )


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise UserInputError(f"exptflow compile: unknown arguments: {' '.join(extra)}")
    from exptflow.bulk import paused_gc
    from exptflow.compiler.compile import (
        compile_sweep,
        dry_run_lines,
        plan_sweep,
        search_note,
        summary,
    )

    options = compile_options(arguments, arguments.sweep)
    if arguments.dry_run:
        with paused_gc():
            plan_ = plan_sweep(options)
        print_orphans(plan_.orphans, plan_.sweep.source)
        for line in dry_run_lines(plan_):
            print(line)
        return 0
    plan_, written = compile_sweep(options)
    print_orphans(plan_.orphans, plan_.sweep.source)
    print(summary(plan_))
    note = search_note(plan_, options)
    if note:
        print(note)
    for item in written:
        if item.kept_edit:
            print(f"kept {item.path} (edited by you; delete it to regenerate)")
            if item.warning:
                print(f"warning: {item.warning}", file=sys.stderr)
        elif item.changed:
            print(f"wrote {item.path}")
    print("run it with: snakemake   (or: exptflow run)")
    return 0

"""``exptflow run --stages S,... --only QUERY --force [NAME ...]``: run a part of the sweep."""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exptflow.compiler.plan import Plan
    from exptflow.compiler.subset import Selection, Skipped, Targets

SHOWN_NAMES = 5


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stages", help="run only these stages (comma-separated): `--stages train,test`"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="QUERY",
        help="only these experiments: a name glob ('lr=0.1+*'), params ('lr=0.1,seed=0'), "
        'or a pandas query as `show --query` takes ("test_accuracy < 0.8")',
    )
    parser.add_argument(
        "--force",
        nargs="*",
        metavar="EXPERIMENT",
        help="rerun these experiments (names or globs; none: every one selected) even if done",
    )


def selection_of(arguments: argparse.Namespace) -> Selection:
    from exptflow.compiler.subset import Selection

    stages = tuple(s.strip() for s in arguments.stages.split(",")) if arguments.stages else None
    force = tuple(arguments.force) if arguments.force is not None else None
    return Selection(stages, tuple(arguments.only), force)


def narrowed(
    arguments: argparse.Namespace, plan_: Plan, extra: list[str]
) -> tuple[list[str], Targets | None] | None:
    """Snakemake's arguments for the part of the sweep selected, and its targets; None when
    nothing is to run. ``extra`` unchanged (and no targets) without a selection."""
    from exptflow.compiler.subset import targets
    from exptflow.runtime.hooks import SUBSET_RUN

    selection = selection_of(arguments)
    if not selection:
        return extra, None
    chosen = targets(plan_, selection)
    for line in skipped_lines(chosen.skipped):
        print(line)
    if not chosen.run and not chosen.forced:
        print("exptflow run: nothing to run")
        return None
    print(chosen.describe())
    os.environ[SUBSET_RUN] = "1"  # Snakemake's `onsuccess` writes results.tsv (no `collect`)
    return [*extra, *chosen.snakemake_arguments()], chosen


def skipped_lines(skipped: tuple[Skipped, ...]) -> list[str]:
    by_cause: dict[tuple[str, str], list[str]] = defaultdict(list)
    for item in skipped:
        by_cause[(item.stage, item.waits_for)].append(item.experiment)
    lines = []
    for (stage, earlier), names in by_cause.items():
        shown = ", ".join(names[:SHOWN_NAMES]) + (", ..." if len(names) > SHOWN_NAMES else "")
        lines.append(
            f"exptflow run: skipped {stage} of {len(names)} experiment(s) whose {earlier} is not "
            f"done (add {earlier} to --stages, or run without --stages): {shown}"
        )
    return lines


# `exptflow run`'s options that select a part of the sweep: `--force` takes any number of
# names, the others one value.
SELECTION_OPTIONS = ("--stages", "--only", "--force")


def without_selection(given: list[str]) -> list[str]:
    """``given`` (the words of an `exptflow run`) without `--stages`, `--only` and `--force`."""
    kept: list[str] = []
    position = 0
    while position < len(given):
        word = given[position]
        position += 1
        name = word.split("=")[0]
        if name not in SELECTION_OPTIONS:
            kept.append(word)
        elif name == "--force" and "=" not in word:
            while position < len(given) and not given[position].startswith("-"):
                position += 1
        elif "=" not in word:
            position += 1
    return kept

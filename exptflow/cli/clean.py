"""``exptflow clean [-o DIR] [--yes]``: archive the experiments no longer in the sweep."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from exptflow.errors import UserInputError


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(
        name, help="list the experiments no longer in the sweep; --yes moves them to an archive"
    )
    parser.add_argument("-o", "--output", help="experiments root (default: the compiled sweep's)")
    parser.add_argument("--yes", action="store_true", help="move them (nothing is deleted)")


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise UserInputError(f"exptflow clean: unknown arguments: {' '.join(extra)}")
    from exptflow.results.clean import archive, describe, plan_clean

    cleaning = plan_clean(Path("."), arguments.output)
    for line in describe(cleaning):
        print(line)
    if not cleaning.stale:
        return 0
    if not arguments.yes:
        where = f" -o {shlex.quote(arguments.output)}" if arguments.output else ""
        again = f"exptflow clean --yes{where}"
        archive_root = cleaning.paths.outputs.archive
        print(f"nothing moved; to move them to {archive_root}/<time>/, run: {again}")
        return 0
    target = archive(cleaning)
    print(f"moved {len(cleaning.stale)} to {target} (move one back to restore it)")
    return 0

"""``exptflow cancel EXPERIMENT...``: stop experiments of the live run, the others go on."""

from __future__ import annotations

import argparse
from pathlib import Path

from exptflow.errors import UserInputError


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(
        name, help="stop experiments of the live run (their later stages don't start)"
    )
    parser.add_argument(
        "experiments", nargs="+", metavar="EXPERIMENT", help="names or globs ('lr=0.1+*')"
    )


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise UserInputError(f"exptflow cancel: unknown arguments: {' '.join(extra)}")
    from exptflow.runtime.cancel import cancel

    for cancelled in cancel(Path("."), arguments.experiments):
        print(cancelled.describe())
    return 0

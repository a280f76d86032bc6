"""``exptflow status [-o DIR]``: one line per experiment, then totals."""

from __future__ import annotations

import argparse
from pathlib import Path

from exptflow.errors import UserInputError
from exptflow.layout.table import read_table
from exptflow.results.status import status_report


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(name, help="each experiment's stages, read from the files")
    parser.add_argument("-o", "--output", help="experiments root (default: the compiled sweep's)")
    parser.add_argument(
        "--all", action="store_true", help="also experiments no longer in the sweep (marked)"
    )


def default_output() -> str:
    table = read_table(Path("."))
    return str(table.get("output", "output")) if table else "output"


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise UserInputError(f"exptflow status: unknown arguments: {' '.join(extra)}")
    output = Path(arguments.output or default_output())
    print(status_report(output, include_stale=arguments.all))
    return 0

"""``exptflow show``: the results table in the terminal, or as tsv/csv/md/latex/json."""

from __future__ import annotations

import argparse
from pathlib import Path

from exptflow.cli.status import default_output
from exptflow.errors import UserInputError
from exptflow.results.show import FORMATS


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(name, help="print the results table (constant columns hidden)")
    parser.add_argument("-o", "--output", help="experiments root (default: the compiled sweep's)")
    parser.add_argument(
        "--query", "-q", help="pandas query, e.g. \"lr <= 0.01 and test_state == 'done'\""
    )
    parser.add_argument(
        "--sort", help="sort by this column (ascending; a search: its metric, best first)"
    )
    parser.add_argument("--desc", action="store_true", help="sort descending")
    parser.add_argument(
        "--group-over", nargs="+", metavar="PARAM", help="aggregate over these params"
    )
    parser.add_argument("--columns", nargs="+", metavar="COLUMN", help="show only these columns")
    parser.add_argument("--all-columns", action="store_true", help="show constant columns too")
    parser.add_argument(
        "--all",
        action="store_true",
        help="also experiments no longer in the sweep (column in_sweep: False)",
    )
    parser.add_argument("--format", "-f", choices=FORMATS, default="table")


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise UserInputError(f"exptflow show: unknown arguments: {' '.join(extra)}")
    from exptflow.layout.table import default_sort
    from exptflow.results import show
    from exptflow.results.load import load

    output = arguments.output or default_output()
    frame = load(output, arguments.query, arguments.group_over, all=arguments.all)
    searched = default_sort(Path("."), output)
    if not arguments.sort and searched and searched[0] in frame.columns:
        frame = frame.sort_values(searched[0], ascending=not searched[1], kind="stable")
    if arguments.sort:
        if arguments.sort not in frame.columns:
            raise UserInputError(f"--sort {arguments.sort}: no such column")
        frame = frame.sort_values(arguments.sort, ascending=not arguments.desc, kind="stable")
    frame = show.select_columns(frame, arguments.columns, arguments.all_columns)
    print(show.format_table(frame, arguments.format))
    return 0

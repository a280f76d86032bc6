"""``exptflow init SCRIPT [--out params.yaml]``: a starter sweep file from a script's parser."""

from __future__ import annotations

import argparse
from pathlib import Path

from exptflow.errors import UserInputError


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(
        name, help="write a starter params.yaml from a training script's argparse parser"
    )
    parser.add_argument("script", help="the training script, e.g. train.py")
    parser.add_argument(
        "--out", default="params.yaml", help="the sweep file to write (never overwritten)"
    )
    parser.add_argument(
        "-o", "--output", default="output", help="experiments root, added to .gitignore"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long the script may run before it parses its arguments",
    )


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise UserInputError(f"exptflow init: unknown arguments: {' '.join(extra)}")
    from exptflow.starter.project import init_project

    started = init_project(
        arguments.script, Path(arguments.out), Path("."), arguments.output, arguments.timeout
    )
    left_out = f", {len(started.left_out)} left out" if started.left_out else ""
    print(
        f"exptflow init: wrote {started.sweep} from {arguments.script}: "
        f"{started.passed} arguments in the command{left_out}"
    )
    for line in started.left_out:
        print(f"  {line}")
    if started.ignored:
        print(f"exptflow init: added to .gitignore: {' '.join(started.ignored)}")
    print(f"next: edit {started.sweep}, then `exptflow compile {started.sweep} --dry-run`")
    return 0

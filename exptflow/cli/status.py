"""``exptflow status [-o DIR]``: one line per experiment, then totals."""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
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
    parser.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=2.0,
        metavar="SECONDS",
        help="redraw every SECONDS (default 2) until Ctrl-C",
    )


def default_output() -> str:
    table = read_table(Path("."))
    return str(table.get("output", "output")) if table else "output"


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise UserInputError(f"exptflow status: unknown arguments: {' '.join(extra)}")
    output = Path(arguments.output or default_output())
    if arguments.watch is not None:
        return watch(lambda: status_report(output, include_stale=arguments.all), arguments.watch)
    print(status_report(output, include_stale=arguments.all))
    return 0


def watch(report: Callable[[], str], seconds: float) -> int:
    """Redraw in place on a terminal; elsewhere print the report each time it changes."""
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    console = Console()
    in_place = console.is_terminal and not console.is_dumb_terminal
    live = Live(console=console, auto_refresh=False) if in_place else None
    shown = None
    with contextlib.suppress(KeyboardInterrupt), live or contextlib.nullcontext():
        while True:
            text = report()
            if live is not None:
                live.update(Text(text), refresh=True)
            elif text != shown:
                print(text, flush=True)
            shown = text
            time.sleep(seconds)  # a redraw's period, not a wait for an event
    return 0

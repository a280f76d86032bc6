"""``exptflow`` entry point: dispatches to one module per verb and turns errors into messages."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from exptflow import __version__
from exptflow.cli import cancel as cancel_verb
from exptflow.cli import clean as clean_verb
from exptflow.cli import compile as compile_verb
from exptflow.cli import export as export_verb
from exptflow.cli import init as init_verb
from exptflow.cli import plot as plot_verb
from exptflow.cli import report as report_verb
from exptflow.cli import run as run_verb
from exptflow.cli import show as show_verb
from exptflow.cli import status as status_verb
from exptflow.cli import tune as tune_verb
from exptflow.errors import ExptflowError

VERBS = {
    "init": init_verb,
    "compile": compile_verb,
    "run": run_verb,
    "tune": tune_verb,
    "status": status_verb,
    "show": show_verb,
    "plot": plot_verb,
    "report": report_verb,
    "clean": clean_verb,
    "export": export_verb,
    "cancel": cancel_verb,
}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="exptflow",
        description="Compile ML experiment sweeps into Snakemake workflows and inspect them.",
        allow_abbrev=False,
    )
    root.add_argument("--version", action="version", version=f"exptflow {__version__}")
    verbs = root.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, module in VERBS.items():
        module.add_parser(verbs, name)
    return root


def split(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """The verb's arguments, and the rest: Snakemake's (all of it after `--`)."""
    given = list(argv)
    cut = given.index("--") if "--" in given else len(given)
    arguments, extra = parser().parse_known_args(given[:cut])
    return arguments, extra + given[cut + 1 :]


def main(argv: Sequence[str] | None = None) -> int:
    arguments, extra = split(sys.argv[1:] if argv is None else argv)
    try:
        return VERBS[arguments.verb].execute(arguments, extra)
    except ExptflowError as error:
        if os.environ.get("EXPTFLOW_DEBUG") == "1":
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


def entry() -> None:
    sys.exit(main())

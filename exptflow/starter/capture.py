"""Run a training script only up to its argument parsing, and describe its argparse parser.

``python -m exptflow.starter.capture OUT SCRIPT`` runs ``SCRIPT`` as ``python SCRIPT`` would
(as ``__main__``, its directory first on ``sys.path``), with ``ArgumentParser.parse_args`` and
``parse_known_args`` replaced: the first parser asked to parse is written to ``OUT`` as JSON,
and the process ends there, before any training starts. A script that never parses leaves
no ``OUT``. Stdlib only: it runs beside the user's imports.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import runpy
import sys
from typing import Any, NoReturn

# Most specific first: store_true is a store_const, extend an append.
KINDS: tuple[tuple[type[argparse.Action], str], ...] = (
    (argparse._HelpAction, "help"),
    (argparse._VersionAction, "version"),
    (argparse._SubParsersAction, "subparsers"),
    (argparse._StoreTrueAction, "store_true"),
    (argparse._StoreFalseAction, "store_false"),
    (argparse._StoreConstAction, "store_const"),
    (argparse._AppendConstAction, "append_const"),
    (argparse._CountAction, "count"),
    (argparse._ExtendAction, "extend"),
    (argparse._AppendAction, "append"),
    (argparse.BooleanOptionalAction, "boolean_optional"),
    (argparse._StoreAction, "store"),
)


def kind_of(action: argparse.Action) -> str:
    for cls, kind in KINDS:
        if isinstance(action, cls):
            return kind
    return "custom" if action.nargs != 0 else "custom_flag"


def plain(value: Any) -> Any:
    """A JSON value: scalars as they are, paths as text, lists element-wise, others as text."""
    if value is None or value is argparse.SUPPRESS:
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return str(value)


def default_of(action: argparse.Action) -> Any:
    """The default as the script would see it: argparse converts a text default by ``type``."""
    default = action.default
    if isinstance(default, str) and callable(action.type) and default is not argparse.SUPPRESS:
        with contextlib.suppress(Exception):  # the script's own converter: anything goes
            default = action.type(default)
    return plain(default)


def help_of(parser: argparse.ArgumentParser, action: argparse.Action) -> str | None:
    if not action.help or action.help is argparse.SUPPRESS:
        return None
    try:
        text = parser._get_formatter()._expand_help(action)
    except Exception:  # a help string with a stray %: keep it as written
        text = action.help
    return " ".join(str(text).split())


def describe(parser: argparse.ArgumentParser) -> dict[str, Any]:
    return {
        "prog": parser.prog,
        "actions": [
            {
                "kind": kind_of(action),
                "options": list(action.option_strings),
                "dest": action.dest,
                "default": default_of(action),
                "type": getattr(action.type, "__name__", None) if action.type else None,
                "choices": plain(list(action.choices)) if action.choices is not None else None,
                "required": bool(action.required),
                "nargs": action.nargs,
                "help": help_of(parser, action),
                "metavar": action.metavar if isinstance(action.metavar, str) else None,
            }
            for action in parser._actions
        ],
    }


def capture_to(out: str) -> None:
    """Replace parsing with: describe the parser to ``out``, then end the process."""

    def captured(parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> NoReturn:
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(describe(parser), handle)
        sys.stdout.flush()
        os._exit(0)  # no atexit hooks, no finally blocks of the script: nothing else runs

    argparse.ArgumentParser.parse_args = captured  # type: ignore[method-assign,assignment]
    argparse.ArgumentParser.parse_known_args = captured  # type: ignore[method-assign,assignment]


def main() -> None:
    out, script = sys.argv[1], sys.argv[2]
    capture_to(out)
    sys.argv = [script]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()

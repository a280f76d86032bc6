"""Stage templates → shell commands (pure): ``{p}`` is the quoted value, ``[p]`` a flag."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

Scalar = str | int | float | bool

# ``${VAR}`` is shell, not a placeholder; names start with a letter or ``_`` so that
# shell globs such as ``[0-9]`` stay shell.
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][\w\-]*)\}|\[([A-Za-z_][\w\-]*)\]")
_LINE_BREAKS = re.compile(r"\s*\n\s*")

RESERVED = ("_output", "_name", "_time")
# The wrapper exports the start time of each job; rendering it at compile time would make
# every recompile look like a change.
TIME_EXPANSION = '"$EXPTFLOW_TIME"'


@dataclass(frozen=True)
class Placeholder:
    param: str
    flag: bool  # True for ``[param]``, False for ``{param}``


Token = str | Placeholder


def fold(command: str) -> str:
    """Multi-line commands become one line, as mlrunner does."""
    return _LINE_BREAKS.sub(" ", command).strip()


def parse(command: str) -> tuple[Token, ...]:
    """Split a folded command into literal text and placeholders."""
    tokens: list[Token] = []
    position = 0
    for match in _PLACEHOLDER.finditer(command):
        if match.start() > position:
            tokens.append(command[position : match.start()])
        value_name, flag_name = match.groups()
        tokens.append(Placeholder(value_name or flag_name, flag=flag_name is not None))
        position = match.end()
    if position < len(command):
        tokens.append(command[position:])
    return tuple(tokens)


def placeholders(tokens: tuple[Token, ...]) -> list[Placeholder]:
    return [token for token in tokens if isinstance(token, Placeholder)]


def format_value(value: Scalar) -> str:
    """The text of a value as the program sees it (floats round-trip exactly)."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def quote(value: Scalar) -> str:
    return shlex.quote(format_value(value))


def _render_flag(param: str, value: Scalar) -> str:
    if value is True:
        return f"--{param}"
    if value is False:
        return ""
    return f"--{param} {quote(value)}"


def render(
    tokens: tuple[Token, ...], params: Mapping[str, Scalar], directory: str, name: str
) -> str:
    """The shell command of one stage of one experiment.

    ``params`` must hold every placeholder's param (the sweep model checks that); a boolean
    in ``{}`` is rejected there too.
    """
    reserved = {"_output": shlex.quote(directory), "_name": shlex.quote(name)}
    parts = []
    for token in tokens:
        if isinstance(token, str):
            parts.append(token)
        elif token.param == "_time":
            parts.append(TIME_EXPANSION)
        elif token.param in reserved:
            parts.append(reserved[token.param])
        elif token.flag:
            parts.append(_render_flag(token.param, params[token.param]))
        else:
            parts.append(quote(params[token.param]))
    return "".join(parts)

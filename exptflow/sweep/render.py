"""Stage templates → shell commands (pure): ``{p}`` is the quoted value, ``[p]`` a flag."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

Scalar = str | int | float | bool

# ``${VAR}`` is shell, not a placeholder; names start with a letter or ``_`` so that
# shell globs such as ``[0-9]`` stay shell. ``{prep._output}`` is another stage's directory.
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][\w\-]*(?:\._output)?)\}|\[([A-Za-z_][\w\-]*)\]")
_LINE_BREAKS = re.compile(r"\s*\n\s*")
# ``{lr`` or ``[lr`` before a space, the end or a closing bracket: possibly a placeholder
# missing its own closing bracket (the caller keeps only names the sweep knows).
_OPENED = re.compile(r"(?<!\$)([{\[])([A-Za-z_][\w\-]*)(?=\s|$|[}\]])")
_CLOSER = {"{": "}", "[": "]"}

RESERVED = ("_output", "_name", "_time")
# ``{<stage>._output}``: the directory of an earlier (shared) stage, or of the experiments a
# shared stage gathers.
OUTPUT_OF = "._output"
# The wrapper exports the start time of each job; rendering it at compile time would make
# every recompile look like a change.
TIME_EXPANSION = '"$EXPTFLOW_TIME"'
# Inside single quotes the shell expands nothing: close them around the expansion.
TIME_IN_SINGLE_QUOTES = "'" + TIME_EXPANSION + "'"


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


def unterminated(command: str) -> list[tuple[str, str]]:
    """``(opening bracket, name)`` of each ``{name`` or ``[name`` not closed by its bracket."""
    found = []
    for match in _OPENED.finditer(command):
        opener, name = match.groups()
        if command[match.end() : match.end() + 1] != _CLOSER[opener]:
            found.append((opener, name))
    return found


def placeholders(tokens: tuple[Token, ...]) -> list[Placeholder]:
    return [token for token in tokens if isinstance(token, Placeholder)]


def is_reserved(param: str) -> bool:
    """``{_output}``, ``{_name}``, ``{_time}`` and ``{<stage>._output}``: not params."""
    return param in RESERVED or param.endswith(OUTPUT_OF)


def stage_of(param: str) -> str | None:
    """The stage whose directory ``{<stage>._output}`` names; None for any other placeholder."""
    return param[: -len(OUTPUT_OF)] if param.endswith(OUTPUT_OF) else None


def referenced_stages(tokens: tuple[Token, ...]) -> list[str]:
    """The stages whose directories a command reads, in order, each once."""
    found = (stage_of(token.param) for token in placeholders(tokens))
    return list(dict.fromkeys(stage for stage in found if stage))


def used_params(tokens: tuple[Token, ...]) -> set[str]:
    """The params a command uses (not the reserved names nor other stages' directories)."""
    return {token.param for token in placeholders(tokens) if not is_reserved(token.param)}


def format_value(value: Scalar) -> str:
    """The text of a value as the program sees it (floats round-trip exactly)."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


# Grids repeat the same values across thousands of experiments: quote each one once.
@lru_cache(maxsize=65536)
def _quoted(value: Scalar, kind: type) -> str:
    return shlex.quote(format_value(value))


def quote(value: Scalar) -> str:
    return _quoted(value, type(value))  # type: ignore[arg-type]  # a type is hashable


@lru_cache(maxsize=65536)
def _flag(param: str, value: Scalar, kind: type) -> str:
    if value is True:
        return f"--{param}"
    if value is False:
        return ""
    return f"--{param} {_quoted(value, kind)}"


class Renderer:
    """A stage template compiled once into a Python function, then called per experiment.

    Big sweeps render hundreds of thousands of commands; a generated function that
    concatenates literals and cached quoted values is several times faster than walking
    the tokens each time. Only ``repr`` of the template's own text reaches the code.
    """

    def __init__(self, tokens: tuple[Token, ...]) -> None:
        parts = []
        for token, quoting in zip(tokens, _quoting(tokens), strict=True):
            if isinstance(token, str):
                parts.append(repr(token))
            elif token.param == "_time" and quoting == "'":
                parts.append(repr(TIME_IN_SINGLE_QUOTES))
            elif is_reserved(token.param):
                parts.append(f"reserved[{token.param!r}]")
            elif token.flag:
                parts.append(f"flag({token.param!r}, params[{token.param!r}])")
            else:
                parts.append(f"quote(params[{token.param!r}])")
        source = "lambda params, reserved: " + (" + ".join(parts) or "''")
        self._render = eval(source, {"quote": quote, "flag": _flag_of})

    def __call__(self, params: Mapping[str, Scalar], reserved: Mapping[str, str]) -> str:
        """The shell command of one experiment (the sweep model checked every placeholder)."""
        return self._render(params, reserved)


def _quoting(tokens: tuple[Token, ...]) -> list[str]:
    """The shell quote each token starts inside: ``'``, ``"`` or none (``""``)."""
    states, state, escaped = [], "", False
    for token in tokens:
        states.append(state)
        for char in token if isinstance(token, str) else "":
            if escaped:
                escaped = False
            elif char == "\\" and state != "'":
                escaped = True
            elif char in "'\"" and state in ("", char):
                state = char if state == "" else ""
    return states


def _flag_of(param: str, value: Scalar) -> str:
    return _flag(param, value, type(value))  # type: ignore[arg-type]  # a type is hashable


def reserved_values(directory: str, name: str) -> dict[str, str]:
    """What ``{_output}``, ``{_name}`` and ``{_time}`` become for one experiment."""
    return {"_output": shlex.quote(directory), "_name": shlex.quote(name), "_time": TIME_EXPANSION}


def render(
    tokens: tuple[Token, ...], params: Mapping[str, Scalar], directory: str, name: str
) -> str:
    """The shell command of one stage of one experiment."""
    return Renderer(tokens)(params, reserved_values(directory, name))

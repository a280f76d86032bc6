"""A parser's arguments → the text of a starter sweep file (pure).

Each argument becomes a param of ``default`` and a placeholder of the one stage: a value as
``--lr {lr}``, a flag as ``[early-stop]`` (``--early-stop`` when true, nothing when false), a
positional as ``{data}``. What a placeholder can't pass (an optional argument without a
default, several values, a short-only flag) is left out of the command and listed in a
comment saying how to add it. A required argument without a default gets a visible stand-in
value (``DATA``) that the program refuses until it is set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from exptflow.sweep.spec import PARAM_NAME

FLAG_KINDS = ("store_true", "store_false", "store_const", "append_const", "count", "custom_flag")
SKIPPED_KINDS = ("help", "version")
MULTIPLE_KINDS = ("append", "extend")
# Options a script saves its results to: they get each experiment's directory, {_output}.
# fmt: off
OUTPUT_DESTS = frozenset([
    "output", "output_dir", "out", "out_dir", "outdir", "save", "save_dir", "save_path",
    "savedir", "log_dir", "logdir", "checkpoint_dir", "ckpt_dir", "run_dir", "exp_dir",
    "work_dir", "workdir", "results_dir",
])
# fmt: on


@dataclass(frozen=True)
class Argument:
    """One action of the parser, as ``capture`` described it."""

    kind: str
    options: tuple[str, ...]
    dest: str
    default: Any = None
    type: str | None = None
    choices: tuple[Any, ...] | None = None
    required: bool = False
    nargs: Any = None
    help: str | None = None
    metavar: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Argument:
        choices = data.get("choices")
        return cls(
            kind=data["kind"],
            options=tuple(data.get("options", ())),
            dest=data["dest"],
            default=data.get("default"),
            type=data.get("type"),
            choices=tuple(choices) if choices is not None else None,
            required=bool(data.get("required")),
            nargs=data.get("nargs"),
            help=data.get("help"),
            metavar=data.get("metavar"),
        )

    @property
    def positional(self) -> bool:
        return not self.options

    @property
    def option(self) -> str:
        """The option the command passes: the first long one, else the first (a positional:
        its name)."""
        longs = [o for o in self.options if o.startswith("--")]
        return (longs or list(self.options) or [self.dest])[0]

    @property
    def multiple(self) -> bool:
        return (
            self.kind in MULTIPLE_KINDS or self.nargs in ("*", "+") or isinstance(self.nargs, int)
        )


@dataclass(frozen=True)
class Param:
    """An argument the command passes: a param of ``default`` and its placeholder."""

    name: str
    token: str  # ``--lr {lr}``, ``[early-stop]``, ``{data}``
    value: Any
    note: str  # the comment beside its default
    sweep: list[Any]  # the values the grid document's comment suggests
    stand_in: bool = False  # the value is a stand-in for a required one

    @property
    def in_default(self) -> bool:
        """Every param but ``{_output}``, which each experiment's directory fills in."""
        return self.name != "_output"


@dataclass(frozen=True)
class LeftOut:
    """An argument the command does not pass, and how to add it."""

    option: str
    why: str


def param_name(argument: Argument) -> str:
    """``--early-stop`` → ``early-stop`` (so ``[early-stop]`` passes ``--early-stop``)."""
    name = argument.option.lstrip("-") if argument.option.startswith("--") else argument.dest
    name = re.sub(r"[^\w\-]", "-", name)
    return name if PARAM_NAME.match(name) else f"arg-{name}"


def describe(argument: Argument) -> str:
    parts = []
    if argument.required and argument.default is None:
        parts.append("required: set it")
    if argument.choices is not None:
        parts.append("one of: " + ", ".join(map(str, argument.choices)))
    elif argument.type:
        parts.append(argument.type)
    if argument.help:
        parts.append(argument.help)
    return "; ".join(parts)


def stand_in(argument: Argument) -> Any:
    """A value for a required argument without a default."""
    if argument.choices:
        return argument.choices[0]
    return (argument.metavar or argument.dest).upper().replace("-", "_")


def plan_argument(argument: Argument, name: str) -> Param | LeftOut | None:
    """How one argument reaches the command, or why it does not."""
    if argument.kind in SKIPPED_KINDS:
        return None
    if argument.kind == "subparsers":
        return LeftOut("(subcommands)", "sub-commands: add the one to run to the command")
    if argument.kind in FLAG_KINDS or argument.kind == "boolean_optional":
        return _flag(argument, name)
    if argument.dest.lower() in OUTPUT_DESTS and not argument.positional:
        return Param("_output", f"{argument.option} {{_output}}", None, "", [])
    return _value(argument, name)


def _flag(argument: Argument, name: str) -> Param | LeftOut:
    if argument.kind == "boolean_optional" and argument.default is True:
        negative = "--no-" + argument.option.lstrip("-")
        return Param(f"no-{name}", f"[no-{name}]", False, f"flag: {negative}", [False, True])
    if not argument.option.startswith("--"):
        return LeftOut(argument.option, "a short flag: add it to the command to pass it")
    note = "; ".join(filter(None, ["flag", argument.help]))
    return Param(name, f"[{name}]", False, note, [False, True])


def _value(argument: Argument, name: str) -> Param | LeftOut:
    value = argument.default
    needed = argument.required or (argument.positional and argument.nargs not in ("?", "*"))
    if isinstance(value, list):
        value = value[0] if len(value) == 1 and argument.multiple else None
    missing = value is None and needed
    if missing:
        value = stand_in(argument)
    if value is None or (argument.multiple and not needed):
        return LeftOut(argument.option, _why(argument))
    token = f"{{{name}}}" if argument.positional else f"{argument.option} {{{name}}}"
    sweep = list(argument.choices) if argument.choices else [value]
    return Param(name, token, value, describe(argument), sweep, stand_in=missing)


def _why(argument: Argument) -> str:
    if argument.multiple:
        shown = "" if argument.default is None else f" (default {argument.default})"
        return f"takes several values{shown}: write them in the command to pass them"
    placeholder = f"{{{param_name(argument)}}}"
    add = placeholder if argument.positional else f"{argument.option} {placeholder}"
    return f"no default: add `{add}` to the command and a value to `default`"


def plan(arguments: Iterable[Argument]) -> tuple[list[Param], list[LeftOut]]:
    params: list[Param] = []
    left_out: list[LeftOut] = []
    used: set[str] = set()
    ordered = sorted(arguments, key=lambda a: not a.positional)  # positionals first
    for argument in ordered:
        name = _unique(param_name(argument), used)
        planned = plan_argument(argument, name)
        if isinstance(planned, Param):
            used.add(planned.name)
            params.append(planned)
        elif planned is not None:
            left_out.append(planned)
    return params, left_out


def _unique(name: str, used: set[str]) -> str:
    candidate, number = name, 2
    while candidate in used:
        candidate, number = f"{name}-{number}", number + 1
    return candidate


def scalar(value: Any) -> str:
    """One YAML value on one line, quoted where YAML would read it as something else."""
    text = yaml.safe_dump([value], default_flow_style=True, width=1 << 20).strip()
    return text[1:-1]


def sweep_text(script: str, params: Sequence[Param], left_out: Sequence[LeftOut]) -> str:
    """The starter sweep file: one stage running ``script`` with ``params``."""
    lines = [
        f"# Starter sweep for {script}, written by `exptflow init` from its argparse parser.",
        "# Check it with `exptflow compile --dry-run`, run it with `exptflow run`.",
        "---",
        "template:",
        "  train: >",
        f"    python {script}",
        *(f"    {param.token}" for param in params),
    ]
    lines += _left_out_comment(left_out)
    if all(param.in_default for param in params):
        lines.append("  # {_output} is each experiment's directory: pass it where the script saves")
    valued = [param for param in params if param.in_default]
    lines += _defaults(valued)
    lines += ["# resource: [0, 1]   # GPU slots: one job per entry at a time"]
    lines += _grid(valued)
    return "\n".join(lines) + "\n"


def _left_out_comment(left_out: Sequence[LeftOut]) -> list[str]:
    if not left_out:
        return []
    return ["  # Not passed:", *(f"  #   {item.option}: {item.why}" for item in left_out)]


def _defaults(params: list[Param]) -> list[str]:
    if not params:
        return []
    entries = [(f"  {param.name}: {scalar(param.value)}", param.note) for param in params]
    width = max(len(entry) for entry, _ in entries)
    return ["default:", *(f"{e.ljust(width)}  # {n}" if n else e for e, n in entries)]


def _grid(params: list[Param]) -> list[str]:
    """One grid document: one param over its default (one experiment: a seed, else a value
    the script gave), the others as commented suggestions to uncomment."""
    given = [param for param in params if not param.stand_in and param.sweep != [False, True]]
    seeds = [param for param in params if param.name == "seed"]
    lines = ["---", "# A grid: one experiment per combination of these lists. Uncomment to sweep."]
    if not params:
        return [*lines, "seed: [0]   # no param: this one only names the run"]
    first = (seeds or given or params)[0]
    lines.append(f"{first.name}: [{scalar(first.value)}]")
    for param in params:
        if param is not first:
            values = ", ".join(scalar(value) for value in param.sweep)
            lines.append(f"# {param.name}: [{values}]")
    return lines

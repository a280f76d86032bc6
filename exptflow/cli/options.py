"""Options shared by the verbs that compile a sweep."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from exptflow.errors import UserInputError

if TYPE_CHECKING:
    from exptflow.compiler.compile import CompileOptions


def add_compile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", help="experiments root (default: the sweep's `output`)")
    parser.add_argument("--title", "-t", help="only the grid documents with this `_title`")
    parser.add_argument("--sample", type=int, help="a random subset of N experiments")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    add_set_option(parser, "lr=1e-3,1e-2 | seed=0:3 | default.data=wmt")
    add_switches(parser, COMPILE_SWITCHES)


def add_set_option(parser: argparse.ArgumentParser, examples: str) -> None:
    parser.add_argument(
        "-S",
        "--set",
        action="append",
        default=[],
        metavar="PARAM=VALUES",
        help=f"override without editing the file: {examples}",
    )


COMPILE_SWITCHES = {
    "--rename-changed": "give experiments whose directory holds other params a new directory",
    "--yes": "compile even a huge sweep",
    "--replace": "replace the Snakefile and table another sweep file compiled here",
    "--snapshot": "run the stages from a copy of the commit (`code: snapshot`)",
    "--snapshot-uncommitted": "the same, with the uncommitted diff applied",
}


def add_switches(parser: argparse.ArgumentParser, switches: dict[str, str]) -> None:
    """Flags that take no value, by name and help text."""
    for flag, text in switches.items():
        parser.add_argument(flag, action="store_true", help=text)


def compile_options(arguments: argparse.Namespace, sweep: str) -> CompileOptions:
    from exptflow.compiler.compile import CompileOptions

    return CompileOptions(
        sweep=sweep,
        output=arguments.output,
        title=arguments.title,
        sample=arguments.sample,
        seed=arguments.seed,
        rename_changed=arguments.rename_changed,
        yes=arguments.yes,
        replace=arguments.replace,
        overrides=tuple(arguments.set),
        code=_code(arguments),
    )


def _code(arguments: argparse.Namespace) -> str | None:
    # `exptflow tune` has not these switches: its trials run from the live tree, or as the
    # sweep file's `code` says.
    if getattr(arguments, "snapshot_uncommitted", False):
        return "snapshot+uncommitted"
    return "snapshot" if getattr(arguments, "snapshot", False) else None


def print_orphans(orphans: tuple[str, ...], source: str) -> None:
    """On stderr: ``compile --dry-run`` prints the commands on stdout."""
    if orphans:
        print(
            f"warning: {source}: params no template uses, which only name experiments "
            f"(declare one so with `_tags: [{orphans[0]}]` in its document): " + ", ".join(orphans),
            file=sys.stderr,
        )


SWEEP_SUFFIXES = (".yaml", ".yml")


def add_sweep_argument(parser: argparse.ArgumentParser) -> None:
    """``exptflow run [SWEEP] [SNAKEMAKE ARGS]`` (and ``--sweep FILE``, as before)."""
    parser.add_argument("--sweep", help="the sweep file, also given first: `run other.yaml`")


def sweep_of(arguments: argparse.Namespace, extra: list[str]) -> str:
    """The sweep file: ``--sweep``, or the first argument Snakemake would get if it is a YAML
    file (Snakemake's own args, a target or `--configfile x.yaml`, come after it)."""
    if extra and extra[0].endswith(SWEEP_SUFFIXES) and not extra[0].startswith("-"):
        given = extra.pop(0)
        if arguments.sweep:
            raise UserInputError(f"two sweep files: {given} and --sweep {arguments.sweep}")
        return given
    return arguments.sweep or "params.yaml"

"""``exptflow tune [SNAKEMAKE ARGS]``: an adaptive search (Optuna) over the sweep's space."""

from __future__ import annotations

import argparse

from exptflow.cli.options import add_set_option, compile_options


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(
        name,
        help="search the `search:` space with Optuna, trials run as experiments; other args "
        "go to snakemake",
    )
    parser.add_argument("--sweep", default="params.yaml", help="default: params.yaml")
    parser.add_argument("-o", "--output", help="experiments root (default: the sweep's `output`)")
    parser.add_argument("--title", "-t", help="the grid document to search, by its `_title`")
    parser.add_argument("--trials", type=int, help="the budget, instead of `search.trials`")
    parser.add_argument("--parallel", type=int, help="trials at once, instead of the block's")
    add_set_option(parser, "a fixed param: seed=1 | default.data=wmt")
    parser.add_argument("--replace", action="store_true", help="as `exptflow compile --replace`")


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    from exptflow.errors import UserInputError
    from exptflow.search.tune import TuneOptions, tune

    for flag in ("trials", "parallel"):
        value = getattr(arguments, flag)
        if value is not None and value < 1:
            raise UserInputError(f"--{flag} {value}: give a whole number of at least 1")
    arguments.sample, arguments.seed, arguments.yes = None, 0, False
    arguments.rename_changed = True
    options = TuneOptions(
        compile_options(arguments, arguments.sweep), arguments.trials, arguments.parallel
    )
    return tune(options, extra)

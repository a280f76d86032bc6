"""``exptflow tune [SWEEP] [SNAKEMAKE ARGS]``: an adaptive search (Optuna) over the sweep's
space."""

from __future__ import annotations

import argparse

from exptflow.cli.options import add_set_option, add_sweep_argument, compile_options, sweep_of


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(
        name,
        help="search the `search:` space with Optuna, trials run as experiments; other args "
        "go to snakemake",
    )
    add_sweep_argument(parser)
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
        compile_options(arguments, sweep_of(arguments, extra)), arguments.trials, arguments.parallel
    )
    return tune(options, extra)

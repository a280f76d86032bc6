"""``exptflow plot METRIC --x PARAM [--hue PARAM]`` and ``exptflow plot --curves METRIC``."""

from __future__ import annotations

import argparse

from exptflow.cli.status import default_output
from exptflow.errors import UserInputError


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(name, help="plot a metric against a param, or logged curves (PNG)")
    parser.add_argument("metric", nargs="?", help="the metric to plot against --x")
    parser.add_argument("--x", help="the param on the x axis")
    parser.add_argument("--hue", help="one line per value of this param")
    parser.add_argument("--curves", metavar="METRIC", help="plot this logged series per experiment")
    parser.add_argument("--query", "-q", help="only the experiments matching this pandas query")
    # -o is the experiments root, as in every other verb.
    parser.add_argument("-o", "--output", help="experiments root (default: the compiled sweep's)")
    parser.add_argument("--out", dest="png", help="PNG file (default: <metric>.png)")


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise UserInputError(f"exptflow plot: unknown arguments: {' '.join(extra)}")
    from exptflow.results import plot
    from exptflow.results.load import load

    output = arguments.output or default_output()
    spec = {
        key: value
        for key, value in vars(arguments).items()
        if key in ("metric", "x", "hue", "curves", "query") and value is not None
    }
    figure = plot.draw(load(output, arguments.query), output, spec)
    path = plot.save(figure, arguments.png or f"{arguments.curves or arguments.metric}.png")
    plot.record(output, path.stem, spec)  # `exptflow report` draws it again
    print(f"wrote {path}")
    return 0

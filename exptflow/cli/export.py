"""``exptflow export mlflow [--tracking-uri URI]`` and ``exptflow export tensorboard DIR``."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from exptflow.cli.status import default_output
from exptflow.errors import UserInputError

if TYPE_CHECKING:
    from exptflow.export.experiments import Sweep


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(name, help="export the results to MLflow or TensorBoard")
    targets = parser.add_subparsers(dest="target", required=True, metavar="TARGET")
    mlflow = targets.add_parser("mlflow", help="one MLflow run per experiment (updated in place)")
    mlflow.add_argument(
        "--tracking-uri",
        help="MLflow's store or server (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    mlflow.add_argument(
        "--experiment", help="the MLflow experiment (default: <directory>/<sweep file stem>)"
    )
    tensorboard = targets.add_parser("tensorboard", help="scalars and HParams per experiment")
    tensorboard.add_argument("directory", help="TensorBoard's log directory to write")
    for target in (mlflow, tensorboard):
        target.add_argument("-o", "--output", help="experiments root (default: the compiled one)")
        target.add_argument("--query", "-q", help="only the experiments matching this pandas query")
        target.add_argument(
            "--all", action="store_true", help="also experiments no longer in the sweep"
        )


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        raise UserInputError(f"exptflow export: unknown arguments: {' '.join(extra)}")
    from exptflow.export.experiments import read_sweep

    output = arguments.output or default_output()
    sweep = read_sweep(output, arguments.query, arguments.all)
    if not sweep.experiments:
        raise UserInputError(
            f"exptflow export: no experiments in {output}"
            + (f" match {arguments.query!r}" if arguments.query else "")
            + "; run the sweep first, or give its experiments root with -o DIR"
        )
    if arguments.target == "mlflow":
        print(_to_mlflow(sweep, arguments))
    else:
        print(_to_tensorboard(sweep, arguments))
    return 0


def _to_mlflow(sweep: Sweep, arguments: argparse.Namespace) -> str:
    from exptflow.export.to_mlflow import export_mlflow

    # MLflow says at INFO that it creates or migrates its database: not this command's news.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    done = export_mlflow(sweep, arguments.tracking_uri, arguments.experiment)
    return (
        f"exptflow export mlflow: {done.created + done.updated} runs in MLflow experiment "
        f"{done.experiment!r} at {done.tracking_uri} ({done.created} created, "
        f"{done.updated} updated; {done.points} metric values and {done.files} files logged)"
    )


def _to_tensorboard(sweep: Sweep, arguments: argparse.Namespace) -> str:
    from exptflow.export.to_tensorboard import export_tensorboard

    done = export_tensorboard(sweep, arguments.directory)
    return (
        f"exptflow export tensorboard: {done.runs} runs, {done.scalars} scalars in "
        f"{done.directory} (tensorboard --logdir {done.directory})"
    )

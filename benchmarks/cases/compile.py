"""Compile and `snakemake -n` at 1k/10k/100k experiments."""

from __future__ import annotations

from pathlib import Path

from common import Figure, alternate, median, run, write

from cases.sweeps import (
    EXPTFLOW,
    HANDWRITTEN,
    SNAKEMAKE,
    fresh,
    grid_sweep,
)


def compile_speed(root: Path, quick: bool) -> list[Figure]:
    figures = []
    per_experiment = {}
    for experiments in (1000, 10000, 100000):
        directory = fresh(root / f"compile-{experiments}")
        write(directory / "params.yaml", grid_sweep(experiments))

        def compile_once() -> float:
            (directory / "experiments.json").unlink(missing_ok=True)
            return run([*EXPTFLOW, "compile"], directory)

        samples = alternate({"compile": compile_once}, 1 if quick else 3)["compile"]
        per_experiment[experiments] = median(samples) / experiments
        target = (
            {"target": "<= 3 s", "passed": median(samples) <= 3.0} if experiments == 100000 else {}
        )
        figures.append(
            Figure(
                "compile",
                f"exptflow compile, {experiments} experiments x 3 stages",
                median(samples),
                "s",
                samples=samples,
                **target,
            )
        )
        if experiments <= (1000 if quick else 10000):
            figures.append(dry_run(directory, experiments, quick))
    growth = per_experiment[100000] / per_experiment[10000]
    figures.append(
        Figure(
            "compile",
            "time per experiment, 100,000 vs 10,000 (linear = 1)",
            growth,
            "x",
            target="<= 1.3 (linear)",
            passed=growth <= 1.3,
        )
    )
    return figures


def dry_run(directory: Path, experiments: int, quick: bool) -> Figure:
    samples = alternate(
        {
            "handwritten": lambda: run([*SNAKEMAKE, "-n", "-s", str(HANDWRITTEN)], directory),
            "exptflow": lambda: run([*SNAKEMAKE, "-n"], directory),
        },
        1 if quick else 3,
    )
    ours, theirs = median(samples["exptflow"]), median(samples["handwritten"])
    return Figure(
        "compile",
        f"snakemake -n, {experiments} experiments x 3 stages",
        ours,
        "s",
        "hand-written Snakefile",
        theirs,
        target="<= 1.1x hand-written",
        passed=ours <= 1.1 * theirs,
        samples=samples["exptflow"],
    )


# --- 4. collect and status --------------------------------------------------------------------

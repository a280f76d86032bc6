"""GPU utilisation against mlrunner and the ideal: random sleep sweeps, then a steady state."""

from __future__ import annotations

from pathlib import Path

import model
from common import PYTHON, Figure, alternate, median, run, write

from cases.sweeps import (
    EXPTFLOW,
    MLRUNNER,
    SNAKEMAKE,
    fresh,
    random_durations,
    sleep_sweep,
)


def utilisation(root: Path, quick: bool) -> list[Figure]:
    """Several random sweeps, not one: on a single draw the order luck of either tool's
    list scheduling (up to 0.4 s of 31 s here) outweighs what the tools themselves cost."""
    seeds = [0] if quick else [0, 1, 2, 3, 4]
    makespans: dict[str, list[float]] = {"mlrunner": [], "exptflow": []}
    modelled: dict[str, list[float]] = {"mlrunner": [], "exptflow": []}
    ideals = []
    for seed in seeds:
        durations = random_durations(seed)
        ideals.append(sum(map(sum, durations)) / 4)
        modelled["exptflow"].append(model.exptflow_order(durations, slots=4))
        modelled["mlrunner"].append(model.mlrunner_order(durations, slots=4))
        text = sleep_sweep(durations, slots=4)

        def exptflow(text: str = text) -> float:
            directory = fresh(root / "utilisation-exptflow")
            write(directory / "params.yaml", text)
            run([*EXPTFLOW, "compile"], directory)
            # 4 GPU slots on a 2-core machine: Snakemake counts a core per job (README).
            return run([PYTHON, "-m", "snakemake", "--cores", "4", "--quiet", "all"], directory)

        def mlrunner(text: str = text) -> float:
            directory = fresh(root / "utilisation-mlrunner")
            write(directory / "params.yaml", text)
            return run([*MLRUNNER, "-y", "params.yaml", "-o", "output"], directory)

        for name, samples in alternate({"mlrunner": mlrunner, "exptflow": exptflow}, 1).items():
            makespans[name] += samples
    ours = sum(ideals) / sum(makespans["exptflow"])
    theirs = sum(ideals) / sum(makespans["mlrunner"])
    sweeps = f"{len(seeds)} random sweep{'s' if len(seeds) > 1 else ''}"
    figures = [
        Figure(
            "utilisation",
            f"makespan, 24 exps x 3 sleep stages (0.1-3 s), 4 slots, {sweeps}",
            sum(makespans["exptflow"]),
            "s",
            "mlrunner",
            sum(makespans["mlrunner"]),
            samples=makespans["exptflow"],
        ),
        Figure(
            "utilisation",
            "utilisation (ideal / makespan, all sweeps)",
            ours,
            "",
            "mlrunner",
            theirs,
            target=">= mlrunner's",
            passed=ours >= theirs,
        ),
        Figure(
            "utilisation",
            "zero-overhead model of each tool's order (benchmarks/model.py)",
            sum(ideals) / sum(modelled["exptflow"]),
            "",
            "mlrunner's order",
            sum(ideals) / sum(modelled["mlrunner"]),
        ),
        Figure(
            "utilisation",
            "utilisation of the first sweep alone (seed 0)",
            ideals[0] / makespans["exptflow"][0],
            "",
            "mlrunner",
            ideals[0] / makespans["mlrunner"][0],
        ),
        Figure(
            "utilisation",
            "fixed cost: a one-stage sweep (true), wall",
            exptflow_fixed_cost(root),
            "s",
            "one-job hand-written Snakefile",
            snakemake_fixed_cost(root),
        ),
        Figure(
            "utilisation",
            "of which importing Snakemake (python -c 'import snakemake.cli')",
            run([PYTHON, "-c", "import snakemake.cli"], root),
            "s",
            "python -c pass",
            run([PYTHON, "-c", "pass"], root),
        ),
    ]
    return figures + steady_state(root, quick)


def exptflow_fixed_cost(root: Path) -> float:
    """The same for a compiled sweep of one trivial stage: what exptflow adds or saves."""
    directory = fresh(root / "fixed-cost-exptflow")
    write(directory / "params.yaml", "template:\n  t: 'true'\n---\na: 1\n")
    run([*EXPTFLOW, "compile"], directory)
    return median([run([*SNAKEMAKE, "--cores", "1", "-F"], directory) for _ in range(3)])


def snakemake_fixed_cost(root: Path) -> float:
    """What any Snakemake run costs before and after its jobs (start-up, DAG, shutdown)."""
    directory = fresh(root / "fixed-cost")
    write(directory / "Snakefile", 'rule all:\n    shell: "true"\n')
    return median([run([*SNAKEMAKE, "--cores", "1", "-F"], directory) for _ in range(3)])


def steady_state(root: Path, quick: bool) -> list[Figure]:
    count = 8 if quick else 16
    durations = [(10.0, 10.0, 10.0)] * count
    directory = fresh(root / "steady")
    write(directory / "params.yaml", sleep_sweep(durations, slots=4).replace("exp: ", "exp: "))
    run([*EXPTFLOW, "compile"], directory)
    makespan = run([PYTHON, "-m", "snakemake", "--cores", "4", "--quiet", "all"], directory)
    ideal = count * 30 / 4
    return [
        Figure(
            "utilisation",
            f"steady state: {count} exps x 3 stages of 10 s, makespan",
            makespan,
            "s",
            "ideal",
            ideal,
        ),
        Figure(
            "utilisation",
            "steady-state utilisation (ideal / makespan)",
            ideal / makespan,
            "",
            target=">= 0.97",
            passed=ideal / makespan >= 0.97,
        ),
    ]


# --- 2. per-job overhead and the scheduler ----------------------------------------------------

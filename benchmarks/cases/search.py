"""Adaptive search: TPE through ``exptflow tune`` against random search with the same budget,
on a noisy Branin function (minimum 0.397887) run as real stages; and the cost per trial
of tune's loop against the same experiments run as a plain sweep, at 40 trials and (full
runs) at 160, where a cost growing with the budget would show."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from common import PYTHON, Figure, median, run

from cases.sweeps import EXPTFLOW, fresh

BRANIN = (
    f'{PYTHON} -c "import json, math, random, sys; a, b = map(float, sys.argv[1:3]); '
    "v = (b - 5.1 / (4 * math.pi ** 2) * a * a + 5 / math.pi * a - 6) ** 2 "
    "+ 10 * (1 - 1 / (8 * math.pi)) * math.cos(a) + 10; "
    "v += random.Random(sys.argv[3]).gauss(0, 0.05); "
    "json.dump({'value': v}, open(sys.argv[3] + '/metrics.json', 'w'))\" {x1} {x2} {_output}"
)
SPACE = "x1: {uniform: [-5, 10]}\nx2: {uniform: [0, 15]}\n"
PARALLEL = 4


def _template() -> str:
    return f"template:\n  objective: {json.dumps(BRANIN)}\n"


def _tuned(directory: Path, trials: int, seed: int) -> tuple[float, float, list[dict]]:
    """Wall seconds, best value and the trials' values of one search."""
    search = f"search: {{minimize: value, trials: {trials}, parallel: {PARALLEL}, seed: {seed}}}"
    (fresh(directory) / "params.yaml").write_text(f"{_template()}{search}\n---\n{SPACE}")
    wall = run([*EXPTFLOW, "tune", "--cores", str(PARALLEL)], directory)
    (study,) = (directory / "output/.exptflow/tune").iterdir()
    told = [json.loads(p.read_text()) for p in study.glob("trial-*.told.json")]
    proposals = [json.loads(p.read_text())["values"] for p in study.glob("trial-*[0-9].json")]
    return wall, min(t["value"] for t in told), proposals


def _swept(directory: Path, document: str) -> tuple[float, float]:
    """Wall seconds and best value of a plain sweep of ``document``."""
    (fresh(directory) / "params.yaml").write_text(f"{_template()}---\n{document}")
    wall = run([*EXPTFLOW, "run", "--cores", str(PARALLEL)], directory)
    with open(directory / "output/results.tsv", newline="") as handle:
        values = [float(row["value"]) for row in csv.DictReader(handle, delimiter="\t")]
    return wall, min(values)


def search(root: Path, quick: bool) -> list[Figure]:
    trials, seeds = (20, 2) if quick else (40, 5)
    tpe_best, random_best, tune_walls, sweep_walls = [], [], [], []
    for seed in range(seeds):
        wall, best, proposals = _tuned(root / f"tpe-{seed}", trials, seed)
        tpe_best.append(best)
        tune_walls.append(wall / trials)
        random_best.append(
            _swept(root / f"random-{seed}", f"{SPACE}_samples: {trials}\n_seed: {seed}\n")[1]
        )
        rows = json.dumps(proposals)
        sweep_walls.append(_swept(root / f"same-{seed}", f"_rows: {rows}\n")[0] / trials)
    figures = [
        _quality(seeds, trials, tpe_best, random_best),
        _overhead(trials, tune_walls, sweep_walls),
    ]
    return figures if quick else [*figures, _longer_search(root)]


def _quality(seeds: int, trials: int, tpe_best: list[float], random_best: list[float]) -> Figure:
    tpe, rand = median(tpe_best), median(random_best)
    return Figure(
        "search",
        f"median best of {seeds} seeds, TPE (tune), {trials} trials, {PARALLEL} at once",
        tpe,
        "",
        "random search, same budget",
        rand,
        target="TPE's median best beats random's",
        passed=tpe < rand,
        samples=tpe_best,
    )


def _overhead(trials: int, tune_walls: list[float], sweep_walls: list[float]) -> Figure:
    ours, theirs = median(tune_walls), median(sweep_walls)
    return Figure(
        "search",
        f"wall per trial, exptflow tune, {trials} trials",
        ours * 1000,
        "ms",
        "same experiments as a plain sweep",
        theirs * 1000,
        target="<= 1.2x the plain sweep's",
        passed=ours <= 1.2 * theirs,
        samples=tune_walls,
    )


LONGER = 160  # trials: what a search costs per trial must not grow with its budget


def _longer_search(root: Path) -> Figure:
    wall, _, proposals = _tuned(root / "tpe-long", LONGER, 0)
    sweep = _swept(root / "same-long", f"_rows: {json.dumps(proposals)}\n")[0]
    return Figure(
        "search",
        f"wall per trial, exptflow tune, {LONGER} trials (seed 0)",
        wall / LONGER * 1000,
        "ms",
        "same experiments as a plain sweep",
        sweep / LONGER * 1000,
    )

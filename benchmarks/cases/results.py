"""status, the collector and `exptflow.load` on synthetic experiments."""

from __future__ import annotations

from pathlib import Path

from common import PYTHON, Figure, alternate, median, run
from synthetic import make_sweep, touch_some

from cases.sweeps import (
    EXPTFLOW,
    fresh,
)

FLOOR = """
import json, os, sys
root = sys.argv[1]
for name in os.listdir(root):
    if name.startswith("."):
        continue
    for stage in ("train", "test"):
        with open(f"{root}/{name}/.exptflow/stage.{stage}.json") as handle:
            json.load(handle)
    with open(f"{root}/{name}/metrics.json") as handle:
        json.load(handle)
"""


def results_speed(root: Path, quick: bool) -> list[Figure]:
    figures = []
    for count in (1000, 10000):
        directory = fresh(root / f"results-{count}")
        names = make_sweep(directory, count)
        cache = directory / "output/.exptflow/collect-cache.json"
        floor = median([run([PYTHON, "-c", FLOOR, "output"], directory) for _ in range(3)])
        load = [PYTHON, "-c", "import exptflow; exptflow.load('output')"]
        measured = {
            "exptflow status": lambda: run([*EXPTFLOW, "status"], directory),
            "collector, cold": lambda: (
                cache.unlink(missing_ok=True),
                run([PYTHON, "-m", "exptflow.results.collect"], directory),
            )[1],
            "collector, nothing changed": lambda: run(
                [PYTHON, "-m", "exptflow.results.collect"], directory
            ),
            "exptflow.load, cold": lambda: (cache.unlink(missing_ok=True), run(load, directory))[1],
            "exptflow.load, nothing changed": lambda: run(load, directory),
        }
        samples = alternate(measured, 1 if quick else 3)
        touch_some(directory, names, 0.01)
        samples["collector, 1% changed"] = [
            run([PYTHON, "-m", "exptflow.results.collect"], directory)
        ]
        targets = {
            "exptflow status": 1.0,
            "collector, cold": 3.0,
            "collector, nothing changed": 0.5,
        }
        for name, values in samples.items():
            target = targets.get(name) if count == 10000 else None
            figures.append(
                Figure(
                    "results",
                    f"{name}, {count} experiments",
                    median(values),
                    "s",
                    "floor: json.load of records + metrics",
                    floor,
                    target=f"<= {target} s" if target else None,
                    passed=median(values) <= target if target else None,
                    samples=values,
                )
            )
    return figures


# --- 5. the job wrapper's start-up ------------------------------------------------------------

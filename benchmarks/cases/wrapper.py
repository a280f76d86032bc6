"""The job wrapper: in Snakemake's thread, and as a process."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from common import PYTHON, Figure, alternate, median, run

from cases.sweeps import (
    fresh,
)

IN_THREAD = """
import subprocess, sys, time
from exptflow.runtime.job import StageRequest, execute_stage
root, runs = sys.argv[1], int(sys.argv[2])
def clock(action):
    started = time.perf_counter()
    action()
    return time.perf_counter() - started
def wrapped(i):
    return clock(lambda: execute_stage(StageRequest("t", f"{root}/e{i}", "true", {"i": i}, [], False)))
def bare(i):
    return clock(lambda: subprocess.run(["bash", "-c", "true"], check=True))
ours = sorted(wrapped(i) for i in range(runs))
floor = sorted(bare(i) for i in range(runs))
print(ours[runs // 2], floor[runs // 2])
"""


def wrapper(root: Path, quick: bool) -> list[Figure]:
    directory = fresh(root / "wrapper")
    runs = 10 if quick else 30
    job = [
        PYTHON,
        "-m",
        "exptflow.runtime.job",
        "--stage",
        "t",
        "--command",
        "true",
        "--params",
        "{}",
    ]
    counter = iter(range(10**6))
    samples = alternate(
        {
            "python -c pass": lambda: run([PYTHON, "-c", "pass"], directory),
            "process form": lambda: run([*job, "--directory", f"e{next(counter)}"], directory),
        },
        runs,
    )
    bare, ours = median(samples["python -c pass"]), median(samples["process form"])
    importtime = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", "import exptflow.runtime.job"],
        capture_output=True,
        text=True,
        cwd=directory,
    ).stderr
    cumulative = max(int(m) for m in re.findall(r"\|\s+(\d+) \|\s+exptflow", importtime))
    threaded = subprocess.run(
        [PYTHON, "-c", IN_THREAD, str(fresh(root / "wrapper-thread")), str(runs * 10)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        Figure(
            "wrapper",
            "stage run inside Snakemake (every stage not packed)",
            float(threaded[0]) * 1000,
            "ms",
            "bash -c true",
            float(threaded[1]) * 1000,
        ),
        Figure(
            "wrapper",
            "process form, packed stages (python -m exptflow.runtime.job)",
            ours * 1000,
            "ms",
            "python -c pass",
            bare * 1000,
            target="<= 60 ms above python -c pass",
            passed=(ours - bare) * 1000 <= 60,
            samples=samples["process form"],
        ),
        Figure(
            "wrapper",
            "import exptflow.runtime.job (-X importtime, cumulative)",
            cumulative / 1000,
            "ms",
        ),
    ]

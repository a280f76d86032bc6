"""Sweeps and commands the cases share."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from common import PYTHON, run, write

HERE = Path(__file__).resolve().parent.parent  # benchmarks/
HANDWRITTEN = HERE / "handwritten.smk"
EXPTFLOW = [PYTHON, "-m", "exptflow"]
SNAKEMAKE = [PYTHON, "-m", "snakemake", "--quiet", "all"]
MLRUNNER = [PYTHON, "-c", "from mlrunner.run import main; main()"]


def fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def sleep_sweep(durations: list[tuple[float, float, float]], slots: int) -> str:
    """An mlrunner-compatible params.yaml: one document per experiment, sleep-based stages."""
    head = (
        "template:\n  train: sleep {t_train}\n  avg: sleep {t_avg}\n  test: sleep {t_test}\n"
        f"resource: {list(range(slots))}\n"
    )
    documents = [
        f"---\nexp: {i}\nt_train: {a}\nt_avg: {b}\nt_test: {c}\n"
        for i, (a, b, c) in enumerate(durations)
    ]
    return head + "".join(documents)


# --- 1. GPU utilisation ---------------------------------------------------------------------------


def random_durations(seed: int) -> list[tuple[float, ...]]:
    chaos = random.Random(seed)
    return [tuple(round(chaos.uniform(0.1, 3.0), 1) for _ in range(3)) for _ in range(24)]


def trivial_sweep(directory: Path, jobs: int) -> Path:
    fresh(directory)
    write(directory / "params.yaml", f"template:\n  t: 'true'\n---\na: {list(range(jobs))}\n")
    run([*EXPTFLOW, "compile"], directory)
    return directory


def grid_sweep(experiments: int) -> str:
    values = {1000: (10, 10, 10, 1), 10000: (10, 10, 10, 10), 100000: (10, 10, 10, 100)}[
        experiments
    ]
    lists = [list(range(n)) for n in values]
    return (
        "template:\n  train: python train.py --lr {lr} --seed {seed} --out {_output} [wd]\n"
        "  avg: python avg.py {_output}\n  test: python test.py {_output} --beam {beam}\n"
        "default: {wd: 0.0, beam: 5}\nresource: [0, 1, 2, 3]\n---\n"
        f"lr: {lists[0]}\nseed: {lists[1]}\nwd: {lists[2]}\nbeam: {lists[3]}\n"
    )

"""Timing helpers shared by the benchmark cases: contenders alternate in one process and
the medians are compared, because machines here are noisy."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

PYTHON = sys.executable


@dataclass
class Figure:
    """One measured figure, its baseline, and the target it is judged by (if any)."""

    case: str
    name: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    target: str | None = None
    passed: bool | None = None
    samples: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.baseline_value in (None, 0):
            return None
        return self.value / self.baseline_value


def run(command: list[str], cwd: Path, timeout: float = 3600, env: dict | None = None) -> float:
    """Wall seconds of a command that must succeed."""
    started = time.perf_counter()
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed in {cwd}:\n{result.stdout}\n{result.stderr}"
        )
    return elapsed


def alternate(contenders: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Run each contender ``repeats`` times, interleaved (A B A B ...), collect the samples."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, measure in contenders.items():
            samples[name].append(measure())
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(figures: list[Figure]) -> None:
    """Print figures, ratios against baselines and PASS/FAIL, one line each."""
    for figure in figures:
        line = f"  {figure.name:<52} {figure.value:>10.3f} {figure.unit:<6}"
        if figure.baseline is not None and figure.baseline_value is not None:
            line += f" vs {figure.baseline} {figure.baseline_value:.3f} (ratio {figure.ratio:.3f})"
        if figure.target:
            verdict = "PASS" if figure.passed else "FAIL"
            line += f"  [{verdict}: {figure.target}]"
        print(line, flush=True)


def save(figures: list[Figure], path: Path) -> None:
    rows = [{**asdict(figure), "ratio": figure.ratio} for figure in figures]
    path.write_text(json.dumps(rows, indent=1) + "\n")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path

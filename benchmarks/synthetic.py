"""Synthetic finished sweeps for the collect/status benchmarks: each experiment directory
holds what a real run leaves (params, stage records, a log, metrics.json, a 200-point series)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from exptflow.layout.jsonfiles import write_json
from exptflow.layout.paths import ExperimentPaths, SweepPaths

STAGES = ("train", "test")


def make_sweep(workdir: Path, count: int, points: int = 200) -> list[str]:
    """A compiled-looking sweep of ``count`` finished experiments under ``workdir/output``."""
    names = [f"lr={index % 10},seed={index // 10}" for index in range(count)]
    table = {
        "sweep": "params.yaml",
        "output": "output",
        "metrics": [],
        "parsers": [],
        "experiments": {},
    }
    now = time.time()
    for index, name in enumerate(names):
        params = {"lr": index % 10, "seed": index // 10}
        table["experiments"][name] = {"params": params, "stages": list(STAGES), "commands": {}}
        write_experiment(ExperimentPaths.of(workdir / "output", name), params, now, points)
    SweepPaths(workdir).table.write_text(json.dumps(table))
    return names


def write_experiment(paths: ExperimentPaths, params: dict, now: float, points: int) -> None:
    paths.meta.mkdir(parents=True, exist_ok=True)
    write_json(paths.params, params)
    for stage in STAGES:
        record = {
            "stage": stage,
            "state": "done",
            "exit_code": 0,
            "start": now - 10,
            "end": now,
            "duration": 10.0,
            "host": "bench",
            "pid": 1,
            "command": f"run {stage}",
            "log": f"log.{stage}.20260101.000000",
        }
        write_json(paths.record(stage), record)
        paths.done(stage).touch()
        paths.log(stage, "20260101.000000").write_text(f"{stage} finished\n")
    (paths.directory / "metrics.json").write_text(json.dumps({"acc": params["lr"] / 10}))
    lines = (
        json.dumps({"step": step, "loss": 1 / (step + 1), "time": now}) for step in range(points)
    )
    (paths.directory / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def touch_some(workdir: Path, names: list[str], fraction: float) -> int:
    """Rewrite the metrics of a fraction of the experiments (as a rerun would)."""
    changed = names[: max(1, int(len(names) * fraction))]
    for name in changed:
        path = ExperimentPaths.of(workdir / "output", name).directory / "metrics.json"
        path.write_text(json.dumps({"acc": 0.5, "rerun": True}))
    return len(changed)

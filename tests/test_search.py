"""Search beyond the grid, end to end: overrides on the command line and zipped params run as
any experiment does, and a run records the overrides it was compiled with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import exptflow, write_sweep

pytestmark = pytest.mark.slow

SWEEP = """
template:
  train: echo {lr} {seed} {warmup} > {_output}/ran
default: {seed: 0, warmup: 10}
---
lr: [0.1]
_zip: {seed: [1, 2], warmup: [100, 200]}
---
lr: [0.5]
"""


def test_overrides_and_zipped_params_run_and_are_recorded(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP)

    exptflow(tmp_path, "run", "-S", "lr=0.3,0.4", "-S", "default.warmup=7")

    ran = {p.parent.name: p.read_text().split() for p in tmp_path.glob("output/*/ran")}
    assert ran == {
        "lr=0.3+seed=1+warmup=100": ["0.3", "1", "100"],
        "lr=0.3+seed=2+warmup=200": ["0.3", "2", "200"],
        "lr=0.4+seed=1+warmup=100": ["0.4", "1", "100"],
        "lr=0.4+seed=2+warmup=200": ["0.4", "2", "200"],
        "lr=0.3": ["0.3", "0", "7"],
        "lr=0.4": ["0.4", "0", "7"],
    }
    overrides = ["lr=0.3,0.4", "default.warmup=7"]
    assert json.loads((tmp_path / "experiments.json").read_text())["overrides"] == overrides
    (run,) = (tmp_path / "output/.exptflow/runs").iterdir()
    assert json.loads((run / "overrides.json").read_text()) == overrides


def test_compiling_without_the_overrides_is_the_file_s_sweep_again(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP)
    exptflow(tmp_path, "run", "-S", "lr=0.3")

    plain = exptflow(tmp_path, "compile").stdout

    assert "3 experiments, 3 jobs: 3 new, 0 done" in plain
    assert "overrides" not in json.loads((tmp_path / "experiments.json").read_text())

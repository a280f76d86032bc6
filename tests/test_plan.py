"""What compile counts as new, done or outdated, read from files a finished stage leaves
(no Snakemake run: these are the fast unit tests of the plan)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write_sweep
from exptflow.compiler.compile import CompileOptions, plan_sweep
from exptflow.layout.paths import ExperimentPaths

SWEEP = """
template:
  train: python train.py --lr {lr} --out {_output}
  test: python test.py --in {_output}
---
lr: [0.1, 0.2]
"""


def finish(workdir: Path, name: str, stage: str, command: str) -> None:
    """The files a stage that exited 0 leaves: its record and its .done file."""
    paths = ExperimentPaths(workdir / "output" / name)
    paths.meta.mkdir(parents=True, exist_ok=True)
    paths.record(stage).write_text(
        json.dumps({"stage": stage, "state": "done", "command": command})
    )
    paths.done(stage).touch()


def states(workdir: Path) -> dict[str, str]:
    return {
        f"{job.directory}:{job.stage}": job.state
        for job in plan_sweep(CompileOptions(workdir=str(workdir))).jobs()
    }


@pytest.mark.parametrize(
    ("finished", "expected"),
    [
        pytest.param([], {"train": "pending", "test": "pending"}, id="nothing-ran"),
        pytest.param(["train"], {"train": "done", "test": "pending"}, id="train-done"),
        pytest.param(["train", "test"], {"train": "done", "test": "done"}, id="all-done"),
        pytest.param(["test"], {"train": "pending", "test": "outdated"}, id="rerun-before-it"),
    ],
)
def test_plan_reads_the_states_in_the_workdir_it_is_given(
    tmp_path: Path, finished: list[str], expected: dict[str, str]
) -> None:
    # Planned from the repository's directory, not from `sweep`: the files are found anyway.
    workdir = tmp_path / "sweep"
    workdir.mkdir()
    write_sweep(workdir, SWEEP)
    jobs = plan_sweep(CompileOptions(workdir=str(workdir))).jobs()
    commands = {job.stage: job.command for job in jobs if job.directory == "output/lr=0.1"}
    for stage in finished:
        finish(workdir, "lr=0.1", stage, commands[stage])

    got = states(workdir)

    assert {stage: got[f"output/lr=0.1:{stage}"] for stage in expected} == expected
    assert {got["output/lr=0.2:train"], got["output/lr=0.2:test"]} == {"pending"}


def test_an_edited_command_makes_a_done_stage_outdated(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP)
    finish(tmp_path, "lr=0.1", "train", "python train.py --lr 0.1 --out output/lr=0.1")
    finish(tmp_path, "lr=0.1", "test", "python test.py --in output/lr=0.1")
    assert states(tmp_path)["output/lr=0.1:train"] == "done"

    write_sweep(tmp_path, SWEEP.replace("--lr {lr}", "--lr {lr} --fast"))

    got = states(tmp_path)
    assert (got["output/lr=0.1:train"], got["output/lr=0.1:test"]) == ("outdated", "outdated")

"""``exptflow cancel EXPERIMENT``: one experiment of a live run stops, the others go on, and
the next run runs it again."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import (
    executions,
    exptflow,
    history,
    processes_in,
    start,
    state_of,
    wait_for,
    write_sweep,
)

pytestmark = pytest.mark.slow

# Two slots: two trains run until `go` exists, the third waits for a slot.
GATED = """
template:
  train: echo {_name}/train >> events; until [ -e go ]; do sleep 0.05; done; echo {_name}/train-end >> events
  test: echo {_name}/test >> events
resource: [0, 1]
---
a: [1, 2, 3]
_tags: [a]
"""


def events(directory: Path) -> Counter[str]:
    return Counter(executions(directory / "events"))


NAMES = ("a=1", "a=2", "a=3")
STAGE_EVENTS = ("train", "train-end", "test")


def running_trains(directory: Path) -> list[str]:
    started = [name for name in NAMES if events(directory)[f"{name}/train"]]
    running = [name for name in NAMES if state_of(directory, name, "train") == "running"]
    return running if len(started) == 2 and running == started else []


def test_cancel_stops_one_experiment_and_the_others_go_on(tmp_path: Path) -> None:
    write_sweep(tmp_path, GATED)
    refused = exptflow(tmp_path, "cancel", "a=1", check=False)
    assert refused.returncode == 2
    assert refused.stderr == (
        f"error: exptflow cancel: no Snakemake runs in {tmp_path.resolve()}: nothing to cancel "
        "(`exptflow status` shows each stage's state)\n"
    )

    run = start(tmp_path, sys.executable, "-m", "exptflow.cli", "run")
    wait_for(lambda: running_trains(tmp_path), what="two trains to run")
    stopped, going = running_trains(tmp_path)
    (waiting,) = set(NAMES) - {stopped, going}
    unknown = exptflow(tmp_path, "cancel", "a=4", check=False)
    assert unknown.returncode == 2
    assert "error: exptflow cancel a=4: no experiment of the sweep has this name" in unknown.stderr

    cancelled = exptflow(tmp_path, "cancel", stopped, waiting).stdout
    assert sorted(cancelled.splitlines()) == sorted(
        [
            f"exptflow cancel: {stopped}: stopped train; test will not start",
            f"exptflow cancel: {waiting}: train, test will not start",
        ]
    )
    assert state_of(tmp_path, stopped, "train") == "cancelled"
    assert state_of(tmp_path, going, "train") == "running", "the other experiment goes on"
    (tmp_path / "go").touch()
    output, _ = run.communicate(timeout=120)

    assert run.returncode == 1, output  # Snakemake reports the cancelled jobs as failed
    assert f"\ncancelled {stopped}: stage train\n" in output
    assert f"\ncancelled {waiting}: stage train\n" in output
    assert "failed" not in output  # cancelled is what was asked for: no failure, no rerun hint
    assert output.endswith(": 2 of 6 stages done, 4 cancelled\n")
    first = Counter({f"{stopped}/train": 1, f"{going}/train": 1, f"{going}/train-end": 1})
    assert events(tmp_path) == first + Counter({f"{going}/test": 1})
    states = {(name, s): state_of(tmp_path, name, s) for name in NAMES for s in ("train", "test")}
    assert states == {
        (stopped, "train"): "cancelled",
        (stopped, "test"): "cancelled",
        (going, "train"): "done",
        (going, "test"): "done",
        (waiting, "train"): "cancelled",
        (waiting, "test"): "cancelled",
    }
    (line,) = [h for h in history(tmp_path) if h["state"] == "cancelled"]
    assert (line["stage"], line["signal"], line["reason"]) == (
        "train",
        "SIGTERM",
        "exptflow cancel",
    )
    status = exptflow(tmp_path, "status").stdout
    assert "3 experiments, 6 stages: 2 done, 4 cancelled" in status
    wait_for(lambda: not processes_in(tmp_path), timeout=30, what="every process of the run")

    exptflow(tmp_path, "run")  # the next run runs them again
    again = {f"{name}/{event}": 1 for name in (stopped, waiting) for event in STAGE_EVENTS}
    assert events(tmp_path) == first + Counter({f"{going}/test": 1}) + Counter(again)
    assert "3 experiments, 6 stages: 6 done" in exptflow(tmp_path, "status").stdout


def test_a_stage_that_ignores_sigterm_is_killed_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPTFLOW_STOP_GRACE_SECONDS", "1")
    write_sweep(tmp_path, GATED.replace("train: echo", "train: trap '' TERM; echo"))
    run = start(tmp_path, sys.executable, "-m", "exptflow.cli", "run")
    wait_for(lambda: running_trains(tmp_path), what="two trains to run")
    stopped, going = running_trains(tmp_path)

    assert exptflow(tmp_path, "cancel", stopped).stdout == (
        f"exptflow cancel: {stopped}: stopped train; test will not start\n"
    )
    record = json.loads((tmp_path / "output" / stopped / ".exptflow/stage.train.json").read_text())
    assert (record["state"], record["signal"]) == ("cancelled", "SIGKILL")
    assert state_of(tmp_path, going, "train") == "running"
    (tmp_path / "go").touch()
    run.communicate(timeout=120)
    assert f"{stopped}/train-end" not in events(tmp_path)
    assert state_of(tmp_path, going, "test") == "done"

"""kill -9 of the whole run, then the one documented command: finished stages are kept,
unfinished ones rerun, and Ctrl-C / SIGTERM leave no stage process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import executions, exptflow, records, state_of, wait_for, write_sweep

pytestmark = pytest.mark.slow

# Trains of a=1 and a=2 pass at once; those of a=3 and a=4 hold until `go`; the tests hold
# until `go` too. The kill comes when two trains are done and four stages hold.
SWEEP = """
template:
  train: >
    echo {_name}/train >> started &&
    if [ {a} -gt 2 ]; then until [ -e go ]; do sleep 0.05; done; fi
  test: echo {_name}/test >> started && until [ -e go ]; do sleep 0.05; done
resource: [0, 1, 2, 3]
---
a: [1, 2, 3, 4]
"""


def done_stages(directory: Path) -> set[str]:
    return {
        f"{r['stage']}:{path.parent.parent.name}"
        for path in directory.glob("output/*/.exptflow/stage.*.json")
        if (r := json.loads(path.read_text()))["state"] == "done"
    }


def start_run(directory: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "snakemake"],
        cwd=directory,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def four_stages_hold(directory: Path) -> bool:
    holding = [("train", 3), ("train", 4), ("test", 1), ("test", 2)]
    started = Counter(executions(directory / "started"))
    return all(
        state_of(directory, f"a={a}", stage) == "running" and started[f"a={a}/{stage}"] == 1
        for stage, a in holding
    )


def test_kill_9_then_resume_reruns_only_unfinished_stages(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP)
    exptflow(tmp_path, "compile")
    run = start_run(tmp_path)
    wait_for(lambda: four_stages_hold(tmp_path), what="four stages to hold")
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert done_stages(tmp_path) == {"train:a=1", "train:a=2"}

    (tmp_path / "go").touch()
    resumed = exptflow(tmp_path, "run")
    assert "removed a stale Snakemake lock" in resumed.stdout

    assert len(done_stages(tmp_path)) == 8
    starts = Counter(executions(tmp_path / "started"))
    assert starts == Counter(
        {"a=1/train": 1, "a=2/train": 1, "a=3/train": 2, "a=4/train": 2}
        | {"a=1/test": 2, "a=2/test": 2, "a=3/test": 1, "a=4/test": 1}
    )
    leftovers = [p for p in tmp_path.glob("output/**/*") if p.name.endswith(".tmp")]
    assert leftovers == []


# train waits for a file `go`, so that a test can kill the run while train runs.
ONE_EXPERIMENT = """
template:
  train: echo train >> started && until [ -e go ]; do sleep 0.05; done
  test: echo test >> started
---
a: 1
"""


def kill_during_train(directory: Path) -> Path:
    """Start the sweep, kill -9 everything while train runs; the train record's path."""
    record = directory / "output/a=1/.exptflow/stage.train.json"
    trains = executions(directory / "started").count("train")
    (directory / "go").unlink(missing_ok=True)
    run = start_run(directory)

    def train_runs() -> bool:  # its record says so, and its command has begun
        began = executions(directory / "started").count("train") > trains
        return began and json.loads(record.read_text())["state"] == "running"

    wait_for(train_runs, what="train to run")
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    (directory / "go").touch()
    return record


def test_a_kill_after_the_done_record_keeps_the_stage(tmp_path: Path) -> None:
    # The wrapper records "done", then writes the .done file, then Snakemake unmarks the job:
    # a kill in between leaves this state (made here by finishing the record by hand).
    write_sweep(tmp_path, ONE_EXPERIMENT)
    exptflow(tmp_path, "compile")
    record_path = kill_during_train(tmp_path)
    record = json.loads(record_path.read_text())
    record.update(state="done", exit_code=0, end=time.time())
    record_path.write_text(json.dumps(record))

    resumed = exptflow(tmp_path, "run")

    assert "kept 1 stage(s) that had finished before the crash" in resumed.stdout
    assert executions(tmp_path / "started") == ["train", "test"]
    assert {r["stage"]: r["state"] for r in records(tmp_path)} == {"train": "done", "test": "done"}


def test_a_done_record_of_an_earlier_run_does_not_keep_a_killed_rerun(tmp_path: Path) -> None:
    # Killed after Snakemake marked the rerun started, before the wrapper's first record:
    # the record left is the previous run's, which must not count for this one.
    write_sweep(tmp_path, ONE_EXPERIMENT)
    (tmp_path / "go").touch()
    exptflow(tmp_path, "run")
    earlier = (tmp_path / "output/a=1/.exptflow/stage.train.json").read_text()
    write_sweep(tmp_path, ONE_EXPERIMENT.replace("sleep 0.05", "sleep 0.04"))
    exptflow(tmp_path, "compile")
    kill_during_train(tmp_path).write_text(earlier)

    resumed = exptflow(tmp_path, "run")

    assert "kept" not in resumed.stdout
    assert executions(tmp_path / "started") == ["train", "test", "train", "train", "test"]
    assert {r["stage"]: r["state"] for r in records(tmp_path)} == {"train": "done", "test": "done"}


def test_sigterm_to_exptflow_run_stops_every_stage_process(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          train: echo $$ > {_output}/pid && sleep 60
        ---
        a: [1, 2]
        """,
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "exptflow.cli", "run"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_files = lambda: list(tmp_path.glob("output/*/pid"))  # noqa: E731
    wait_for(lambda: len(pid_files()) == 2 and all(p.read_text().strip() for p in pid_files()))
    stage_pids = [int(p.read_text()) for p in pid_files()]
    run.send_signal(signal.SIGINT)  # what Ctrl-C sends
    assert run.wait(timeout=60) != 0
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in stage_pids), timeout=20)
    assert {(r["state"], r["signal"]) for r in records(tmp_path)} == {("killed", "SIGTERM")}


def test_second_ctrl_c_kills_a_stage_that_ignores_sigterm(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          train: >
            trap 'echo TERM >> {_output}/signals' TERM; echo $$ > {_output}/pid;
            while true; do sleep 0.1; done
        ---
        a: 1
        """,
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "exptflow.cli", "run"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = tmp_path / "output" / "a=1" / "pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip())
    stage = int(pid_file.read_text())
    run.send_signal(signal.SIGINT)
    signals = tmp_path / "output" / "a=1" / "signals"
    wait_for(lambda: signals.exists(), what="the stage to get SIGTERM")
    assert run.poll() is None and Path(f"/proc/{stage}").exists()  # it ignored SIGTERM
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=30) != 0
    wait_for(lambda: not Path(f"/proc/{stage}").exists(), timeout=10)
    messages = run.stderr.read()
    assert "SIGINT: cancelling the run" in messages and "SIGINT: killing the run" in messages

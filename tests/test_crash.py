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

from conftest import executions, exptflow, records, write_sweep

pytestmark = pytest.mark.slow

SWEEP = """
template:
  train: echo {_name}/train >> started && sleep 1.5
  test: echo {_name}/test >> started && sleep 0.3
resource: [0, 1]
---
a: [1, 2, 3, 4]
"""


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


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


def test_kill_9_then_resume_reruns_only_unfinished_stages(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP)
    exptflow(tmp_path, "compile")
    run = start_run(tmp_path)
    wait_for(lambda: len(done_stages(tmp_path)) >= 2)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    finished = done_stages(tmp_path)
    assert len(finished) < 8, "the kill came before the end"

    resumed = exptflow(tmp_path, "run")
    assert "removed a stale Snakemake lock" in resumed.stdout

    assert len(done_stages(tmp_path)) == 8
    starts = Counter(executions(tmp_path / "started"))
    for stage_and_experiment in finished:
        stage, experiment = stage_and_experiment.split(":")
        assert starts[f"{experiment}/{stage}"] == 1, f"{experiment}/{stage} ran again"
    assert all(count <= 2 for count in starts.values())
    leftovers = [p for p in tmp_path.glob("output/**/*") if p.name.endswith(".tmp")]
    assert leftovers == []


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
    assert {r["state"] for r in records(tmp_path)} == {"failed"}
    assert {r["signal"] for r in records(tmp_path)} == {"SIGTERM"}


def test_second_ctrl_c_kills_a_stage_that_ignores_sigterm(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          train: trap '' TERM; echo $$ > {_output}/pid; sleep 60
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
    time.sleep(2)
    assert run.poll() is None and Path(f"/proc/{stage}").exists()  # it ignored SIGTERM
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=30) != 0
    wait_for(lambda: not Path(f"/proc/{stage}").exists(), timeout=10)
    messages = run.stderr.read()
    assert "SIGINT: cancelling the run" in messages and "SIGINT: killing the run" in messages

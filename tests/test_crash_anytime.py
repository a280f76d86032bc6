"""kill -9 at random moments (during compile, a stage, between stages, the collector), each
time resumed with `exptflow run`: no finished stage reruns, every unfinished one does, and the
final table equals a clean run's."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import executions, exptflow, processes_in, wait_for, write_sweep
from exptflow.runtime.slots import lock_names

pytestmark = pytest.mark.slow

PARSER = """
import time
from pathlib import Path

def slow(directory, record):
    Path("collecting").touch()
    time.sleep(0.4)
    # Logs left out: each run a kill stopped leaves its own log.
    return {"files": len([p for p in directory.iterdir() if not p.name.startswith("log.")])}
"""

SWEEP = """
template:
  train: >
    echo {_name}/train >> started && sleep 0.4 && echo '{"acc": {a}}' > {_output}/metrics.json
  test: echo {_name}/test >> started && sleep 0.2 && echo test {a} done
resource: [0, 1]
metrics:
  tested: {stage: test, regex: 'test ([0-9]+) done'}
parsers: [slowparser:slow]
---
a: [1, 2, 3, 4, 5, 6]
"""


def start(directory: Path, *command: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "exptflow.cli", *command],
        cwd=directory,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(process: subprocess.Popen[bytes], directory: Path) -> None:
    """kill -9 of the process group of an exptflow command: nothing of its run may survive."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    wait_for(lambda: not processes_in(directory), timeout=30, what="the killed run to end")


def finished_stages(directory: Path) -> set[str]:
    done = set()
    for path in directory.glob("output/*/.exptflow/stage.*.json"):
        record = json.loads(path.read_text())
        if record["state"] == "done":
            done.add(f"{path.parent.parent.name}/{record['stage']}")
    return done


def note_finished(directory: Path, seen: dict[str, int]) -> None:
    started = len(executions(directory / "started"))
    for stage in finished_stages(directory):
        seen.setdefault(stage, started)


def comparable_table(directory: Path) -> list[dict[str, str]]:
    with open(directory / "output/results.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [{k: v for k, v in row.items() if not k.endswith("_duration")} for row in rows]


def start_and_wait_for_progress(directory: Path) -> subprocess.Popen[bytes]:
    """``exptflow run``, once it starts a stage (or ends): kills then land at random moments of
    the run itself, however slow the machine is."""
    before = len(executions(directory / "started"))
    run = start(directory, "run")
    wait_for(lambda: len(executions(directory / "started")) > before or run.poll() is not None)
    return run


def prepare(directory: Path) -> None:
    (directory / "slowparser.py").write_text(PARSER)
    write_sweep(directory, SWEEP)


def test_kill_9_at_random_moments_then_resume(tmp_path: Path, isolated_gpu_locks: Path) -> None:
    clean = tmp_path / "clean"
    crashed = tmp_path / "crashed"
    for directory in (clean, crashed):
        directory.mkdir()
        prepare(directory)
    exptflow(clean, "run")

    seed = int(os.environ.get("EXPTFLOW_CRASH_SEED", random.randrange(1_000_000)))
    chaos = random.Random(seed)
    # Stage -> how many lines `started` had when it was first seen finished: a kill may stop a
    # stage before it finishes (and it reruns), but once finished it never starts again.
    finished_before_kills: dict[str, int] = {}

    compiling = start(crashed, "compile")  # a kill during compile
    time.sleep(chaos.uniform(0.05, 0.4))
    kill(compiling, crashed)
    for _ in range(4):  # kills at random moments of the run: stages and gaps between them
        run = start_and_wait_for_progress(crashed)
        time.sleep(chaos.uniform(0.0, 1.5))
        kill(run, crashed)
        note_finished(crashed, finished_before_kills)
    (crashed / "collecting").unlink(missing_ok=True)
    run = start(crashed, "run")  # a kill while the collector reads the directories
    deadline = time.time() + 120
    while not (crashed / "collecting").exists() and run.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    kill(run, crashed)
    note_finished(crashed, finished_before_kills)

    exptflow(crashed, "run")

    note = f"(EXPTFLOW_CRASH_SEED={seed})"
    assert finished_before_kills, f"no stage had finished before the kills {note}"
    started = executions(crashed / "started")
    for stage, seen_at in finished_before_kills.items():
        assert stage not in started[seen_at:], f"{stage} had finished but ran again {note}"
    assert finished_stages(crashed) == finished_stages(clean), note
    assert comparable_table(crashed) == comparable_table(clean), note
    leftovers = [p for p in (crashed / "output").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [], note
    for name in lock_names(["0", "1"]):
        with open(isolated_gpu_locks / name) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a slot stayed taken

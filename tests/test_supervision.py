"""Supervision with real processes and real signals: whatever kills a run ends every process
of it, no stage ever runs twice at once, and each record tells how its stage ended."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import (
    exptflow,
    history,
    processes_in,
    records,
    snakemake,
    start,
    state_of,
    wait_for,
    write_sweep,
)

pytestmark = pytest.mark.slow

# train holds until the test creates `go`: a test can act while both trains surely run.
GATED = """
template:
  train: >
    echo {_name}/train >> events &&
    until [ -e go ]; do sleep 0.05; done &&
    echo {_name}/train-end >> events
  test: echo {_name}/test >> events
resource: [0, 1]
---
a: [1, 2]
"""


def events(directory: Path) -> Counter[str]:
    path = directory / "events"
    return Counter(path.read_text().split() if path.exists() else [])


def both_trains_run(directory: Path) -> bool:
    started = events(directory)["a=1/train"] + events(directory)["a=2/train"] >= 2
    return started and all(state_of(directory, f"a={a}", "train") == "running" for a in (1, 2))


def no_process_left(directory: Path) -> None:
    wait_for(lambda: not processes_in(directory), timeout=30, what="every process of the run")


@pytest.mark.parametrize(
    ("how", "launcher"),
    [
        pytest.param("group", ["-m", "exptflow.cli", "run"], id="kill-9-exptflow-run-group"),
        pytest.param("pid", ["-m", "snakemake"], id="kill-9-snakemake-alone"),
    ],
)
def test_a_killed_run_leaves_no_process_and_resumes_without_a_second_copy(
    tmp_path: Path, how: str, launcher: list[str]
) -> None:
    write_sweep(tmp_path, GATED)
    exptflow(tmp_path, "compile")
    run = start(tmp_path, sys.executable, *launcher)
    wait_for(lambda: both_trains_run(tmp_path), what="both trains to run")

    if how == "group":  # what a terminal's kill or `timeout -s KILL exptflow run` does
        os.killpg(run.pid, signal.SIGKILL)
    else:  # the OOM killer's usual pick: the biggest process
        os.kill(run.pid, signal.SIGKILL)
    run.wait()

    no_process_left(tmp_path)
    status = exptflow(tmp_path, "status").stdout
    assert [cells(line) for line in status.splitlines()[:2]] == [
        ["a=1", "train killed", "test pending"],
        ["a=2", "train killed", "test pending"],
    ]
    (tmp_path / "go").touch()
    resumed = exptflow(tmp_path, "run")
    assert "2 stage(s) of a killed run recorded as killed or lost" in resumed.stdout
    assert events(tmp_path) == Counter(
        {"a=1/train": 2, "a=2/train": 2, "a=1/train-end": 1, "a=2/train-end": 1}
        | {"a=1/test": 1, "a=2/test": 1}
    )
    trains = [h for h in history(tmp_path) if h["stage"] == "train"]
    assert sorted(h["state"] for h in trains) == ["done", "done", "killed", "killed"]
    no_process_left(tmp_path)


# GATED's train as one Python process from its first event on (`exec`), which SIGINT always
# ends: a shell loop may outlive SIGINT by chance (see the next test).
HOLD = """
import os, sys, time
name = os.path.basename(os.environ["EXPTFLOW_DIR"])
with open("events", "a") as events:
    events.write(f"{name}/train\\n")
while not os.path.exists("go"):
    time.sleep(0.05)
with open("events", "a") as events:
    events.write(f"{name}/train-end\\n")
"""
PYTHON_GATED = f"""
template:
  train: exec {sys.executable} hold.py
  test: echo {{_name}}/test >> events
resource: [0, 1]
---
a: [1, 2]
"""


def test_ctrl_c_on_plain_snakemake_stops_its_stages(tmp_path: Path) -> None:
    (tmp_path / "hold.py").write_text(HOLD)
    write_sweep(tmp_path, PYTHON_GATED)
    exptflow(tmp_path, "compile")
    run = start(tmp_path, sys.executable, "-m", "snakemake")
    wait_for(lambda: both_trains_run(tmp_path), what="both trains to run")

    os.killpg(run.pid, signal.SIGINT)  # the terminal's foreground group: Snakemake alone
    output, _ = run.communicate(timeout=120)

    assert run.returncode != 0, output
    no_process_left(tmp_path)
    trains = [r for r in records(tmp_path) if r["stage"] == "train"]
    assert [(r["state"], r["signal"]) for r in trains] == [("killed", "SIGINT")] * 2
    assert "train-end" not in " ".join(events(tmp_path))


def test_a_stage_that_outlives_ctrl_c_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    # A shell that ignores SIGINT (as bash may, by chance, between two commands of a loop).
    write_sweep(
        tmp_path, GATED.replace("echo {_name}/train >>", "trap '' INT; echo {_name}/train >>")
    )
    exptflow(tmp_path, "compile")
    run = start(tmp_path, sys.executable, "-m", "snakemake")
    wait_for(lambda: both_trains_run(tmp_path), what="both trains to run")

    os.killpg(run.pid, signal.SIGINT)
    output, _ = run.communicate(timeout=120)

    assert run.returncode != 0, output
    no_process_left(tmp_path)
    trains = [r for r in records(tmp_path) if r["stage"] == "train"]
    assert [(r["state"], r["signal"]) for r in trains] == [("killed", "SIGKILL")] * 2
    assert all(r["duration"] >= 10 for r in trains)  # SIGINT first, SIGKILL 10 s later
    assert "train-end" not in " ".join(events(tmp_path))


def test_a_stage_that_exits_0_when_stopped_did_not_finish(tmp_path: Path) -> None:
    # A training script that saves a checkpoint on SIGTERM and exits 0 (before a preemption):
    # it must run again, not count as done.
    write_sweep(
        tmp_path,
        GATED.replace("echo {_name}/train >>", "trap 'exit 0' TERM; echo {_name}/train >>"),
    )
    exptflow(tmp_path, "compile")
    run = start(tmp_path, sys.executable, "-m", "exptflow.cli", "run")
    wait_for(lambda: both_trains_run(tmp_path), what="both trains to run")

    os.killpg(run.pid, signal.SIGTERM)
    run.communicate(timeout=120)

    no_process_left(tmp_path)
    trains = [r for r in records(tmp_path) if r["stage"] == "train"]
    assert [(r["state"], r["signal"], r["exit_code"]) for r in trains] == [
        ("killed", "SIGTERM", 143)
    ] * 2
    assert not list(tmp_path.glob("output/*/.exptflow/train.done"))


def test_a_live_run_refuses_a_second_run_and_a_compile(tmp_path: Path) -> None:
    write_sweep(tmp_path, GATED)
    (tmp_path / "snakemake.log").touch()
    follower = start(tmp_path, "tail", "-f", "snakemake.log")  # not a run: no refusal
    wait_for(lambda: processes_in(tmp_path), what="tail to start")
    exptflow(tmp_path, "compile")
    follower.kill()
    table = (tmp_path / "experiments.json").read_bytes()
    run = start(tmp_path, sys.executable, "-m", "snakemake")
    wait_for(lambda: both_trains_run(tmp_path), what="both trains to run")

    second = exptflow(tmp_path, "run", check=False)
    write_sweep(tmp_path, GATED.replace("[1, 2]", "[1, 2, 3]"))
    recompile = exptflow(tmp_path, "compile", check=False)
    (tmp_path / "go").touch()
    output, _ = run.communicate(timeout=120)

    live = (
        rf"a Snakemake run is live in {re.escape(str(tmp_path.resolve()))} "
        rf"\(pid {run.pid}, since \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\); wait for it to end "
        r"\(`exptflow status` follows it\), or stop it with `kill -TERM \d+` "
        r"\(its stages are stopped and recorded as killed\), then try again"
    )
    assert second.returncode == 2 and re.fullmatch(f"error: exptflow run: {live}\n", second.stderr)
    assert recompile.returncode == 2
    assert re.fullmatch(f"error: exptflow compile: {live}\n", recompile.stderr)
    assert (tmp_path / "experiments.json").read_bytes() == table
    assert run.returncode == 0, output
    assert set(events(tmp_path).values()) == {1}


def test_a_stage_whose_previous_copy_lives_is_not_started_beside_it(tmp_path: Path) -> None:
    directory = tmp_path / "output" / "a=1"
    wrapper = [
        sys.executable,
        "-m",
        "exptflow.runtime.job",
        "--stage",
        "train",
        "--directory",
        str(directory),
        "--command",
        "echo train >> events; until [ -e go ]; do sleep 0.05; done",
        "--params",
        '{"a": 1}',
    ]
    first = start(tmp_path, *wrapper)
    wait_for(lambda: events(tmp_path)["train"] == 1, what="the first copy to start")

    second = subprocess.run(wrapper, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    (tmp_path / "go").touch()

    assert second.returncode == 1
    assert re.fullmatch(
        rf"exptflow: stage train of {re.escape(str(directory))} is still running in another run "
        rf"\(pid {first.pid} on {re.escape(socket.gethostname())}, since [\d: -]+\); refusing "
        r"to start a second copy beside it: wait for it to end, or stop that run\n",
        second.stderr,
    )
    assert first.wait(timeout=60) == 0
    assert events(tmp_path) == Counter({"train": 1})


STAGE_SCRIPT = """
case "$1" in
  oom) sh -c 'echo $$ > victim; exec sleep 60' ;;
  timeout-kill) timeout -s KILL 0.2 sleep 60 ;;
  timeout) timeout 0.2 sleep 60 ;;
  fail) exit 3 ;;
esac
"""


def test_each_way_a_stage_ends_is_recorded_as_such(tmp_path: Path) -> None:
    (tmp_path / "stage.sh").write_text(STAGE_SCRIPT)
    write_sweep(
        tmp_path,
        """
        template:
          train: cd {_output} && bash ../../stage.sh {how}
        ---
        how: [oom, timeout-kill, timeout, fail]
        """,
    )
    exptflow(tmp_path, "compile")
    run = start(tmp_path, sys.executable, "-m", "snakemake")
    victim = tmp_path / "output/how=oom/victim"
    wait_for(lambda: victim.exists() and victim.read_text().strip(), what="the victim's pid")
    os.kill(int(victim.read_text()), signal.SIGKILL)  # as the OOM killer does
    run.communicate(timeout=120)

    ended = {
        path.parents[1].name.removeprefix("how="): json.loads(path.read_text())
        for path in tmp_path.glob("output/*/.exptflow/stage.train.json")
    }
    assert {name: (r["state"], r["exit_code"], r["signal"]) for name, r in ended.items()} == {
        "oom": ("killed", 137, "SIGKILL"),
        "timeout-kill": ("killed", 137, "SIGKILL"),
        "timeout": ("timed-out", 124, None),
        "fail": ("failed", 3, None),
    }
    status = exptflow(tmp_path, "status").stdout
    assert "4 experiments, 4 stages: 1 failed, 2 killed, 1 timed-out" in status


def test_a_runtime_limit_stops_the_stage(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          train:
            cmd: >
              trap 'echo stopping; exit {code}' TERM;
              if [ {speed} = slow ]; then sleep 60 & wait; fi
            resources: {runtime: 5s}
        ---
        speed: [slow]
        code: [0, 5]
        ---
        speed: [fast]
        code: [0]
        """,
    )
    result = exptflow(tmp_path, "run", check=False)

    assert result.returncode != 0
    for code in (0, 5):  # exit 0 when told to stop is no finish either
        name = f"code={code}+speed=slow"
        slow = json.loads((tmp_path / f"output/{name}/.exptflow/stage.train.json").read_text())
        assert (slow["state"], slow["exit_code"], slow["time_limit"]) == ("timed-out", code, 5)
        assert 5 <= slow["duration"] < 60
        assert not (tmp_path / f"output/{name}/.exptflow/train.done").exists()
        assert "stopping" in next((tmp_path / f"output/{name}").glob("log.train.*")).read_text()
    assert state_of(tmp_path, "code=0+speed=fast", "train") == "done"
    assert "ran past its time limit (5 s) and was stopped" in result.stdout + result.stderr
    no_process_left(tmp_path)


def test_every_gpu_slot_runs_at_once_whatever_the_core_count(tmp_path: Path) -> None:
    # Each train waits until all eight have arrived: it can only pass with eight at once,
    # more than Snakemake's cores + 5 job threads at --cores 1.
    write_sweep(
        tmp_path,
        """
        template:
          train: >
            echo {_name} >> arrived &&
            for i in $(seq 1200); do [ $(wc -l < arrived) -ge 8 ] && exit 0; sleep 0.05; done;
            exit 1
          cpu: {cmd: sleep 0.3, gpus: 0}
        resource: [0, 1, 2, 3, 4, 5, 6, 7]
        ---
        a: [1, 2, 3, 4, 5, 6, 7, 8]
        """,
    )
    exptflow(tmp_path, "compile")
    result = snakemake(tmp_path, "--cores", "1", check=False)

    stages = records(tmp_path)
    assert {(r["stage"], r["state"]) for r in stages} == {("train", "done"), ("cpu", "done")}, (
        result.stdout + result.stderr
    )
    cpu = sorted((r["start"], r["end"]) for r in stages if r["stage"] == "cpu")
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(cpu))


def test_status_shows_the_stages_compile_would_rerun_as_outdated(tmp_path: Path) -> None:
    sweep = "template:\n  train: echo {a}\n  test: echo test\n---\na: [1, 2]\n"
    write_sweep(tmp_path, sweep)
    exptflow(tmp_path, "run")
    write_sweep(tmp_path, sweep.replace("echo {a}", "echo a={a}").replace("[1, 2]", "[1, 2, 3]"))
    exptflow(tmp_path, "compile")

    lines = exptflow(tmp_path, "status").stdout.splitlines()

    assert [cells(line) for line in lines] == [
        ["a=1", "train outdated", "test outdated"],
        ["a=2", "train outdated", "test outdated"],
        ["a=3", "train pending", "test pending"],
        ["3 experiments, 6 stages: 4 outdated, 2 pending"],
    ]


def cells(line: str) -> list[str]:
    """A status line's cells, without durations (they vary)."""
    return [re.sub(r" [\d.]+[smh]$", "", cell) for cell in re.split(r"\s{2,}", line.strip())]

"""Every experiment records what ran: params, command, log, state, timings, host, slot,
and the run's provenance (git commit, dirty diff, untracked files, packages, sweep copy)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import git
import pytest

from conftest import exptflow, records, snakemake, write_sweep

pytestmark = pytest.mark.slow

SWEEP = """
template:
  train: echo training {lr} at {_time} && echo to stderr >&2
resource: [0]
---
lr: [0.1]
"""


def test_records_and_provenance_of_a_dirty_repository(tmp_path: Path) -> None:
    repo = git.Repo.init(tmp_path)
    write_sweep(tmp_path, SWEEP)
    (tmp_path / "model.py").write_text("depth = 1\n")
    (tmp_path / ".gitignore").write_text("output/\n.snakemake/\n")
    repo.index.add(["params.yaml", "model.py", ".gitignore"])
    commit = repo.index.commit("first model")
    (tmp_path / "model.py").write_text("depth = 2\n")
    (tmp_path / "notes.txt").write_text("untracked\n")

    exptflow(tmp_path, "compile")
    snakemake(tmp_path)

    experiment = tmp_path / "output" / "lr=0.1"
    assert json.loads((experiment / "params.json").read_text()) == {"lr": 0.1}
    (record,) = records(tmp_path)
    assert record["state"] == "done" and record["exit_code"] == 0
    assert record["command"].startswith("echo training 0.1 at")
    assert record["cuda_visible_devices"] == "0"
    assert record["end"] >= record["start"] and record["duration"] >= 0
    assert record["git"] == {
        "commit": commit.hexsha,
        "branch": repo.active_branch.name,
        "dirty": True,
    }
    log = experiment / record["log"]
    assert re.fullmatch(r"log\.train\.\d{8}\.\d{6}", log.name)
    stamp = log.name.split(".", 2)[2]
    assert log.read_text() == f"training 0.1 at {stamp}\nto stderr\n"
    assert (experiment / ".exptflow" / "train.done").exists()

    run = tmp_path / record["run"]
    state = json.loads((run / "git.json").read_text())
    assert state["commit"] == commit.hexsha and state["message"] == "first model"
    assert "-depth = 1\n+depth = 2" in (run / "uncommitted.patch").read_text()
    assert "notes.txt" in (run / "untracked.txt").read_text().split()
    environment = json.loads((run / "environment.json").read_text())
    assert environment["python"] == sys.version and "snakemake" in environment["packages"]
    assert (run / "params.yaml").read_text() == (tmp_path / "params.yaml").read_text()


@pytest.mark.parametrize(
    ("host", "beat", "guard_said", "expected"),
    [
        pytest.param("here", 0, False, "lost", id="dead-pid-here-is-lost"),
        pytest.param("here", 0, True, "killed", id="dead-pid-marked-by-its-guard-is-killed"),
        pytest.param("elsewhere", 1000, False, "lost", id="no-heartbeat-elsewhere-is-lost"),
        pytest.param("elsewhere", 5, False, "running", id="fresh-heartbeat-elsewhere-runs"),
    ],
)
def test_status_tells_a_running_stage_from_a_killed_or_lost_one(
    tmp_path: Path, host: str, beat: float, guard_said: bool, expected: str
) -> None:
    write_sweep(tmp_path, SWEEP)
    exptflow(tmp_path, "compile")
    snakemake(tmp_path)
    record_path = next(tmp_path.glob("output/*/.exptflow/stage.train.json"))
    record = json.loads(record_path.read_text())
    dead = subprocess.Popen(["true"])
    dead.wait()
    here = os.uname().nodename
    record.update(state="running", pid=dead.pid, host=here if host == "here" else "node-elsewhere")
    record_path.write_text(json.dumps(record))
    os.utime(record_path, (time.time() - beat, time.time() - beat))
    if guard_said:
        (record_path.parent / "stage.train.killed").touch()

    status = exptflow(tmp_path, "status").stdout

    assert status.splitlines()[0].startswith(f"lr=0.1  train {expected}")
    assert status.splitlines()[1].startswith(f"1 experiments, 1 stages: 1 {expected}")


def test_wrapper_refuses_a_directory_holding_other_params(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP)
    exptflow(tmp_path, "compile")
    experiment = tmp_path / "output" / "lr=0.1"
    experiment.mkdir(parents=True)
    (experiment / "params.json").write_text('{"lr": 0.2}')
    exptflow(tmp_path, "compile", check=False)  # compile refuses too; bypass it:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exptflow.runtime.job",
            "--stage",
            "train",
            "--directory",
            str(experiment),
            "--command",
            "touch ran",
            "--params",
            '{"lr": 0.1}',
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "holds other params" in result.stderr
    assert not (tmp_path / "ran").exists()
    assert (experiment / "params.json").read_text() == '{"lr": 0.2}'


def test_stage_gets_the_variables_snakemake_gives_a_shell_job(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          t: echo "$OMP_NUM_THREADS $MKL_NUM_THREADS $TMPDIR $EXPTFLOW_STAGE" > {_output}/env
        ---
        a: 1
        """,
    )
    exptflow(tmp_path, "compile")
    snakemake(tmp_path)
    variables = (tmp_path / "output/a=1/env").read_text().split()
    assert variables == ["1", "1", tempfile.gettempdir(), "t"]

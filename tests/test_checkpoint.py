"""The in-job API for long training: a stage killed mid-way and retried resumes from its
last checkpoint; artifacts and seeding."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from conftest import exptflow, history, start, wait_for, write_sweep

# Ten epochs, a checkpoint after each; after epoch 4 the first attempt waits for `go`, so
# the test can kill it there. The retry (retries: 1) must go on from epoch 5.
TRAIN = """
import os, pathlib, sys, time
import exptflow

pathlib.Path("pid").write_text(str(os.getpid()))

state = exptflow.checkpoint.load({"epoch": 0})
for epoch in range(state["epoch"], 10):
    with open("epochs", "a") as handle:
        handle.write(f"{epoch}\\n")
    exptflow.checkpoint.save({"epoch": epoch + 1})
    if epoch == 4 and not pathlib.Path("go").exists():
        pathlib.Path("holding").touch()  # after the save: the kill finds epoch 5 saved
    while epoch == 4 and not pathlib.Path("go").exists():
        time.sleep(0.05)
exptflow.summary(epochs=10)
"""


def epochs(directory: Path) -> list[int]:
    path = directory / "epochs"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


@pytest.mark.slow
def test_a_killed_stage_retried_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    write_sweep(
        tmp_path,
        f"template:\n  train: {{cmd: '{sys.executable} train.py', retries: 1}}\n---\nlr: 1\n",
    )
    run = start(tmp_path, sys.executable, "-m", "exptflow.cli", "run", "--cores", "1")
    wait_for(lambda: (tmp_path / "holding").exists(), what="five epochs saved")
    assert epochs(tmp_path) == [0, 1, 2, 3, 4]
    os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)  # the OOM killer, say
    (tmp_path / "go").touch()
    output, _ = run.communicate(timeout=120)
    assert run.returncode == 0, output
    assert epochs(tmp_path) == list(range(10)), "the retry went on from epoch 5"
    states = [line["state"] for line in history(tmp_path) if line["stage"] == "train"]
    assert states[-2:] == ["killed", "done"]
    assert (tmp_path / "output/lr=1/checkpoint.train.pkl").exists()

    # A rerun after the stage finished (here: an edited command) starts afresh.
    (tmp_path / "epochs").unlink()
    write_sweep(
        tmp_path,
        f"template:\n  train: {{cmd: '{sys.executable} train.py again', retries: 1}}\n---\nlr: 1\n",
    )
    exptflow(tmp_path, "run", "--cores", "1")
    assert epochs(tmp_path) == list(range(10))


def test_artifacts_and_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    import exptflow

    monkeypatch.setenv("EXPTFLOW_DIR", str(tmp_path))
    (tmp_path / "plot.png").write_bytes(b"png")
    assert exptflow.artifact(tmp_path / "plot.png") == tmp_path / "artifacts/plot.png"
    assert exptflow.artifact("a,b\n", name="preds.csv").read_text() == "a,b\n"
    with pytest.raises(ValueError, match="give content a file name"):
        exptflow.artifact(b"raw")
    exptflow.seed_everything(3)
    first = random.random()
    exptflow.seed_everything(3)
    assert random.random() == first
    monkeypatch.delenv("EXPTFLOW_DIR")
    assert exptflow.checkpoint.save({"epoch": 1}) is None, "outside exptflow: kept nowhere"
    assert exptflow.checkpoint.load("default") == "default"

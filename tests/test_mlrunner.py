"""Moving over from mlrunner: output directories written by mlrunner 0.5.9 itself (its ``run``
command, in a subprocess) read as experiments in ``exptflow show``, ``status`` and ``load``, and
an ``Examiner`` parser gives the same columns through ``exptflow.examine`` as in mlrunner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlrunner.examine.examiner import Examiner, latest_log

import exptflow
from conftest import exptflow as exptflow_cli
from conftest import write_sweep
from exptflow.results.mlrunner import examiner_parser
from exptflow.results.sources import _REGISTERED

pytestmark = pytest.mark.slow

TRAIN = """
import os, sys
lr = float(sys.argv[2])
print(f"loss {1 - lr:.2f}")
if lr > 0.5 and not os.path.exists("fixed"):
    sys.exit(3)
"""

SWEEP = f"""
---
template:
  train: {sys.executable} train.py --lr {{lr}} [early-stop]
  test: echo accuracy {{lr}}
default:
  lr: 0.1
  early-stop: false
  data: wmt
resource: [0]
---
lr: [0.1, 0.9]
---
early-stop: [true]
"""


def mlrunner_run(directory: Path) -> None:
    """mlrunner's ``run`` console script (``mlrunner.run:main``) as a process of its own."""
    script = "import sys; from mlrunner.run import main; sys.argv[0] = 'run'; main()"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=directory, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(TRAIN)
    write_sweep(tmp_path, SWEEP)
    mlrunner_run(tmp_path)  # lr=0.9's train fails, so its test never starts
    assert (tmp_path / "output/Lr_0.9/stat").read_text() == "train: failed\n"
    return tmp_path


def test_show_lists_mlrunner_experiments_with_params_and_stage_states(project: Path) -> None:
    shown = exptflow_cli(project, "show").stdout
    assert shown.splitlines() == [
        "experiment  early-stop  lr   train_state  test_state",
        "EaStop_T    True        0.1  done         done",
        "Lr_0.1      False       0.1  done         done",
        "Lr_0.9      False       0.9  failed       pending",
    ]


def test_status_lists_mlrunner_experiments_with_stage_states(project: Path) -> None:
    assert exptflow_cli(project, "status").stdout.splitlines() == [
        "EaStop_T  train done    test done",
        "Lr_0.1    train done    test done",
        "Lr_0.9    train failed  test pending",
        "3 experiments, 6 stages: 4 done, 1 failed, 1 pending",
    ]


def test_load_gives_every_param_and_stage_state(project: Path) -> None:
    frame = exptflow.load(project / "output")
    assert frame.attrs["params"] == ["data", "early-stop", "lr"]
    assert frame.attrs["stages"] == ["train", "test"]  # the template's order, not stat's
    rows = frame.set_index("experiment")
    assert rows.loc["Lr_0.9", ["lr", "early-stop", "data"]].tolist() == [0.9, False, "wmt"]
    assert rows["train_state"].to_dict() == {
        "EaStop_T": "done",
        "Lr_0.1": "done",
        "Lr_0.9": "failed",
    }
    assert rows.loc["Lr_0.9", "test_state"] == "pending"
    assert "_scripts" not in frame.columns and "_name" not in frame.columns


def losses(path: Path, experiment, caches: dict) -> None:
    """An mlrunner parser as its docs write one."""
    log = latest_log("train", path)
    if log is None:
        return
    experiment.metric["loss"] = float(log.read_text().split()[1])
    experiment.cache["log"] = log
    caches.setdefault("seen", []).append(experiment.param["_name"])
    test = latest_log("test", path)
    experiment.metric["accuracy"] = float(test.read_text().split()[1]) if test else None


def test_examiner_parser_gives_the_columns_mlrunner_gives(project: Path) -> None:
    examiner = Examiner()
    examiner.add(losses)
    examiner.exam(str(project / "output"))
    theirs = examiner.table()

    ours = exptflow.examine(project / "output", losses)

    def rows(frame) -> set[tuple]:
        columns = ["early-stop", "lr", "loss", "accuracy"]
        return {tuple(None if v != v else v for v in row) for row in frame[columns].values}

    assert (
        rows(ours)
        == rows(theirs)
        == {
            (True, 0.1, 0.9, 0.1),
            (False, 0.1, 0.9, 0.1),
            (False, 0.9, 0.1, None),
        }
    )
    assert ours.attrs["metrics"] == ["loss", "accuracy"]


def test_examiner_parsers_share_one_caches_dict(project: Path) -> None:
    caches: dict = {}

    def count(path: Path, experiment, shared: dict) -> None:
        shared["count"] = shared.get("count", 0) + 1
        experiment["order"] = shared["count"]  # a short way to write experiment.metric[...]

    exptflow.register_parser(examiner_parser(count, caches))
    try:
        frame = exptflow.load(project / "output")
    finally:
        _REGISTERED.pop()
    assert caches == {"count": 3}
    assert sorted(frame["order"]) == [1, 2, 3]


def test_a_rerun_by_mlrunner_shows_at_once(project: Path) -> None:
    assert (
        "Lr_0.9      False       0.9  failed       pending" in exptflow_cli(project, "show").stdout
    )
    (project / "fixed").touch()
    mlrunner_run(project)  # reruns only the failed stage; stat is rewritten in place
    frame = exptflow.load(project / "output").set_index("experiment")
    assert frame.loc["Lr_0.9", ["train_state", "test_state"]].tolist() == ["done", "done"]


def test_a_corrupt_stat_file_warns_and_the_rest_stays(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "output/Lr_0.1/stat").write_text("train: finished\ntest: [")
    (project / "output/EaStop_T/stat").write_text("train: paused\ntest: finished\n")
    frame = exptflow.load(project / "output").set_index("experiment")
    assert frame["train_state"].to_dict() == {
        "EaStop_T": "pending",
        "Lr_0.1": "pending",
        "Lr_0.9": "failed",
    }
    said = capsys.readouterr().err
    assert f"warning: {project}/output/Lr_0.1/stat: unreadable (" in said
    assert (
        f"warning: {project}/output/EaStop_T/stat: train: 'paused' is not one of "
        "finished, failed, running; skipped"
    ) in said


def test_examine_reads_exptflow_experiments_too(tmp_path: Path) -> None:
    write_sweep(tmp_path, "template:\n  train: echo loss 0.5 {lr}\n---\nlr: [1, 2]\n")
    exptflow_cli(tmp_path, "run")
    frame = exptflow.examine(tmp_path / "output", losses)
    assert sorted(frame["loss"]) == [0.5, 0.5]
    assert frame["train_state"].tolist() == ["done", "done"]

"""Fast unit tests of the pieces the end-to-end runs exercise as a whole: which directory an
experiment gets, how a stage's exit is recorded, what counts as a live Snakemake."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from exptflow.compiler.identity import assign, conflict_error
from exptflow.runtime.job import Outcome, _outcome, _state
from exptflow.runtime.launch import _is_snakemake
from exptflow.sweep.expand import Experiment


def experiment(lr: float, data: str = "wmt") -> Experiment:
    return Experiment(f"lr={lr}", {"data": data, "lr": lr}, {"lr": lr}, ("train",), 1)


def holds(output: Path, name: str, params: dict) -> None:
    (output / name).mkdir(parents=True)
    (output / name / "params.json").write_text(json.dumps(params))


@pytest.mark.parametrize(
    ("recorded", "rename", "expected", "conflicts"),
    [
        pytest.param(None, False, "lr=0.1", 0, id="new-directory"),
        pytest.param({"data": "wmt", "lr": 0.1}, False, "lr=0.1", 0, id="same-params-reused"),
        pytest.param(
            {"data": "iwslt", "lr": 0.1}, False, "lr=0.1", 1, id="changed-default-refused"
        ),
        pytest.param(
            {"data": "iwslt", "lr": 0.1}, True, "lr=0.1@", 0, id="changed-default-renamed"
        ),
    ],
)
def test_a_directory_is_an_experiment_s_identity(
    tmp_path: Path, recorded: dict | None, rename: bool, expected: str, conflicts: int
) -> None:
    if recorded is not None:
        holds(tmp_path, "lr=0.1", recorded)

    directories, found = assign([experiment(0.1)], tmp_path, rename)

    assert directories["lr=0.1"].startswith(expected)
    assert len(found) == conflicts


def test_a_renamed_experiment_keeps_its_new_directory_on_the_next_compile(tmp_path: Path) -> None:
    holds(tmp_path, "lr=0.1", {"data": "iwslt", "lr": 0.1})
    first, _ = assign([experiment(0.1)], tmp_path, rename_changed=True)
    holds(tmp_path, first["lr=0.1"], {"data": "wmt", "lr": 0.1})  # its run wrote params.json

    again, conflicts = assign([experiment(0.1)], tmp_path, rename_changed=False)

    assert (again, conflicts) == (first, [])


def test_the_conflict_message_names_the_directory_and_the_change(tmp_path: Path) -> None:
    holds(tmp_path, "lr=0.1", {"data": "iwslt", "lr": 0.1})
    _, conflicts = assign([experiment(0.1)], tmp_path, rename_changed=False)

    message = str(conflict_error("params.yaml", conflicts))

    assert message.splitlines()[1] == f"  {tmp_path / 'lr=0.1'}: data: 'iwslt' -> 'wmt'"
    assert "exptflow compile --rename-changed" in message


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        pytest.param(_outcome(0), "done", id="exit-0"),
        pytest.param(_outcome(3), "failed", id="exit-3"),
        pytest.param(_outcome(-9), "killed", id="the-shell-killed"),
        pytest.param(_outcome(137), "killed", id="its-command-killed"),
        pytest.param(_outcome(124), "timed-out", id="timeout-command-gave-up"),
        pytest.param(Outcome(0, None, True), "timed-out", id="exit-0-after-its-time-limit"),
        pytest.param(Outcome(143, "SIGTERM", True), "timed-out", id="stopped-at-its-time-limit"),
    ],
)
def test_how_a_stage_ended_is_its_state(outcome: Outcome, state: str) -> None:
    assert _state(outcome) == state


def test_a_signal_is_read_from_the_wait_status_and_from_the_shell_s_convention() -> None:
    assert (_outcome(-9).code, _outcome(-9).signal) == (137, "SIGKILL")
    assert (_outcome(130).code, _outcome(130).signal) == (130, "SIGINT")
    assert _outcome(1).signal is None


@pytest.mark.parametrize(
    ("command", "live"),
    [
        pytest.param([b"/venv/bin/python3", b"-m", b"snakemake"], True, id="python-m-snakemake"),
        pytest.param([b"/venv/bin/snakemake", b"--cores", b"2"], True, id="snakemake"),
        pytest.param([b"python3", b"/venv/bin/snakemake"], True, id="python-bin-snakemake"),
        pytest.param([b"tail", b"-f", b"snakemake.log"], False, id="tail-of-its-log"),
        pytest.param([b"vim", b"Snakefile"], False, id="an-editor"),
        pytest.param([b"python3", b"-m", b"exptflow.cli", b"run"], False, id="exptflow-run"),
        pytest.param([b"python", b"-u", b"-m", b"snakemake"], True, id="python-options"),
        pytest.param([b"python", b"-X", b"importtime", b"-m", b"snakemake"], True, id="X-option"),
        pytest.param([b"python", b"-c", b"import snakemake"], False, id="python-c"),
        pytest.param([b"bash", b"snakemake"], False, id="not-python"),
    ],
)
def test_what_counts_as_a_live_snakemake(command: list[bytes], live: bool) -> None:
    assert _is_snakemake(command) == live


def test_resume_removes_the_temporary_copies_of_killed_writers(tmp_path: Path) -> None:
    from exptflow.runtime.launch import remove_dead_temporaries

    dead = tmp_path / ".stage.test.json.999999999.1.tmp"  # no such pid
    live = tmp_path / f".stage.train.json.{os.getpid()}.1.tmp"
    for path in (dead, live, tmp_path / "stage.test.json"):
        path.write_text("{}")
    remove_dead_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "stage.test.json"])


@pytest.mark.parametrize(
    ("argv", "sweep", "snakemake_args"),
    [
        pytest.param(["run"], "params.yaml", [], id="default"),
        pytest.param(
            ["run", "other.yaml", "--cores", "2"], "other.yaml", ["--cores", "2"], id="first"
        ),
        pytest.param(["run", "--sweep", "s.yml"], "s.yml", [], id="flag"),
        pytest.param(
            ["run", "--cores", "2", "--configfile", "c.yaml"],
            "params.yaml",
            ["--cores", "2", "--configfile", "c.yaml"],
            id="a-snakemake-yaml-stays-snakemake-s",
        ),
        pytest.param(
            ["run", "other.yaml", "--", "-n", "--title"],
            "other.yaml",
            ["-n", "--title"],
            id="dashes",
        ),
    ],
)
def test_run_takes_the_sweep_first_and_gives_snakemake_the_rest(
    argv: list[str], sweep: str, snakemake_args: list[str]
) -> None:
    from exptflow.cli.main import split
    from exptflow.cli.options import sweep_of

    arguments, extra = split(argv)
    assert (sweep_of(arguments, extra), extra) == (sweep, snakemake_args)

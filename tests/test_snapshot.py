"""`code: snapshot`: every stage runs in a copy of the commit made at run start, so edits made
while stages wait do not leak into them; a new commit reruns nothing by itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_cluster import FAST, slurm

from conftest import executions, exptflow, git, records, start, state_of, wait_for, write_sweep

pytestmark = pytest.mark.slow

# train holds until `go` exists (the test edits the program meanwhile); test runs the program.
SWEEP = """
code: snapshot
template:
  train:
    cmd: echo {_name} >> "$EXPTFLOW_ROOT/started" && until [ -e "$EXPTFLOW_ROOT/go" ]; do sleep 0.05; done
    gpus: 0
  test:
    cmd: python prog.py {a} > {_output}/said.txt && cat data/words.txt >> {_output}/said.txt
    gpus: 0
---
a: [1, 2]
"""
# The same, test stages packed two to a submission (the wrapper as a process).
PACKED = SWEEP.replace("    gpus: 0\n---", "    gpus: 0\n    pack: 2\n---")


def repository(directory: Path, sweep: str = SWEEP) -> str:
    """A repository with the sweep and prog.py v1 committed, data ignored; the commit."""
    write_sweep(directory, sweep)
    (directory / "prog.py").write_text('import sys\nprint("v1", sys.argv[1])\n')
    (directory / ".gitignore").write_text("output/\ndata/\n.snakemake/\ngo\nstarted\n")
    (directory / "data").mkdir()
    (directory / "data/words.txt").write_text("untracked data\n")
    git(directory, "init", "-q")
    git(directory, "add", ".")
    git(directory, "commit", "-qm", "v1")
    return git(directory, "rev-parse", "HEAD").strip()


def edit_program(directory: Path, version: str, commit: bool) -> None:
    (directory / "prog.py").write_text(f'import sys\nprint("{version}", sys.argv[1])\n')
    if commit:
        git(directory, "commit", "-qam", version)


def said(directory: Path, name: str = "a=1") -> str:
    return (directory / "output" / name / "said.txt").read_text()


def trains_hold(directory: Path) -> bool:
    started = executions(directory / "started")
    return len(started) == 2 and all(
        state_of(directory, name, "train") == "running" for name in ("a=1", "a=2")
    )


def test_a_snapshot_run_is_immune_to_an_edit_made_mid_run(tmp_path: Path) -> None:
    commit = repository(tmp_path)
    run = start(tmp_path, sys.executable, "-m", "exptflow.cli", "run", "--verbose")
    wait_for(lambda: trains_hold(tmp_path), what="both trains to hold")
    edit_program(tmp_path, "v2", commit=True)  # while every test stage waits
    (tmp_path / "go").touch()
    output, _ = run.communicate(timeout=300)
    assert run.returncode == 0, output

    assert said(tmp_path) == "v1 1\nuntracked data\n"
    assert said(tmp_path, "a=2") == "v1 2\nuntracked data\n"
    assert {r["code"] for r in records(tmp_path)} == {commit}
    snapshot = tmp_path / "output/.exptflow/code" / commit
    assert (snapshot / "prog.py").read_text().startswith('import sys\nprint("v1"')
    assert f"exptflow: stages run from the snapshot {snapshot}" in output
    assert (tmp_path / "prog.py").read_text().startswith('import sys\nprint("v2"'), "live edit kept"

    # The new commit does not rerun the finished experiments by itself.
    again = exptflow(tmp_path, "run")
    assert "0 new, 4 done, 0 outdated" in again.stdout
    assert len(executions(tmp_path / "started")) == 2
    assert said(tmp_path) == "v1 1\nuntracked data\n"


def test_snapshots_of_one_commit_are_reused(tmp_path: Path) -> None:
    commit = repository(tmp_path)
    (tmp_path / "go").touch()
    exptflow(tmp_path, "run")
    snapshot = tmp_path / "output/.exptflow/code" / commit
    marker = snapshot / "made-once"
    marker.write_text("")
    write_sweep(tmp_path, SWEEP.replace("a: [1, 2]", "a: [1, 2, 3]"))  # uncommitted: not code
    exptflow(tmp_path, "run")
    assert marker.exists(), "the snapshot was extracted again"
    assert [p.name for p in snapshot.parent.iterdir()] == [commit]
    assert said(tmp_path, "a=3") == "v1 3\nuntracked data\n"


def test_uncommitted_changes_only_when_asked(tmp_path: Path) -> None:
    commit = repository(tmp_path)
    (tmp_path / "go").touch()
    edit_program(tmp_path, "v2-uncommitted", commit=False)
    exptflow(tmp_path, "run")
    assert said(tmp_path) == "v1 1\nuntracked data\n"

    edit_program(tmp_path, "v3-uncommitted", commit=False)
    write_sweep(tmp_path, SWEEP.replace("{a} >", "{a} --again >"))  # test reruns
    exptflow(tmp_path, "run", "--snapshot-uncommitted")
    assert said(tmp_path) == "v3-uncommitted 1\nuntracked data\n"
    names = {r["code"] for r in records(tmp_path) if r["stage"] == "test"}
    assert len(names) == 1 and next(iter(names)).startswith(commit + "+")


def test_run_snapshot_flag_and_the_live_default(tmp_path: Path) -> None:
    live = SWEEP.replace("code: snapshot\n", "")
    commit = repository(tmp_path, live)
    (tmp_path / "go").touch()
    edit_program(tmp_path, "v2-live", commit=False)
    exptflow(tmp_path, "run")
    assert said(tmp_path) == "v2-live 1\nuntracked data\n"
    assert {r["code"] for r in records(tmp_path)} == {None}

    write_sweep(tmp_path, live.replace("{a} >", "{a} --flag >"))
    exptflow(tmp_path, "run", "--snapshot")
    assert said(tmp_path) == "v1 1\nuntracked data\n"
    assert {r["code"] for r in records(tmp_path) if r["stage"] == "test"} == {commit}


def test_kill_9_then_resume_runs_the_snapshot(tmp_path: Path) -> None:
    commit = repository(tmp_path)
    exptflow(tmp_path, "compile")
    run = subprocess.Popen(
        [sys.executable, "-m", "snakemake"],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: trains_hold(tmp_path), what="both trains to hold")
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    edit_program(tmp_path, "v2-uncommitted", commit=False)
    (tmp_path / "go").touch()

    resumed = exptflow(tmp_path, "run")
    assert "removed a stale Snakemake lock" in resumed.stdout
    assert len(executions(tmp_path / "started")) == 4, "the killed trains ran again"
    assert said(tmp_path) == "v1 1\nuntracked data\n"
    assert {r["code"] for r in records(tmp_path)} == {commit}


def test_a_tracked_output_directory_is_the_real_one_in_the_snapshot(tmp_path: Path) -> None:
    write_sweep(
        tmp_path, "code: snapshot\ntemplate:\n  train: echo ran > {_output}/ran.txt\n---\na: 1\n"
    )
    (tmp_path / "output").mkdir()
    (tmp_path / "output/README").write_text("results go here\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "tracked output")
    exptflow(tmp_path, "run")
    assert (tmp_path / "output/a=1/ran.txt").read_text() == "ran\n"


@pytest.mark.parametrize(
    ("first", "message"),
    [
        ("code: snapshots\n", "params.yaml: code: 'snapshots'; use one of: live, snapshot, "),
        (
            "code: snapshot\noutput: ../elsewhere\n",
            "params.yaml: code: snapshot: output '../elsewhere' is outside the sweep's directory",
        ),
    ],
)
def test_bad_code_settings_are_refused(tmp_path: Path, first: str, message: str) -> None:
    repository(tmp_path, first + "template:\n  train: echo {a}\n---\na: 1\n")
    result = exptflow(tmp_path, "compile", check=False)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_snapshot_needs_a_repository(tmp_path: Path) -> None:
    write_sweep(tmp_path, "code: snapshot\ntemplate:\n  train: echo {a}\n---\na: 1\n")
    result = exptflow(tmp_path, "run", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: params.yaml: code: snapshot: `git rev-parse")
    assert "a snapshot run needs the sweep in a git repository with at least one commit" in (
        result.stderr
    )
    assert not (tmp_path / "Snakefile").exists()


def test_provenance_names_the_snapshot(tmp_path: Path) -> None:
    commit = repository(tmp_path)
    (tmp_path / "go").touch()
    exptflow(tmp_path, "run")
    (run_dir,) = (tmp_path / "output/.exptflow/runs").iterdir()
    assert json.loads((run_dir / "git.json").read_text())["snapshot"] == commit


@slurm
@pytest.mark.parametrize("pack", [False, True], ids=["in-process", "packed"])
def test_slurm_jobs_run_the_snapshot_not_the_live_tree(tmp_path: Path, pack: bool) -> None:
    commit = repository(tmp_path, PACKED if pack else SWEEP)
    exptflow(tmp_path, "compile")
    run = start(tmp_path, sys.executable, "-m", "snakemake", *FAST)
    wait_for(lambda: trains_hold(tmp_path), timeout=240, what="both trains to hold on SLURM")
    edit_program(tmp_path, "v2", commit=True)  # the test stages wait in Snakemake's queue
    (tmp_path / "go").touch()
    output, _ = run.communicate(timeout=300)
    assert run.returncode == 0, output

    assert said(tmp_path) == "v1 1\nuntracked data\n"
    stages = records(tmp_path)
    assert len(stages) == 4 and all(r["slurm_job_id"] for r in stages)
    assert {r["code"] for r in stages} == {commit}


def test_packed_stages_run_the_snapshot_too(tmp_path: Path) -> None:
    commit = repository(tmp_path, PACKED)
    (tmp_path / "go").touch()
    edit_program(tmp_path, "v2-uncommitted", commit=False)
    exptflow(tmp_path, "run")
    assert said(tmp_path) == "v1 1\nuntracked data\n"
    assert {r["code"] for r in records(tmp_path)} == {commit}

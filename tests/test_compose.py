"""Shared, cached and snapshot stages together (issue 11's "everything composes"): a shared
`prep` with `cache: true`, in a sweep that runs from a code snapshot, locally, packed and on
the real single-node SLURM cluster; a second project sharing the cache runs prep 0 times."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cluster import FAST, slurm

from conftest import executions, exptflow, git, records, snakemake, write_sweep

pytestmark = pytest.mark.slow

# Counters live beside the projects: the stages run in the snapshot, $EXPTFLOW_ROOT is the
# project itself.
SWEEP = """
code: snapshot
template:
  prep:
    cmd: >
      echo {data} >> $EXPTFLOW_ROOT/../prep-runs && mkdir -p {_output}/prep &&
      python prog.py {data} > {_output}/prep/data.txt
    shared: true
    cache: true
  train: >
    echo {data}/{lr} >> $EXPTFLOW_ROOT/../train-runs &&
    cat {prep._output}/prep/data.txt > {_output}/model.txt
---
data: [wmt, iwslt]
lr: [0.1, 0.2, 0.3]
"""
PACKED = SWEEP.replace("    cache: true\n", "    cache: true\n    pack: 2\n")


def project(parent: Path, name: str, sweep: str) -> Path:
    directory = parent / name
    directory.mkdir()
    write_sweep(directory, sweep)
    (directory / "prog.py").write_text("import sys\nprint('v1', sys.argv[1])\n")
    (directory / ".gitignore").write_text("output/\n.snakemake/\n")
    git(directory, "init", "-q")
    git(directory, "add", ".")
    git(directory, "commit", "-qm", "v1")
    return directory


def run(directory: Path, on_slurm: bool) -> None:
    if on_slurm:
        exptflow(directory, "compile")
        snakemake(directory, *FAST)
    else:
        exptflow(directory, "run")


def check_composed(parent: Path, sweep: str, on_slurm: bool) -> None:
    first = project(parent, "first", sweep)
    run(first, on_slurm)
    assert sorted(executions(parent / "prep-runs")) == ["iwslt", "wmt"], "once per dataset"
    assert len(executions(parent / "train-runs")) == 6
    model = first / "output/data=wmt+lr=0.2/model.txt"
    assert model.read_text() == "v1 wmt\n"
    trains = [r for r in records(first) if r["stage"] == "train"]
    commit = git(first, "rev-parse", "HEAD").strip()
    assert len(trains) == 6 and all(r["code"] == commit for r in trains), "ran the snapshot"
    if on_slurm:
        assert all(r["slurm_job_id"] for r in trains)

    second = project(parent, "second", sweep)
    run(second, on_slurm)
    assert sorted(executions(parent / "prep-runs")) == ["iwslt", "wmt"], "prep came from cache"
    assert len(executions(parent / "train-runs")) == 12
    assert (second / "output/data=iwslt+lr=0.1/model.txt").read_text() == "v1 iwslt\n"
    status = exptflow(second, "status").stdout
    assert "6 experiments" in status and "failed" not in status and "pending" not in status


@pytest.mark.parametrize("sweep", [SWEEP, PACKED], ids=["in-process", "packed"])
def test_shared_cached_stages_from_a_snapshot(tmp_path: Path, sweep: str) -> None:
    check_composed(tmp_path, sweep, on_slurm=False)


@slurm
@pytest.mark.parametrize("sweep", [SWEEP, PACKED], ids=["in-process", "packed"])
def test_shared_cached_stages_from_a_snapshot_on_slurm(tmp_path: Path, sweep: str) -> None:
    check_composed(tmp_path, sweep, on_slurm=True)

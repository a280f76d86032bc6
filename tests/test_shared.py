"""Shared stages: one job per distinct key however many experiments use it, its own
directory, record and status, rerun when its command changes (with everything after it),
joined onto each experiment's row; kill -9 and resume, packed, through `{stage._output}`."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import executions, exptflow, snakemake, wait_for, write_sweep
from exptflow.compiler.compile import CompileOptions, plan_sweep
from exptflow.sweep import expand, shared
from exptflow.sweep.spec import Sweep

slow = pytest.mark.slow

# 2 datasets x 2 learning rates x 3 seeds = 12 experiments. prep is keyed on the params its
# command uses (data, vocab); aggregate gathers the seeds of a configuration (over: [seed]).
SWEEP = """
template:
  prep:
    cmd: >
      echo {data}/prep >> runs && echo tokens 4321 &&
      echo '{"vocab_size": 100}' > {_output}/metrics.json && echo {data} {vocab} > {_output}/vocab.txt
    shared: true
  train: >
    echo {_name}/train >> runs && cp {prep._output}/vocab.txt {_output}/used-vocab.txt &&
    echo "{\\"accuracy\\": {lr}}" > {_output}/metrics.json
  test: echo {_name}/test >> runs
  aggregate:
    cmd: >
      echo {_name}/aggregate >> runs && ls -d {test._output} > {_output}/inputs.txt &&
      echo '{"accuracy_mean": 0.5}' > {_output}/metrics.json
    shared: true
    over: [seed]
default:
  vocab: 32k
metrics:
  tokens: {stage: prep, regex: 'tokens ([0-9]+)'}
---
data: [wmt, iwslt]
lr: [0.1, 0.01]
seed: [0, 1, 2]
"""


def ran(directory: Path) -> Counter[str]:
    """How many times each stage ran (``<data>/prep`` for prep)."""
    return Counter(line.rsplit("/", 1)[-1] for line in executions(directory / "runs"))


def results(directory: Path) -> list[dict[str, str]]:
    with open(directory / "output/results.tsv", newline="") as table:
        return list(csv.DictReader(table, delimiter="\t"))


@slow
def test_prep_runs_once_per_dataset_and_aggregate_once_per_configuration(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP)
    compiled = exptflow(tmp_path, "compile")
    assert "12 experiments, 30 jobs (6 shared): 30 new, 0 done, 0 outdated" in compiled.stdout
    dry = exptflow(tmp_path, "compile", "--dry-run").stdout.splitlines()
    assert dry[0].split("\t")[:2] == ["prep", "output/_shared/prep/data=wmt"]
    assert Counter(line.split("\t")[0] for line in dry) == {
        "prep": 2,
        "train": 12,
        "test": 12,
        "aggregate": 4,
    }

    snakemake(tmp_path)
    assert ran(tmp_path) == {"prep": 2, "train": 12, "test": 12, "aggregate": 4}
    assert Counter(executions(tmp_path / "runs"))["wmt/prep"] == 1
    shared = tmp_path / "output/_shared"
    assert sorted(p.name for p in (shared / "prep").iterdir()) == ["data=iwslt", "data=wmt"]
    prep = shared / "prep/data=wmt"  # named by the values that are not the defaults
    assert json.loads((prep / "params.json").read_text()) == {"data": "wmt", "vocab": "32k"}
    assert json.loads((prep / ".exptflow/stage.prep.json").read_text())["state"] == "done"
    assert (prep / ".exptflow/prep.log").exists()
    used = tmp_path / "output/data=wmt+lr=0.1+seed=2/used-vocab.txt"
    assert used.read_text() == "wmt 32k\n"
    inputs = (shared / "aggregate/data=iwslt+lr=0.01/inputs.txt").read_text().split()
    assert inputs == [f"output/data=iwslt+lr=0.01+seed={seed}" for seed in range(3)]

    status = exptflow(tmp_path, "status").stdout.splitlines()
    assert status[-1] == "12 experiments, 6 shared jobs, 30 stages: 30 done"
    assert any(line.startswith("_shared/prep/data=wmt  ") for line in status)
    rows = results(tmp_path)
    assert len(rows) == 12
    row = next(r for r in rows if r["experiment"] == "data=iwslt+lr=0.1+seed=1")
    assert (row["prep_state"], row["aggregate_state"]) == ("done", "done")
    assert (row["vocab_size"], row["accuracy_mean"], row["accuracy"]) == ("100", "0.5", "0.1")
    assert float(row["tokens"]) == 4321  # a regex over the shared job's log

    exptflow(tmp_path, "report", "--out", "sweep.html")
    stages = (tmp_path / "output/.exptflow/report/pages/stages.html").read_text()
    assert stages.count("<td>_shared/prep/data=wmt</td><td>prep</td><td>done</td>") == 1

    assert "0 new, 30 done, 0 outdated" in exptflow(tmp_path, "compile").stdout
    assert "Nothing to be done" in snakemake(tmp_path).stdout + snakemake(tmp_path).stderr


@slow
def test_editing_prep_reruns_everything_after_it_and_editing_train_does_not_rerun_prep(
    tmp_path: Path,
) -> None:
    sweep = write_sweep(tmp_path, SWEEP)
    exptflow(tmp_path, "compile")
    snakemake(tmp_path)
    (tmp_path / "runs").unlink()

    sweep.write_text(sweep.read_text().replace("&& cp {prep", "&& cp -f {prep"))
    assert "0 new, 2 done, 28 outdated" in exptflow(tmp_path, "compile").stdout
    snakemake(tmp_path)
    assert ran(tmp_path) == {"train": 12, "test": 12, "aggregate": 4}
    (tmp_path / "runs").unlink()

    sweep.write_text(sweep.read_text().replace("echo {data} {vocab}", "echo {vocab} {data}"))
    status = exptflow(tmp_path, "status").stdout.splitlines()
    assert status[-1] == "12 experiments, 6 shared jobs, 30 stages: 30 done"  # not compiled yet
    assert "0 new, 0 done, 30 outdated" in exptflow(tmp_path, "compile").stdout
    assert exptflow(tmp_path, "status").stdout.splitlines()[-1].endswith("30 outdated")
    snakemake(tmp_path)
    assert ran(tmp_path) == {"prep": 2, "train": 12, "test": 12, "aggregate": 4}
    assert (tmp_path / "output/data=wmt+lr=0.1+seed=0/used-vocab.txt").read_text() == "32k wmt\n"
    (tmp_path / "runs").unlink()

    # Only the shared aggregate reruns: every row still shows its new value.
    sweep.write_text(sweep.read_text().replace('"accuracy_mean": 0.5', '"accuracy_mean": 0.75'))
    exptflow(tmp_path, "compile")
    snakemake(tmp_path)
    assert ran(tmp_path) == {"aggregate": 4}
    assert {row["accuracy_mean"] for row in results(tmp_path)} == {"0.75"}


@slow
def test_a_changed_default_in_a_shared_key_is_refused_then_renamed(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path, SWEEP)
    exptflow(tmp_path, "compile")
    snakemake(tmp_path)
    (tmp_path / "runs").unlink()
    sweep.write_text(sweep.read_text().replace("vocab: 32k", "vocab: 16k"))

    refused = exptflow(tmp_path, "compile", check=False)
    assert refused.returncode == 2
    expected = (
        "params.yaml: 12 experiment(s) and 6 shared job(s) would reuse a directory that holds "
        "other params"
    )
    assert expected in refused.stderr
    assert "  output/_shared/prep/data=wmt: vocab: '32k' -> '16k'" in refused.stderr
    assert "  output/data=wmt+lr=0.1+seed=0: vocab: '32k' -> '16k'" in refused.stderr

    renamed = exptflow(tmp_path, "compile", "--rename-changed").stdout
    assert "30 new, 0 done, 0 outdated" in renamed
    snakemake(tmp_path)
    assert ran(tmp_path) == {"prep": 2, "train": 12, "test": 12, "aggregate": 4}
    new = next((tmp_path / "output/_shared/prep").glob("data=wmt@*"))
    assert json.loads((new / "params.json").read_text()) == {"data": "wmt", "vocab": "16k"}
    kept = tmp_path / "output/_shared/prep/data=wmt/vocab.txt"
    assert kept.read_text() == "wmt 32k\n"


# prep of data=b and every train wait for `go`; prep of data=a passes. The kill comes while
# prep b and the trains of data=a run.
CRASH = """
template:
  prep:
    cmd: >
      echo {data}/prep >> started &&
      if [ {data} = b ]; then until [ -e go ]; do sleep 0.05; done; fi
    shared: true
  train: echo {_name}/train >> started && until [ -e go ]; do sleep 0.05; done
resource: [0, 1, 2, 3]
---
data: [a, b]
lr: [1, 2]
"""


def running(directory: Path, relative: str, stage: str) -> bool:
    try:
        record = json.loads(
            (directory / "output" / relative / f".exptflow/stage.{stage}.json").read_text()
        )
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    return record["state"] == "running"


@slow
def test_kill_9_during_a_shared_stage_then_resume(tmp_path: Path) -> None:
    write_sweep(tmp_path, CRASH)
    exptflow(tmp_path, "compile")
    run = subprocess.Popen(
        [sys.executable, "-m", "snakemake"],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def three_hold() -> bool:
        started = Counter(executions(tmp_path / "started"))
        holding = [("_shared/prep/data=b", "prep", "b/prep")] + [
            (f"data=a+lr={lr}", "train", f"data=a+lr={lr}/train") for lr in (1, 2)
        ]
        return all(running(tmp_path, d, s) and started[line] == 1 for d, s, line in holding)

    wait_for(three_hold, what="prep b and the trains of data=a to hold")
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    (tmp_path / "go").touch()

    resumed = exptflow(tmp_path, "run")
    assert "stage(s) of a killed run recorded as killed or lost" in resumed.stdout
    assert Counter(executions(tmp_path / "started")) == {
        "a/prep": 1,
        "b/prep": 2,
        "data=a+lr=1/train": 2,
        "data=a+lr=2/train": 2,
        "data=b+lr=1/train": 1,
        "data=b+lr=2/train": 1,
    }
    history = (tmp_path / "output/_shared/prep/data=b/.exptflow/history.jsonl").read_text()
    assert [json.loads(line)["state"] for line in history.splitlines()] == ["killed", "done"]
    assert exptflow(tmp_path, "status").stdout.splitlines()[-1] == (
        "4 experiments, 2 shared jobs, 6 stages: 6 done"
    )


@slow
def test_a_packed_shared_stage_runs_the_wrapper_as_a_process(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          prep: {cmd: "echo {data} >> runs; echo $EXPTFLOW_DIR > {_output}/dir", shared: true, pack: 2}
          train: {cmd: "echo train >> runs; cat {prep._output}/dir", pack: 2}
        ---
        data: [a, b]
        lr: [1, 2, 3]
        """,
    )
    exptflow(tmp_path, "compile")
    assert (
        "--directory output/_shared/prep/{wildcards.key:q}" in (tmp_path / "Snakefile").read_text()
    )
    snakemake(tmp_path)
    assert Counter(executions(tmp_path / "runs")) == {"a": 1, "b": 1, "train": 6}
    record = json.loads(
        (tmp_path / "output/_shared/prep/data=a/.exptflow/stage.prep.json").read_text()
    )
    assert record["state"] == "done"
    assert (
        (tmp_path / "output/_shared/prep/data=a/dir")
        .read_text()
        .strip()
        .endswith("output/_shared/prep/data=a")
    )


def jobs_of(text: str) -> dict[str, list[tuple[str, list[str]]]]:
    """Each shared stage's jobs: (directory name, the experiments it serves)."""
    documents = list(yaml.safe_load_all(textwrap.dedent(text)))
    sweep = Sweep.from_documents(documents, "params.yaml")
    found = shared.share(sweep, expand.expand(sweep))
    return {stage: [(job.name, list(job.members)) for job in jobs] for stage, jobs in found.items()}


def test_a_shared_job_serves_the_experiments_of_its_key_and_is_named_apart_from_defaults() -> None:
    text = """
    template:
      prep: {cmd: 'prep {data}', shared: true, per: [data, vocab]}
      once: {cmd: 'download', shared: true, per: []}
      train: 'train {prep._output} {once._output} {lr} {momentum}'
    default: {vocab: 32k, momentum: 0.9}
    ---
    data: [a, b]
    lr: [1, 2]
    ---
    data: a
    vocab: 16k
    lr: 1
    """
    assert jobs_of(text) == {
        "prep": [
            ("data=a", ["data=a+lr=1", "data=a+lr=2"]),
            ("data=b", ["data=b+lr=1", "data=b+lr=2"]),
            ("data=a+vocab=16k", ["data=a+lr=1+vocab=16k"]),
        ],
        "once": [
            (
                "all",
                [
                    "data=a+lr=1",
                    "data=a+lr=2",
                    "data=b+lr=1",
                    "data=b+lr=2",
                    "data=a+lr=1+vocab=16k",
                ],
            )
        ],
    }


def test_a_gathering_stage_over_seeds_with_conditional_params() -> None:
    text = """
    template:
      train: 'train {opt} {seed}'
      gather: {cmd: 'gather {train._output}', shared: true, over: [seed]}
    ---
    opt: [sgd, adam]
    seed: [0, 1]
    _when:
      - _if: {opt: sgd}
        momentum: [0.9]
    """
    assert jobs_of(text) == {
        "gather": [
            (
                "momentum=0.9+opt=sgd",
                ["momentum=0.9+opt=sgd+seed=0", "momentum=0.9+opt=sgd+seed=1"],
            ),
            ("opt=adam", ["opt=adam+seed=0", "opt=adam+seed=1"]),
        ]
    }


def test_the_plan_counts_each_shared_job_once(chdir_tmp: Path) -> None:
    write_sweep(chdir_tmp, SWEEP)
    plan = plan_sweep(CompileOptions())
    assert len(plan.experiments) == 12 and len(plan.shared) == 6
    assert sum(plan.counts().values()) == 30
    gather = next(s for s in plan.shared if s.job.stage == "aggregate")
    assert gather.after == tuple(
        f"output/data=wmt+lr=0.1+seed={seed}/.exptflow/test.done" for seed in range(3)
    )
    train = plan.experiments[0].jobs[0]
    assert train.command.startswith(
        "echo data=wmt+lr=0.1+seed=0/train >> runs && cp output/_shared/prep/data=wmt/vocab.txt "
    )


@slow
def test_exptflow_run_reports_each_shared_job_once_before_the_stages_that_need_it(
    tmp_path: Path,
) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          prep: {cmd: "echo prep {data}", shared: true}
          train: "echo train {prep._output} {lr}"
        ---
        data: [a, b]
        lr: [1, 2]
        """,
    )
    lines = exptflow(tmp_path, "run").stdout.splitlines()
    ended = [line.split(":")[0].removeprefix("done ") for line in lines if line.startswith("done ")]
    assert sorted(ended) == sorted(
        ["_shared/prep/data=a", "_shared/prep/data=b"]
        + [f"data={data}+lr={lr}" for data in "ab" for lr in (1, 2)]
    )
    for data in "ab":  # a train needs its prep: reported after it
        assert all(
            ended.index(f"_shared/prep/data={data}") < ended.index(f"data={data}+lr={lr}")
            for lr in (1, 2)
        )
    assert lines[-1].endswith(": 6 of 6 stages done")

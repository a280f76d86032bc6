"""``exptflow run --stages``, ``--only`` and ``--force``: a part of the sweep runs, through
Snakemake targets of the whole sweep's Snakefile; the other experiments are never touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import executions, exptflow, write_sweep
from exptflow.compiler import subset
from exptflow.compiler.compile import CompileOptions, plan_sweep
from exptflow.compiler.plan import Plan
from exptflow.compiler.subset import Selection, targets
from exptflow.errors import UserInputError

SWEEP = """
template:
  train: echo {_name}/train >> executions
  avg: echo {_name}/avg >> executions
  test: >-
    echo {_name}/test >> executions && echo '{"acc": '{lr}'}' > {_output}/metrics.json
---
lr: [1, 2]
seed: [0, 1]
_tags: [seed]
"""
STAGES = ("train", "avg", "test")


def run(directory: Path, *arguments: str) -> str:
    result = exptflow(directory, "run", *arguments, "--cores", "1")
    return result.stdout + result.stderr


def ran(directory: Path, before: int) -> list[str]:
    return sorted(executions(directory / "executions")[before:])


def done_files(directory: Path, name: str) -> dict[str, float]:
    meta = directory / "output" / name / ".exptflow"
    return {path.name: path.stat().st_mtime_ns for path in meta.glob("stage.*.json")}


@pytest.mark.slow
def test_stages_run_only_those_stages_and_wait_for_earlier_ones(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP)
    output = run(tmp_path, "--stages", "train", "--only", "lr=1")
    assert "exptflow run: 2 job(s) of 2 experiment(s)" in output
    assert ran(tmp_path, 0) == ["lr=1+seed=0/train", "lr=1+seed=1/train"]
    snakefile = (tmp_path / "Snakefile").read_bytes()

    output = run(tmp_path, "--stages", "test")
    assert (
        "exptflow run: skipped test of 2 experiment(s) whose avg is not done (add avg to "
        "--stages, or run without --stages): lr=1+seed=0, lr=1+seed=1\n"
        "exptflow run: skipped test of 2 experiment(s) whose train is not done (add train to "
        "--stages, or run without --stages): lr=2+seed=0, lr=2+seed=1\n"
        "exptflow run: nothing to run\n"
    ) in output
    assert ran(tmp_path, 2) == []

    output = run(tmp_path, "--stages", "avg,test")
    assert (
        "skipped avg of 2 experiment(s) whose train is not done (add train to --stages, or run "
        "without --stages): lr=2+seed=0, lr=2+seed=1"
    ) in output
    assert "skipped test of 2 experiment(s) whose train is not done" in output
    assert ran(tmp_path, 2) == [
        "lr=1+seed=0/avg",
        "lr=1+seed=0/test",
        "lr=1+seed=1/avg",
        "lr=1+seed=1/test",
    ]
    results = (tmp_path / "output/results.tsv").read_text()
    assert "lr=1+seed=0\t1\t0\tdone" in results, "a subset run writes the results table"
    assert (tmp_path / "Snakefile").read_bytes() == snakefile, "the whole sweep's Snakefile"

    run(tmp_path)
    assert len(ran(tmp_path, 6)) == 6, "the rest of the sweep, then nothing else"


@pytest.mark.slow
def test_force_reruns_those_experiments_and_touches_no_other(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP)
    run(tmp_path)
    others = {name: done_files(tmp_path, name) for name in ("lr=1+seed=1", "lr=2+seed=0")}

    output = run(tmp_path, "--force", "lr=1+seed=0", "lr=2+seed=1")
    assert "exptflow run: 6 job(s) of 2 experiment(s) (6 forced to rerun)" in output
    assert ran(tmp_path, 12) == sorted(
        f"{name}/{stage}" for name in ("lr=1+seed=0", "lr=2+seed=1") for stage in STAGES
    )
    assert {name: done_files(tmp_path, name) for name in others} == others

    run(tmp_path, "--force", "--only", "lr=2+*", "--stages", "test")
    assert ran(tmp_path, 18) == ["lr=2+seed=0/test", "lr=2+seed=1/test"]
    history = (tmp_path / "output/lr=2+seed=1/.exptflow/history.jsonl").read_text()
    assert [json.loads(line)["stage"] for line in history.splitlines()].count("test") == 3


@pytest.mark.slow
def test_only_a_pandas_query_over_the_results(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP)
    run(tmp_path)
    run(tmp_path, "--only", "acc < 2 and seed == 1", "--force")
    assert ran(tmp_path, 12) == ["lr=1+seed=1/avg", "lr=1+seed=1/test", "lr=1+seed=1/train"]


def _plan(directory: Path) -> Plan:
    write_sweep(directory, SWEEP)
    return plan_sweep(CompileOptions(workdir=str(directory)))


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        pytest.param(
            Selection(force=("lr=3+seed=0",)),
            "--force lr=3+seed=0: no experiment of the sweep has this name; did you mean "
            "`lr=2+seed=0`? `exptflow status` lists them (a glob such as 'lr=0.1+*' picks "
            "several)",
            id="force-unknown-name",
        ),
        pytest.param(
            Selection(stages=("trian",)),
            "--stages trian: no stage `trian` in params.yaml; did you mean `train`? stages: "
            "train, avg, test",
            id="unknown-stage",
        ),
        pytest.param(
            Selection(only=("lrr=1",)),
            "--only lrr=1: no experiment has a param `lrr`; did you mean `lr`? params: lr, seed",
            id="only-unknown-param",
        ),
        pytest.param(
            Selection(only=("lr=3",)),
            "--only lr=3: no experiment of the sweep has these values",
            id="only-no-value",
        ),
    ],
)
def test_a_selection_of_nothing_is_refused(
    tmp_path: Path, selection: Selection, expected: str
) -> None:
    with pytest.raises(UserInputError) as refused:
        targets(_plan(tmp_path), selection, tmp_path)
    assert str(refused.value) == expected


def test_param_queries_take_any_listed_value_of_a_param(tmp_path: Path) -> None:
    selection = Selection(("train",), ("lr=1,seed=0,seed=1",))
    chosen = targets(_plan(tmp_path), selection, tmp_path)
    assert chosen.run == (
        "output/lr=1+seed=0/.exptflow/train.done",
        "output/lr=1+seed=1/.exptflow/train.done",
    )
    assert chosen.snakemake_arguments() == ["--", *chosen.run]


def test_bad_selection_from_the_cli_exits_2(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP)
    refused = exptflow(tmp_path, "run", "--stages", "trian", check=False)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: --stages trian: no stage `trian` in params.yaml")


def test_more_targets_than_a_command_line_takes_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subset, "MAX_TARGET_BYTES", 100)  # 4 trains: 4 x 40 bytes
    with pytest.raises(UserInputError) as refused:
        targets(_plan(tmp_path), Selection(stages=("train",)), tmp_path)
    assert str(refused.value) == (
        "--stages/--only/--force: 4 jobs are more targets than Snakemake's command line takes; "
        "select fewer experiments with --only, or run the whole sweep (`exptflow run` without "
        "them runs only what is not done)"
    )

"""Clusters: the sweep on a real single-node SLURM cluster (tests/cluster/slurm.sh starts one;
these tests skip where none runs), a detached run, and the Kubernetes profile."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import (
    REPO,
    executions,
    exptflow,
    history,
    records,
    snakemake,
    start,
    wait_for,
    write_sweep,
)

# Fast polling for tests: a real cluster profile polls every 10 s.
FAST = [
    "--profile",
    "profiles/slurm",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "1",
    "--latency-wait",
    "5",
]


def slurm_is_up() -> bool:
    try:
        state = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return state.returncode == 0 and any(
        s.startswith(("idle", "mixed", "alloc")) for s in state.stdout.split()
    )


slurm = pytest.mark.skipif(
    not slurm_is_up(), reason="no SLURM cluster: tests/cluster/slurm.sh start"
)


def overlapping(jobs: list[dict]) -> list[tuple[dict, dict]]:
    return [
        (a, b)
        for i, a in enumerate(jobs)
        for b in jobs[i + 1 :]
        if a["start"] < b["end"] and b["start"] < a["end"]
    ]


@pytest.fixture(scope="module")
def example_on_slurm(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess]:
    directory = tmp_path_factory.mktemp("slurm") / "digits"
    shutil.copytree(
        REPO / "examples/digits",
        directory,
        ignore=shutil.ignore_patterns(
            "output", ".snakemake", "Snakefile", "experiments.json", "profiles"
        ),
    )
    exptflow(directory, "compile")
    result = snakemake(directory, *FAST, check=False)
    return directory, result


@slurm
@pytest.mark.slow
def test_example_sweep_runs_as_slurm_jobs(example_on_slurm) -> None:
    directory, result = example_on_slurm
    assert result.returncode == 0, result.stdout + result.stderr
    stages = records(directory)
    assert len(stages) == 24 and {r["state"] for r in stages} == {"done"}
    assert all(r["slurm_job_id"] for r in stages), "every stage ran as a SLURM job"
    assert len({r["slurm_job_id"] for r in stages}) == 24
    trains = [r for r in stages if r["stage"] == "train"]
    assert {r["cuda_visible_devices"] for r in trains} == {"0", "1"}
    for first, second in overlapping(trains):  # whether any overlap is timing: see the next test
        assert first["cuda_visible_devices"] != second["cuda_visible_devices"]
    with open(directory / "output/results.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == 8
    assert all(row["test_state"] == "done" and float(row["test_accuracy"]) > 0.5 for row in rows)
    # The shared stage over seeds: 5 configurations, one SLURM job each.
    shared = records(directory, "output/_shared/over-seeds")
    assert len(shared) == 5 and all(r["state"] == "done" and r["slurm_job_id"] for r in shared)
    seeds = {row["experiment"]: row["seeds"] for row in rows}
    assert seeds["hidden=64+lr=0.3+seed=1+weight-decay=0.0"] == "3"


# Each train waits (up to 60 s) until both have started: it finishes only if SLURM ran both at
# once, each with its own GPU.
BARRIER_SWEEP = """
template:
  train:
    cmd: >
      touch started-{a} && for i in $(seq 600); do
      if test -e started-1 && test -e started-2; then exit 0; fi; sleep 0.1; done; exit 1
    gpus: 1
---
a: [1, 2]
"""


@slurm
@pytest.mark.slow
def test_two_gpu_stages_run_at_once_on_different_gpus(tmp_path: Path) -> None:
    write_sweep(tmp_path, BARRIER_SWEEP)
    exptflow(tmp_path, "compile")
    result = snakemake(tmp_path, *FAST, check=False)
    trains = records(tmp_path)
    assert {r["state"] for r in trains} == {"done"}, result.stdout + result.stderr
    assert len({r["slurm_job_id"] for r in trains}) == 2
    assert sorted(r["cuda_visible_devices"] for r in trains) == ["0", "1"]
    assert overlapping(trains)


CANCEL_SWEEP = """
template:
  train: >
    echo {_name}/train >> started &&
    if [ -e fail-{a} ]; then exit 3; fi && if [ -e slow-{a} ]; then sleep 120; fi
  test: echo {_name}/test >> started
---
a: [1, 2, 3]
"""


@slurm
@pytest.mark.slow
def test_failed_and_cancelled_stages_rerun_alone(tmp_path: Path) -> None:
    write_sweep(tmp_path, CANCEL_SWEEP)
    (tmp_path / "fail-2").touch()
    (tmp_path / "slow-3").touch()
    exptflow(tmp_path, "compile")
    run = subprocess.Popen(
        [sys.executable, "-m", "snakemake", *FAST],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    record = tmp_path / "output/a=3/.exptflow/stage.train.json"
    wait_for(
        lambda: record.exists() and json.loads(record.read_text())["state"] == "running",
        timeout=180,
        what="the train to run",
    )
    job = json.loads(record.read_text())["slurm_job_id"]
    subprocess.run(["scancel", job], check=True)
    output, _ = run.communicate(timeout=300)
    assert run.returncode != 0
    assert "Error in rule train" in output and "a=2" in output
    status = exptflow(tmp_path, "status").stdout
    assert "a=1  train done" in status
    assert "a=2  train failed" in status and "a=3  train killed" in status  # scancel: SIGTERM
    first = Counter(executions(tmp_path / "started"))

    (tmp_path / "fail-2").unlink()
    (tmp_path / "slow-3").unlink()
    snakemake(tmp_path, *FAST)
    again = Counter(executions(tmp_path / "started")) - first
    assert again == Counter(["a=2/train", "a=2/test", "a=3/train", "a=3/test"])
    assert "3 experiments, 6 stages: 6 done" in exptflow(tmp_path, "status").stdout


def related(session: int = -1, parent: int = -1) -> list[int]:
    """Processes of this session, or children of this parent (from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) == session or int(fields[1]) == parent:
                members.append(int(entry.name))
    return members


def stopped(pids: list[int]) -> bool:
    states = []
    for pid in pids:
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            states.append(stat[stat.rindex(")") + 2])
    return all(state in "TtZX" for state in states)


@slurm
@pytest.mark.slow
def test_a_stage_whose_job_dies_without_a_word_is_lost_and_reruns(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          train: >
            echo $$ > {_output}/stage-pid && echo train >> started &&
            until [ -e go ]; do sleep 0.05; done
        ---
        a: 1
        """,
    )
    exptflow(tmp_path, "compile")
    run = start(tmp_path, sys.executable, "-m", "snakemake", *FAST)
    record_path = tmp_path / "output/a=1/.exptflow/stage.train.json"
    stage_pid = tmp_path / "output/a=1/stage-pid"
    wait_for(lambda: stage_pid.exists() and stage_pid.read_text().strip(), timeout=180)
    record = json.loads(record_path.read_text())
    assert record["slurm_job_id"]
    # As seen from another node: only SLURM can tell whether the stage still runs.
    record_path.write_text(json.dumps(record | {"host": "node-elsewhere"}))
    assert "a=1  train running" in exptflow(tmp_path, "status").stdout

    # Freeze every process of the stage's job on the node, then kill them: none can record
    # anything (its guard included), as when the node is lost.
    node_side = [int(stage_pid.read_text()), record["pid"]]
    for pid in node_side:
        os.kill(pid, signal.SIGSTOP)
    # The stopped stage forks no more; the stopped Snakemake starts no more (its reaper, too).
    node_side += related(session=node_side[0]) + related(parent=record["pid"])
    for pid in node_side:
        os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: stopped(node_side), timeout=60)
    for pid in node_side:
        os.kill(pid, signal.SIGKILL)
    run.communicate(timeout=300)

    wait_for(lambda: "a=1  train lost" in exptflow(tmp_path, "status").stdout, timeout=120)
    assert not (tmp_path / "output/a=1/.exptflow/stage.train.killed").exists()
    (tmp_path / "go").touch()
    resumed = exptflow(tmp_path, "run", *FAST)
    assert "1 stage(s) of a killed run recorded as killed or lost" in resumed.stdout
    assert executions(tmp_path / "started") == ["train", "train"]
    assert [h["state"] for h in history(tmp_path)] == ["lost", "done"]


@slurm
@pytest.mark.slow
def test_packed_short_stages_become_a_few_slurm_jobs(tmp_path: Path) -> None:
    write_sweep(
        tmp_path, f"template:\n  t: {{cmd: 'sleep 1', pack: 10}}\n---\na: {list(range(40))}\n"
    )
    exptflow(tmp_path, "compile")
    snakemake(tmp_path, *FAST)
    stages = records(tmp_path)
    assert len(stages) == 40 and {r["state"] for r in stages} == {"done"}
    submissions = Counter(r["slurm_job_id"] for r in stages)
    assert len(submissions) <= 5, submissions
    assert sorted(submissions.values(), reverse=True)[0] >= 8


@slurm
@pytest.mark.slow
def test_shared_stages_run_once_per_key_as_slurm_jobs_packed_too(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          prep: {cmd: "echo {data} >> runs && echo {data} > {_output}/data", shared: true, pack: 2}
          train: "echo train >> runs && cat {prep._output}/data > {_output}/data"
          gather:
            cmd: "echo gather >> runs && cat $(printf '%s/data ' {train._output}) > {_output}/all"
            shared: true
            over: [lr]
        ---
        data: [a, b]
        lr: [1, 2, 3]
        """,
    )
    exptflow(tmp_path, "compile")
    snakemake(tmp_path, *FAST)
    assert Counter(executions(tmp_path / "runs")) == {"a": 1, "b": 1, "train": 6, "gather": 2}
    prep = records(tmp_path, "output/_shared/prep")
    assert [r["state"] for r in prep] == ["done", "done"]
    assert len({r["slurm_job_id"] for r in prep}) == 1, "both prep jobs in one submission"
    gather = records(tmp_path, "output/_shared/gather")
    assert all(r["slurm_job_id"] for r in gather)
    assert (tmp_path / "output/_shared/gather/data=b/all").read_text() == "b\nb\nb\n"
    assert exptflow(tmp_path, "status").stdout.splitlines()[-1] == (
        "6 experiments, 4 shared jobs, 10 stages: 10 done"
    )


@pytest.mark.slow
def test_detached_run_goes_on_and_status_follows(tmp_path: Path) -> None:
    write_sweep(tmp_path, "template:\n  t: sleep 2\n---\na: [1, 2]\n")
    started = time.time()
    result = exptflow(tmp_path, "run", "--detach")
    assert time.time() - started < 15
    assert "snakemake runs in the background" in result.stdout
    log = Path(result.stdout.split("log: ")[1].split()[0])
    assert log.parent == Path("output/.exptflow/detached")
    wait_for(lambda: "2 stages: 2 done" in exptflow(tmp_path, "status").stdout, timeout=120)
    wait_for(lambda: "steps (100%) done" in (tmp_path / log).read_text(), timeout=60)


@pytest.mark.slow
def test_kubernetes_profile_dry_runs(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        "template:\n  train: {cmd: 'python train.py {lr}', gpus: 2, resources: {mem_mb: 8000}}\n---\nlr: [1, 2]\n",
    )
    exptflow(tmp_path, "compile")
    result = snakemake(
        tmp_path,
        "--profile",
        "profiles/kubernetes",
        "-n",
        "--default-storage-prefix",
        str(tmp_path / "storage"),
    )
    text = result.stdout + result.stderr
    # Each stage's message names what it asks for (the message replaces Snakemake's job block).
    assert "train lr=1: python train.py 1 (gpu=2, mem_mb=8000)" in text
    assert "train lr=2: python train.py 2 (gpu=2, mem_mb=8000)" in text
    profile = yaml.safe_load((tmp_path / "profiles/kubernetes/config.v8+.yaml").read_text())
    assert profile["default-resources"]["gpu_manufacturer"] == "nvidia"


def test_kubernetes_pod_requests_come_from_stage_resources() -> None:
    """The plugin's own pod builder, run without an API server: only the submission is caught."""
    import threading
    from types import SimpleNamespace

    from snakemake_executor_plugin_kubernetes import Executor

    submitted = []
    executor = Executor.__new__(Executor)
    executor.__dict__.update(
        lock=threading.Lock(),
        logger=SimpleNamespace(debug=print, info=print, warning=print),
        k8s_cpu_scalar=0.95,
        k8s_service_account_name=None,
        container_image="image",
        persistent_volumes=[],
        privileged=False,
        namespace="default",
        run_namespace="run",
        secret_envvars={},
        batchapi=SimpleNamespace(
            create_namespaced_job=lambda namespace, body: submitted.append(body)
        ),
    )
    executor.format_job_exec = lambda job: "snakemake ..."
    executor.report_job_submission = lambda info: None
    # The resources Snakemake gives a train job of `gpus: 2, resources: {mem_mb: 8000}` with
    # the shipped profile's default gpu_manufacturer (checked in the profile above).
    job = SimpleNamespace(
        resources={"_cores": 1, "gpu": 2, "mem_mb": 8000, "gpu_manufacturer": "nvidia"},
        jobid=1,
        attempt=1,
        is_containerized=False,
    )
    executor.run_job(job)
    (body,) = submitted
    container = body.spec.template.spec.containers[0]
    assert container.resources.requests["nvidia.com/gpu"] == "2"
    assert container.resources.requests["memory"] == "8000M"
    tolerations = body.spec.template.spec.tolerations
    assert [t.key for t in tolerations] == ["nvidia.com/gpu"]


TUNED = """
template:
  train: >
    python3 -c "import json, sys; x = float(sys.argv[1]);
    json.dump({'loss': (x - 1) ** 2}, open(sys.argv[2] + '/metrics.json', 'w'))" {x} {_output}
search:
  minimize: loss
  trials: 4
  parallel: 2
---
x: {uniform: [-3, 3]}
"""


@slurm
@pytest.mark.slow
def test_tune_runs_its_trials_as_slurm_jobs(tmp_path: Path) -> None:
    write_sweep(tmp_path, TUNED)
    result = exptflow(tmp_path, "tune", *FAST)
    assert "trial 4/4" in result.stdout
    stages = records(tmp_path)
    assert len(stages) == 4 and {r["state"] for r in stages} == {"done"}
    assert all(r["slurm_job_id"] for r in stages), "every trial ran as a SLURM job"
    (study,) = (tmp_path / "output/.exptflow/tune").iterdir()
    told = [json.loads(path.read_text()) for path in study.glob("trial-*.told.json")]
    assert sorted(t["number"] for t in told) == [0, 1, 2, 3]
    assert {t["state"] for t in told} == {"complete"}

"""Concurrent runs: a second snakemake on the same sweep refuses; two sweeps sharing GPUs
never put two jobs on one slot; status and show never trip over half-written records."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import executions, exptflow, snakemake, write_sweep
from exptflow.results import collect
from exptflow.results.status import sweep_status

pytestmark = pytest.mark.slow


def test_second_snakemake_on_the_same_sweep_refuses(tmp_path: Path) -> None:
    # The stages wait until the test releases them: the second run surely meets the first.
    write_sweep(
        tmp_path,
        "template:\n  t: echo {_name} >> started && until [ -e release ]; do sleep 0.1; done\n"
        "---\na: [1, 2]\n",
    )
    exptflow(tmp_path, "compile")
    first = subprocess.Popen(
        [sys.executable, "-m", "snakemake"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while not (tmp_path / "started").exists() and time.time() < deadline:
        time.sleep(0.05)
    second = snakemake(tmp_path, check=False)
    (tmp_path / "release").touch()
    assert first.wait(timeout=120) == 0
    assert second.returncode != 0
    assert "cannot be locked" in second.stdout + second.stderr
    assert sorted(Counter(executions(tmp_path / "started")).values()) == [1, 1]


def test_two_sweeps_sharing_gpus_never_share_a_slot(tmp_path: Path) -> None:
    sweeps = [tmp_path / "first", tmp_path / "second"]
    for directory in sweeps:
        directory.mkdir()
        write_sweep(
            directory, f"template:\n  t: sleep 0.2\nresource: [0, 1]\n---\na: {list(range(100))}\n"
        )
        exptflow(directory, "compile")
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "snakemake", "--cores", "2"],
            cwd=d,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for d in sweeps
    ]
    assert [run.wait(timeout=600) for run in runs] == [0, 0]
    jobs = [
        {**json.loads(p.read_text()), "sweep": d.name}
        for d in sweeps
        for p in d.glob("output/*/.exptflow/stage.t.json")
    ]
    assert len(jobs) == 200
    by_slot: dict[str, list[dict]] = {}
    for job in jobs:
        by_slot.setdefault(job["slot_lock"], []).append(job)
    assert len(by_slot) == 2
    for slot_jobs in by_slot.values():
        slot_jobs.sort(key=lambda job: job["start"])
        for job, following in itertools.pairwise(slot_jobs):
            assert job["end"] <= following["start"], "two jobs held one GPU slot at once"
        assert {job["sweep"] for job in slot_jobs} == {"first", "second"}
    first = [j for j in jobs if j["sweep"] == "first"]
    second = [j for j in jobs if j["sweep"] == "second"]
    assert max(j["start"] for j in first) > min(j["start"] for j in second), "they ran together"
    assert max(j["start"] for j in second) > min(j["start"] for j in first), "they ran together"


def test_status_and_show_while_a_run_writes(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        "template:\n  t: >\n    echo '{\"x\": {a}}' > {_output}/metrics.json\n"
        "  u: echo ok\n---\n" + f"a: {list(range(30))}\n",
    )
    exptflow(tmp_path, "compile")
    errors: list[BaseException] = []
    polls = Counter()
    stop = threading.Event()

    def poll() -> None:
        sources = collect.sources_from_table(tmp_path)
        while not stop.is_set():
            try:
                sweep_status(tmp_path / "output", tmp_path)
                collect.collect(sources)
                polls["done"] += 1
            except BaseException as error:  # the test fails on any exception here
                errors.append(error)
                return

    watcher = threading.Thread(target=poll)
    watcher.start()
    snakemake(tmp_path, "--cores", "2")
    stop.set()
    watcher.join()
    assert errors == []
    assert polls["done"] >= 3
    assert "30 experiments, 60 stages: 60 done" in exptflow(tmp_path, "status").stdout

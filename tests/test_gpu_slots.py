"""GPU slots on a real local snakemake run: each job sees exactly its slot, and no slot is
used by more jobs at once than `resource` lists it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import exptflow, records, snakemake, write_sweep

pytestmark = pytest.mark.slow


def sleeping_sweep(directory: Path, resource: str, jobs: int, seconds: float) -> None:
    write_sweep(
        directory,
        f"""
        template:
          train: echo "$CUDA_VISIBLE_DEVICES" > {{_output}}/seen && sleep {seconds}
        resource: {resource}
        ---
        run: {list(range(jobs))}
        """,
    )
    exptflow(directory, "compile")


def busy_at_each_start(jobs: list[dict]) -> list[Counter[str]]:
    """For each job's start, how many jobs were on each slot at that moment."""
    return [
        Counter(
            other["cuda_visible_devices"]
            for other in jobs
            if other["start"] <= job["start"] < other["end"]
        )
        for job in jobs
    ]


def seen_devices(directory: Path) -> list[str]:
    return [path.read_text().strip() for path in sorted(directory.glob("output/*/seen"))]


def test_two_slots_eight_jobs_never_share_a_gpu(tmp_path: Path) -> None:
    sleeping_sweep(tmp_path, "[0, 1]", jobs=8, seconds=0.6)
    snakemake(tmp_path, "--cores", "4")
    jobs = records(tmp_path)
    assert len(jobs) == 8 and all(job["state"] == "done" for job in jobs)
    assert sorted(seen_devices(tmp_path)) == sorted(job["cuda_visible_devices"] for job in jobs)
    assert set(seen_devices(tmp_path)) == {"0", "1"}
    for busy in busy_at_each_start(jobs):
        assert max(busy.values()) == 1, busy
    # At most two at once; that all slots are used at once is shown by a barrier in
    # test_supervision.py::test_every_gpu_slot_runs_at_once_whatever_the_core_count.
    assert max(sum(busy.values()) for busy in busy_at_each_start(jobs)) <= 2


def test_multi_gpu_slot_gives_the_whole_group(tmp_path: Path) -> None:
    sleeping_sweep(tmp_path, '["0,1"]', jobs=3, seconds=0.2)
    snakemake(tmp_path, "--cores", "4")
    assert seen_devices(tmp_path) == ["0,1", "0,1", "0,1"]
    for busy in busy_at_each_start(records(tmp_path)):
        assert sum(busy.values()) == 1


def test_gpu_listed_twice_is_shared_by_two_jobs(tmp_path: Path) -> None:
    sleeping_sweep(tmp_path, "[0, 0, 1]", jobs=6, seconds=0.8)
    snakemake(tmp_path, "--cores", "4")
    jobs = records(tmp_path)
    assert {job["cuda_visible_devices"] for job in jobs} <= {"0", "1"}
    for busy in busy_at_each_start(jobs):
        assert busy["0"] <= 2 and busy["1"] <= 1, busy
    locks = {Path(job["slot_lock"]).name for job in jobs}
    assert locks <= {"gpu-0.0.lock", "gpu-0.1.lock", "gpu-1.0.lock"}


def test_no_resource_leaves_cuda_visible_devices_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    write_sweep(
        tmp_path, 'template:\n  t: echo "$CUDA_VISIBLE_DEVICES" > {_output}/seen\n---\na: [1]\n'
    )
    exptflow(tmp_path, "compile")
    snakemake(tmp_path)
    assert seen_devices(tmp_path) == ["7"]


def test_cluster_scheduler_devices_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    sleeping_sweep(tmp_path, "[0, 1]", jobs=1, seconds=0)
    snakemake(tmp_path)
    (record,) = records(tmp_path)
    assert seen_devices(tmp_path) == ["3"]
    assert record["cuda_visible_devices"] == "3" and record["slurm_job_id"] == "42"


def test_cpu_stage_sees_no_gpu(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          avg: {cmd: 'echo "[$CUDA_VISIBLE_DEVICES]" > {_output}/seen', gpus: 0}
        resource: [0]
        ---
        a: [1]
        """,
    )
    exptflow(tmp_path, "compile")
    snakemake(tmp_path)
    assert seen_devices(tmp_path) == ["[]"]
    assert (
        json.loads(next(tmp_path.glob("output/*/.exptflow/stage.avg.json")).read_text())[
            "slot_lock"
        ]
        is None
    )

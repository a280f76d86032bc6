"""One test per assumption exptflow makes about Snakemake's private code (the list is in
``exptflow/runtime/snakemake_internals.py``), run against the installed Snakemake: an upgrade that
breaks one fails here, by name."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from snakemake.persistence.file import FilePersistence
from snakemake.scheduling.job_scheduler import JobScheduler

from conftest import REPO
from exptflow.runtime import snakemake_internals
from exptflow.runtime.snakemake_internals import incomplete_markers, lock_files


@pytest.fixture
def persistence(chdir_tmp: Path) -> FilePersistence:
    """Snakemake's own file persistence, in a fresh directory."""
    return FilePersistence(path=chdir_tmp / ".snakemake")


class _Scheduler:
    """What ``_schedule_reevalutation`` touches of its scheduler."""

    _open_jobs = threading.Semaphore(0)


def test_the_rate_limit_timer_is_started_by_schedule_reevalutation() -> None:
    before = set(threading.enumerate())
    JobScheduler._schedule_reevalutation(_Scheduler(), 3600)  # type: ignore[arg-type]
    (timer,) = set(threading.enumerate()) - before

    assert snakemake_internals.cancel_reevaluation_timers() == 1
    timer.join(timeout=30)
    assert not timer.is_alive()  # cancelled: Python would have waited an hour for it at exit


@pytest.mark.slow
def test_threaded_jobs_run_in_a_thread_pool_of_the_scheduler_s_executor(tmp_path: Path) -> None:
    # A real run of a compiled sweep at --cores 1, with nine more GPU slots than job threads:
    # onstart finds the pool, or the run would print it could not.
    (tmp_path / "Snakefile").write_text(
        "from exptflow.runtime.snakemake_internals import make_room_for_slots\n"
        "onstart:\n"
        "    print('room made:', make_room_for_slots(workflow, 9))\n"
        "    print('workers:', workflow.scheduler._executor.pool._max_workers)\n"
        "rule all:\n"
        "    output: 'done'\n"
        "    run:\n"
        "        open(output[0], 'w').close()\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--force-use-threads"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "room made: True" in result.stdout
    assert "workers: 15" in result.stdout  # cores + 5, plus the 9


@pytest.mark.parametrize("length", [10, 400], ids=["short-path", "path-longer-than-a-name"])
def test_incomplete_markers_are_the_urlsafe_base64_of_the_output_path(
    persistence: FilePersistence, chdir_tmp: Path, length: int
) -> None:
    output = f"output/{'x' * length}/.exptflow/train.done"
    persistence._mark_incomplete(output, None)
    assert list(incomplete_markers(chdir_tmp).values()) == [output]


def test_locks_are_files_in_the_locks_folder(persistence: FilePersistence, chdir_tmp: Path) -> None:
    persistence._write_locks("output", ["output/a=1/.exptflow/train.done"])
    persistence._write_locks("input", ["experiments.json"])
    assert [path.name for path in lock_files(chdir_tmp)] == ["0.input.lock", "0.output.lock"]
    persistence._delete_locks()
    assert lock_files(chdir_tmp) == []


def test_no_other_module_or_template_names_snakemake_s_internals() -> None:
    sources = [*(REPO / "exptflow").rglob("*.py"), *(REPO / "workflow").glob("*.tmpl")]
    private = [
        path.name
        for path in sources
        if path.name != "snakemake_internals.py"
        and any(name in path.read_text() for name in ("_executor", "_schedule_reeval", "b64"))
    ]
    assert private == [], f"Snakemake internals outside snakemake_internals.py: {private}"

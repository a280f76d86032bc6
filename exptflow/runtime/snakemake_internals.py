"""Every assumption exptflow makes about Snakemake's private code, in one place.

Each has a test named after it in ``tests/test_snakemake_internals.py``, run against the
installed Snakemake: an upgrade that breaks one fails there, by name, instead of somewhere
in a run. The pin ``snakemake<10`` stays until those tests pass on the next major.

1. The scheduler's job rate limit re-arms a ``threading.Timer`` whose function is defined in
   ``JobScheduler._schedule_reevalutation`` (spelled so).
2. The local executor runs threaded jobs in ``workflow.scheduler._executor.pool``, a
   ``ThreadPoolExecutor`` of ``cores + 5`` workers that starts its threads lazily.
3. The file persistence backend (the default) marks a started job by a file under
   ``.snakemake/incomplete`` named by the urlsafe base64 of the output path, split into
   ``@``-prefixed folders when longer than a file name may be.
4. It takes its locks as files ``.snakemake/locks/<n>.<input|output>.lock``, after building
   the DAG and before the first job starts.
"""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REEVALUATION = "JobScheduler._schedule_reevalutation"
# Snakemake's own marker that it is migrating an older metadata layout: no job's marker.
MIGRATION_MARKER = "migration_underway"


def cancel_reevaluation_timers() -> int:
    """Cancel the scheduler's pending rate-limit timers (Python waits for them at exit)."""
    cancelled = 0
    for thread in threading.enumerate():
        wakes = getattr(thread, "function", None)
        if isinstance(thread, threading.Timer) and REEVALUATION in getattr(
            wakes, "__qualname__", ""
        ):
            thread.cancel()
            cancelled += 1
    return cancelled


def make_room_for_slots(workflow: object, slots: int) -> bool:
    """One more job thread per GPU slot; False when the pool is not where it was.

    A GPU stage takes no core locally (``threads: 0``) but a thread of the pool, and more
    slots than ``cores + 5`` would otherwise leave slots idle.
    """
    executor = getattr(getattr(workflow, "scheduler", None), "_executor", None)
    pool = getattr(executor, "pool", None)
    if not isinstance(pool, ThreadPoolExecutor):
        return False
    pool._max_workers += slots  # it starts threads lazily, up to this bound
    return True


def state_dir(workdir: Path) -> Path:
    return workdir / ".snakemake"


def incomplete_markers(workdir: Path) -> dict[Path, str]:
    """Snakemake's "job started, not finished" markers: marker file → output path."""
    root = state_dir(workdir) / "incomplete"
    markers = {}
    for marker in root.rglob("*") if root.is_dir() else ():
        if marker.is_dir() or marker.name == MIGRATION_MARKER:
            continue
        parts = [part.lstrip("@") for part in marker.relative_to(root).parts]
        try:
            markers[marker] = base64.urlsafe_b64decode("".join(parts)).decode()
        except (ValueError, UnicodeDecodeError):
            continue
    return markers


def lock_files(workdir: Path) -> list[Path]:
    """The locks a Snakemake run in ``workdir`` holds, or left behind when it was killed."""
    locks = state_dir(workdir) / "locks"
    return sorted(locks.glob("*.lock")) if locks.is_dir() else []

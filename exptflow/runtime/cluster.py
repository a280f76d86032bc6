"""What a cluster scheduler says about the jobs that run stages (SLURM's ``squeue``)."""

from __future__ import annotations

import shutil
import subprocess
import time

# One `squeue` per look at a whole sweep, not one per running stage.
QUEUE_TTL_SECONDS = 5.0
SQUEUE_TIMEOUT_SECONDS = 20.0

_queue: tuple[float, frozenset[str] | None] | None = None


def _queued_jobs() -> frozenset[str] | None:
    """Ids of the jobs SLURM still knows (pending, running, completing); None: no answer."""
    if shutil.which("squeue") is None:
        return None
    try:
        listing = subprocess.run(
            ["squeue", "--noheader", "--format=%A"],
            capture_output=True,
            text=True,
            timeout=SQUEUE_TIMEOUT_SECONDS,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return frozenset(listing.split())


def job_in_queue(job_id: object) -> bool | None:
    """Whether SLURM job ``job_id`` is still queued or running; None when nobody can say."""
    global _queue
    if not job_id:
        return None
    if _queue is None or time.monotonic() - _queue[0] > QUEUE_TTL_SECONDS:
        _queue = (time.monotonic(), _queued_jobs())
    jobs = _queue[1]
    return None if jobs is None else str(job_id) in jobs

"""GPU slots: one lock file per entry of ``resource``, held with ``flock`` while a job runs.

The kernel drops an ``flock`` when every process holding the file descriptor is gone, so a
slot frees itself even after ``kill -9``; no stale lock can block a GPU. Stdlib only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections import Counter, namedtuple
from collections.abc import Mapping, Sequence
from pathlib import Path

# Variables a cluster scheduler sets in a job: then the GPUs it gave are the ones to use.
CLUSTER_JOB_VARIABLES = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "KUBERNETES_SERVICE_HOST")


# The CUDA_VISIBLE_DEVICES value ("0" or "0,1"), its lock file, and the held descriptor.
# A collections tuple, not typing.NamedTuple: typing would cost every job milliseconds.
Slot = namedtuple("Slot", ["devices", "lock", "descriptor"])


def lock_names(slots: Sequence[str]) -> list[str]:
    """``gpu-0.0.lock``: GPU list, then which listing of that same list (``[0, 0]`` → 2 slots)."""
    seen: Counter[str] = Counter()
    names = []
    for devices in slots:
        names.append(f"gpu-{devices.replace(',', '+')}.{seen[devices]}.lock")
        seen[devices] += 1
    return names


def _try_lock(path: Path) -> int | None:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def _lock_dir(directory: Path) -> Path:
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):  # shared by every user, like /tmp
            directory.chmod(0o1777)
    return directory


def acquire(slots: Sequence[str], directory: Path, poll: float = 0.05) -> Slot:
    """Block until one slot is free and return it locked.

    Snakemake runs at most ``len(slots)`` GPU jobs at once, so one sweep never waits here;
    only several sweeps sharing the GPUs of one machine do.
    """
    directory = _lock_dir(directory)
    candidates = list(zip(slots, lock_names(slots), strict=True))
    waited = False
    while True:
        for devices, name in candidates:
            descriptor = _try_lock(directory / name)
            if descriptor is not None:
                return Slot(devices, directory / name, descriptor)
        if not waited:
            print(f"exptflow: every GPU slot is busy; waiting ({directory})", file=sys.stderr)
            waited = True
        time.sleep(poll * (1 + (os.getpid() % 7) / 7))  # spread the retries of waiting jobs


def under_cluster_scheduler(environ: Mapping[str, str]) -> bool:
    """Whether a cluster scheduler runs this job: then it alone decides the job's GPUs."""
    return any(name in environ for name in CLUSTER_JOB_VARIABLES)

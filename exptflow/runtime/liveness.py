"""Whether a stage recorded running still runs: same host by pid and start time, another host
by its SLURM job or its heartbeat. ``exptflow status``, ``exptflow run`` and the collector ask.

Stdlib only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from exptflow.layout.paths import ExperimentPaths
from exptflow.layout.record import StageRecord, read_record
from exptflow.layout.states import StageState
from exptflow.runtime import cluster, supervision

# Kept for the modules that compare states as text.
PENDING, RUNNING, DONE, FAILED, KILLED = (
    StageState.PENDING,
    StageState.RUNNING,
    StageState.DONE,
    StageState.FAILED,
    StageState.KILLED,
)
# A record on another host not touched for this many heartbeats belongs to a lost stage.
MISSED_HEARTBEATS = 4


@dataclass(frozen=True)
class StageStatus:
    stage: str
    state: StageState
    duration: float | None = None
    record: StageRecord | None = None


def _alive_here(record: StageRecord) -> bool | None:
    """Whether the process that wrote a running record lives (None: another host)."""
    if record.host != os.uname().nodename:
        return None
    try:
        pid = int(record.pid)
    except (TypeError, ValueError):
        return True  # a record of unknown shape: claim nothing
    return supervision.is_alive(pid, record.pid_start)


def _beats(paths: ExperimentPaths, stage: str, now: float) -> bool:
    """Whether a stage on another host touched its record within the last heartbeats."""
    try:
        touched = os.stat(paths.record_file(stage)).st_mtime
    except OSError:
        return False
    return now - touched < MISSED_HEARTBEATS * supervision.HEARTBEAT_SECONDS


def _running_state(
    paths: ExperimentPaths, stage: str, record: StageRecord, now: float
) -> StageState:
    """A running record's truth: running, killed (its reaper said so) or lost."""
    alive = _alive_here(record)
    if alive is None:
        in_queue = cluster.job_in_queue(record.slurm_job_id)
        alive = in_queue if in_queue is not None else _beats(paths, stage, now)
    if alive:
        return StageState.RUNNING
    if paths.killed_marker(stage).exists():
        return StageState.KILLED
    return StageState.LOST


def stage_status(paths: ExperimentPaths, stage: str, now: float) -> StageStatus:
    record = read_record(paths, stage)
    if record is None:
        return StageStatus(stage, PENDING)
    if record.state != RUNNING:
        return StageStatus(stage, record.state, record.duration, record)
    state = _running_state(paths, stage, record, now)
    if state == RUNNING:
        return StageStatus(stage, RUNNING, now - float(record.start or now), record)
    return StageStatus(stage, state, None, record)

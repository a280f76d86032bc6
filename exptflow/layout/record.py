"""The stage record: what the latest run of one stage of one experiment was and how it ended
(``.exptflow/stage.<stage>.json``), and the history line each finished run appends.

One type, written by the job wrapper and read by ``status``, ``run``, ``plan`` and the
collector, like Hydra's ``JobReturn``. Stdlib only and light: every job imports it.
"""

from __future__ import annotations

from collections import namedtuple

from exptflow.layout.jsonfiles import append_line, read_json, write_json
from exptflow.layout.states import StageState

# typing costs milliseconds at import and every job imports this module: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from exptflow.layout.paths import ExperimentPaths

# mypy reads the field names of a literal list: keep them spelled here.
# (Not typing.NamedTuple: importing typing would cost every job milliseconds.)
# fmt: off
_Fields = namedtuple(
    "_Fields",
    [
        "stage",
        "state",  # a StageState
        "command",  # the shell command as compile rendered it
        "log",  # the log file's name in the experiment directory
        "start",  # seconds since the epoch
        "host",
        "pid",  # the process that records the end (Snakemake, or the wrapper process)
        "pid_start",  # that process's start time in clock ticks: a pid and this name one process
        "cuda_visible_devices",
        "slot_lock",  # the GPU slot's lock file
        "slurm_job_id",
        "run_id",
        "time_limit",  # seconds, from the stage's `runtime`
        "exit_code",  # as a shell reports it; None while running, or when nobody saw the end
        "end",
        "duration",
        "signal",  # the signal that ended it (``SIGKILL``), if one did
        "run",  # the run's provenance folder
        "git",  # commit, branch and dirty of the run's repository
        "reason",  # why `exptflow run` settled a record nobody finished (killed, lost)
        "code",  # `code: snapshot`: the snapshot the stage ran (<sha>, or <sha>+<diff hash>)
    ],
    # All but stage and state (mypy reads only a literal list).
    defaults=[None, None, None, None, None, None, None, None, None,
              None, None, None, None, None, None, None, None, None, None],
)
# fmt: on
FIELDS: tuple[str, ...] = _Fields._fields


class StageRecord(_Fields):
    """A tuple: the collector reads 10,000s of them."""

    __slots__ = ()

    @classmethod
    def from_json(cls, data: object, stage: str) -> StageRecord | None:
        """The record of ``stage`` in ``data``; None for anything that is not one (a file of
        another tool, or of a newer exptflow with states this one does not know)."""
        if not isinstance(data, dict):
            return None
        try:
            state = StageState(data.get("state"))
        except ValueError:
            return None
        known = {key: data[key] for key in FIELDS if key in data}
        return cls(**{**known, "stage": stage, "state": state})

    def to_json(self) -> dict[str, Any]:
        """Every field, unknown ones as null: each record file has the same keys."""
        return dict(zip(FIELDS, self, strict=True))


def read_record(paths: ExperimentPaths, stage: str) -> StageRecord | None:
    """The stage's latest record; None when it has none (it never started)."""
    return StageRecord.from_json(read_json(paths.record_file(stage)), stage)


def write_record(paths: ExperimentPaths, record: StageRecord) -> None:
    """Replace the stage's record atomically: a reader sees the old one or the new one."""
    write_json(paths.record(record.stage), record.to_json())


def append_history(paths: ExperimentPaths, record: StageRecord) -> None:
    """One line per finished (or settled) stage run, never rewritten."""
    append_line(paths.history, record.to_json())


def how_it_ended(record: StageRecord) -> str:
    """``exited with code 3``, ``was stopped by SIGKILL``, ``ran past its time limit (5 s)
    and was stopped``: the words of the job's own message, of ``exptflow run`` and others."""
    if record.state == StageState.CANCELLED:
        return "was cancelled (`exptflow cancel`)"
    if record.state == StageState.TIMED_OUT and record.time_limit is not None:
        return f"ran past its time limit ({float(record.time_limit):g} s) and was stopped"
    if record.state == StageState.TIMED_OUT:
        return f"exited with code {record.exit_code} (a time limit of `timeout` in its command)"
    if record.signal:
        return f"was stopped by {record.signal}"
    if record.exit_code is not None:
        return f"exited with code {record.exit_code}"
    return f"was {record.state}: {record.reason}" if record.reason else f"was {record.state}"

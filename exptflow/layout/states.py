"""The states of a stage, as records, ``exptflow status`` and the results table name them.

Stdlib only: the job wrapper writes them.
"""

from __future__ import annotations

from enum import Enum


class StageState(str, Enum):
    """A ``str``: records hold the plain value, and comparisons with text keep working."""

    PENDING = "pending"  # never started (or its record is gone)
    RUNNING = "running"  # its supervisor lives (same host), or beats (another host)
    DONE = "done"  # exit 0
    FAILED = "failed"  # a non-zero exit code of its own
    KILLED = "killed"  # a signal ended it: Ctrl-C, the OOM killer, its supervisor's death
    TIMED_OUT = "timed-out"  # it ran past its `runtime` and was stopped
    LOST = "lost"  # recorded running, but whatever ran it is gone without a word
    CANCELLED = "cancelled"  # `exptflow cancel` stopped it, or kept it from starting
    OUTDATED = "outdated"  # done, but compile would run it again (edited command, rerun before)

    def __str__(self) -> str:
        return self.value


# The order `exptflow status` counts them in.
DISPLAY_ORDER = (
    StageState.DONE,
    StageState.RUNNING,
    StageState.OUTDATED,
    StageState.FAILED,
    StageState.KILLED,
    StageState.CANCELLED,
    StageState.TIMED_OUT,
    StageState.LOST,
    StageState.PENDING,
)

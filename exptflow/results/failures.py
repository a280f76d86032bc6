"""Failures that explain themselves: which stage of which experiment, how it ended, and the end
of its log, instead of Snakemake's traceback and a log path."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from exptflow.layout.paths import ExperimentPaths
from exptflow.layout.record import StageRecord, how_it_ended
from exptflow.results.status import format_duration

LOG_LINES = 20


def log_tail(path: Path, lines: int = LOG_LINES) -> list[str]:
    """The last ``lines`` lines of a log; reads only its end (logs of training runs are big)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(size - 256 * lines, 0))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def describe(output: Path, experiment: str, record: StageRecord) -> str:
    """The failure's report: a headline, then the log's last lines, indented."""
    paths = ExperimentPaths.of(output, experiment)
    took = f" after {format_duration(float(record.duration))}" if record.duration else ""
    lines = [f"FAILED {experiment}: stage {record.stage} {how_it_ended(record)}{took}"]
    if record.log:
        log = paths.directory / record.log
        tail = log_tail(log)
        heading = f"last {len(tail)} lines of {log}" if tail else f"{log} is empty"
        lines += [f"  {heading}:" if tail else f"  {heading}", *(f"  | {line}" for line in tail)]
    return "\n".join(lines)


def summary(failed: Iterable[tuple[str, StageRecord]], rerun: str) -> str:
    """The end of a run with failures: each failed experiment, and how to rerun just them."""
    rows = [(name, record.stage, how_it_ended(record)) for name, record in failed]
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{len(rows)} experiment(s) failed:"]
    lines += [f"  {name.ljust(width)}  stage {stage} {how}" for name, stage, how in rows]
    lines.append(f"rerun just them: {rerun}")
    return "\n".join(lines)

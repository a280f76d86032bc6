"""``exptflow status``: each experiment's stages, from the files alone.

Needs no Snakemake and no lock, so it works while a run is going and on another machine.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exptflow.paths import ExperimentPaths, SweepPaths, existing_directories
from exptflow.records import read_json

PENDING, RUNNING, DONE, FAILED, KILLED = "pending", "running", "done", "failed", "killed"


@dataclass(frozen=True)
class StageStatus:
    stage: str
    state: str
    duration: float | None = None
    record: dict[str, Any] | None = None


def _alive_here(record: dict[str, Any]) -> bool | None:
    """Whether the wrapper that wrote a 'running' record lives (None: another host)."""
    if record.get("host") != os.uname().nodename:
        return None
    try:
        os.kill(int(record["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, TypeError, ValueError):
        return True
    return True


def stage_status(paths: ExperimentPaths, stage: str, now: float) -> StageStatus:
    record = read_json(paths.record_file(stage))
    if not isinstance(record, dict):
        return StageStatus(stage, PENDING)
    state = record.get("state", PENDING)
    if state == RUNNING:
        if _alive_here(record) is False:
            return StageStatus(stage, KILLED, None, record)
        return StageStatus(stage, RUNNING, now - float(record.get("start", now)), record)
    return StageStatus(stage, state, record.get("duration"), record)


def _recorded_stages(paths: ExperimentPaths) -> list[str]:
    return [path.name[len("stage.") : -len(".json")] for path in paths.records()]


def _expected(workdir: Path, output: Path) -> dict[str, list[str]]:
    """Experiment → stages, from the compiled table when it describes this output root."""
    paths = SweepPaths(workdir)
    try:
        table = json.loads(paths.table.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    if (workdir / table.get("output", "")).resolve() != output.resolve():
        return {}
    return {name: entry["stages"] for name, entry in table["experiments"].items()}


def sweep_status(output: Path, workdir: Path = Path(".")) -> dict[str, list[StageStatus]]:
    expected = _expected(workdir, output)
    names = list(expected) + sorted(existing_directories(output) - set(expected) - {".exptflow"})
    now = time.time()
    statuses = {}
    for name in names:
        paths = ExperimentPaths.of(output, name)
        stages = expected.get(name) or _recorded_stages(paths)
        statuses[name] = [stage_status(paths, stage, now) for stage in stages]
    return statuses


def _cell(status: StageStatus) -> str:
    if status.duration is None:
        return f"{status.stage} {status.state}"
    return f"{status.stage} {status.state} {format_duration(status.duration)}"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def format_status(statuses: dict[str, list[StageStatus]]) -> str:
    if not statuses:
        return "no experiments yet"
    rows = [[name, *map(_cell, stages)] for name, stages in statuses.items()]
    widths = [max(len(row[i]) for row in rows if len(row) > i) for i in range(max(map(len, rows)))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    counts = Counter(s.state for stages in statuses.values() for s in stages)
    order = [DONE, RUNNING, FAILED, KILLED, PENDING]
    total = ", ".join(f"{counts[state]} {state}" for state in order if counts[state])
    lines.append(f"{len(statuses)} experiments, {sum(counts.values())} stages: {total}")
    return "\n".join(lines)

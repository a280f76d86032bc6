"""``exptflow clean``: move the experiment directories the sweep no longer lists to an archive.

Never deletes: ``--yes`` moves them under ``<output>/.exptflow/archive/<time>/``, files intact
(move one back to restore it). The compiled table is the only thing that tells the sweep's
experiments from the others: without one every directory would look stale, so clean refuses.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from exptflow.errors import NothingCompiledError
from exptflow.layout.paths import ExperimentPaths, SweepPaths
from exptflow.layout.table import describes, members, read_table
from exptflow.runtime.liveness import RUNNING, stage_status


@dataclass(frozen=True)
class Cleaning:
    """What ``exptflow clean`` would do."""

    paths: SweepPaths
    sweep: str  # the sweep file that compiled the table
    stale: list[str]  # not in the sweep: moved by --yes
    running: list[str]  # not in the sweep, but a stage of an earlier run still runs: kept


def plan_clean(workdir: Path = Path("."), output: str | None = None) -> Cleaning:
    """The experiments under the compiled sweep's output root (or ``output``) it no longer lists."""
    table_path = SweepPaths(workdir).table
    table = read_table(workdir)
    if table is None:
        raise NothingCompiledError(
            f"{table_path}: not found: nothing is compiled here, so no experiment can be told "
            "apart from the sweep's; run `exptflow compile` first, then `exptflow clean`"
        )
    root = output or table.get("output", "output")
    if not describes(table, workdir, workdir / root):
        raise NothingCompiledError(
            f"{table_path}: the compiled sweep ({table.get('sweep')}) writes to "
            f"{table.get('output')}, not {root}; run `exptflow clean` where the sweep of {root} "
            "was compiled"
        )
    paths = SweepPaths(workdir, root)
    stale = members(paths.output, table["experiments"]).not_in_sweep
    running = [name for name in stale if _running(paths.experiment(name))]
    kept = set(running)
    return Cleaning(paths, str(table.get("sweep")), [n for n in stale if n not in kept], running)


def _running(paths: ExperimentPaths) -> bool:
    """Moving a directory under a live stage would split its files: those are kept."""
    now = time.time()
    return any(stage_status(paths, s, now).state == RUNNING for s in paths.recorded_stages())


def describe(cleaning: Cleaning) -> list[str]:
    """The lines clean prints before moving anything."""
    output = cleaning.paths.output
    if not cleaning.stale and not cleaning.running:
        return [f"every experiment under {output} is in {cleaning.sweep}: nothing to clean"]
    lines = [f"{len(cleaning.stale)} experiment(s) under {output} not in {cleaning.sweep}:"]
    lines += [f"  {output / name}" for name in cleaning.stale]
    lines += [f"  {output / name} (kept: a stage is running)" for name in cleaning.running]
    return lines


def archive(cleaning: Cleaning) -> Path:
    """Move the stale experiments into a new archive folder; returns it."""
    target = cleaning.paths.outputs.archived(time.strftime("%Y%m%d.%H%M%S") + f"-{os.getpid()}")
    target.mkdir(parents=True)
    for name in cleaning.stale:
        # A rename within the output root: atomic, and nothing is copied or deleted.
        os.rename(cleaning.paths.experiment(name).directory, target / name)
    return target

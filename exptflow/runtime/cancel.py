"""``exptflow cancel EXPERIMENT...``: stop experiments of a live run, and only them.

The request (``<experiment>/.exptflow/cancel.json``) names the live Snakemake, so it holds
for that run alone. The stages running now get SIGTERM in their process groups (SIGKILL
after the grace period), and the wrapper records them ``cancelled``; a stage that is to
start later finds the request and is recorded ``cancelled`` without running. Its job fails,
so the Snakemake (``keep-going``) starts none of the experiment's later stages and goes on
with the other experiments. The next run runs the experiment again.

Stdlib only, as the rest of runtime/ (matching names imports the compiler, when asked).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from exptflow.errors import LiveRunError, NothingCompiledError
from exptflow.layout.jsonfiles import write_json
from exptflow.layout.paths import ExperimentPaths
from exptflow.layout.record import StageRecord, read_record, write_record
from exptflow.layout.states import StageState
from exptflow.layout.table import read_table
from exptflow.runtime import supervision
from exptflow.runtime.job import CANCEL_REASON
from exptflow.runtime.launch import live_snakemakes

POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Cancelled:
    experiment: str
    stopped: tuple[str, ...]  # stages that were running here, now stopped
    not_started: tuple[str, ...]  # stages recorded cancelled before they started
    elsewhere: tuple[str, ...]  # stages running on another host: the request stops no more

    def describe(self) -> str:
        parts = [f"stopped {', '.join(self.stopped)}"] if self.stopped else []
        if self.not_started:
            parts.append(f"{', '.join(self.not_started)} will not start")
        if self.elsewhere:
            parts.append(f"{', '.join(self.elsewhere)} runs on another host: stop its job there")
        return f"exptflow cancel: {self.experiment}: " + ("; ".join(parts) or "nothing left")


def cancel(workdir: Path, patterns: Sequence[str]) -> list[Cancelled]:
    """Cancel the experiments whose names the globs ``patterns`` match, in the live run."""
    from exptflow.compiler.subset import matching_names

    run = _live_run(workdir)
    table = read_table(workdir)
    if table is None:
        raise NothingCompiledError(f"exptflow cancel: nothing compiled in {workdir.resolve()}")
    experiments = table["experiments"]
    names: set[str] = set()
    for pattern in patterns:
        names |= matching_names("exptflow cancel", pattern, list(experiments))
    output = workdir / str(table.get("output", "output"))
    chosen = [ExperimentPaths.of(output, name) for name in sorted(names)]
    for paths in chosen:  # all first: stopping one frees a slot another might start in
        write_json(paths.cancel_request, {**run, "time": time.time()})
    run_id = _run_id_of(int(run["pid"] or 0))
    return [_stop(paths, experiments[paths.name]["stages"], run_id) for paths in chosen]


def _run_id_of(pid: int) -> str | None:
    """The live run's id (set by `exptflow run` in Snakemake's environment), so the records
    of the stages it will never start are its own."""
    try:
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for entry in environment:
        if entry.startswith(b"EXPTFLOW_RUN_ID="):
            return entry.split(b"=", 1)[1].decode()
    return None


def _live_run(workdir: Path) -> dict[str, int | str | None]:
    live = live_snakemakes(workdir)
    if not live:
        raise LiveRunError(
            f"exptflow cancel: no Snakemake runs in {workdir.resolve()}: nothing to cancel "
            "(`exptflow status` shows each stage's state)"
        )
    pid = live[0]
    return {"pid": pid, "pid_start": supervision.process_start_time(pid), "host": os.uname()[1]}


def _stop(paths: ExperimentPaths, stages: list[str], run_id: str | None) -> Cancelled:
    groups = stage_groups(paths.directory)  # after the request: a stage starting now sees it
    stopped = sorted(set(groups.values()))
    idle = [stage for stage in stages if stage not in stopped]
    not_started = [stage for stage in idle if _record_if_idle(paths, stage, run_id)]
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGTERM)
    _wait_for_stop(paths, groups)
    elsewhere = [stage for stage in idle if _state(paths, stage) == StageState.RUNNING]
    return Cancelled(paths.name, tuple(stopped), tuple(not_started), tuple(elsewhere))


def _state(paths: ExperimentPaths, stage: str) -> StageState | None:
    record = read_record(paths, stage)
    return record.state if record else None


def _record_if_idle(paths: ExperimentPaths, stage: str, run_id: str | None) -> bool:
    """Record a stage that is neither done nor running as cancelled; whether it was one (or
    its wrapper found the request first).

    Under the stage's lock: a wrapper starting it meanwhile waits, then finds the request.
    """
    state = _state(paths, stage)
    if state == StageState.CANCELLED:
        return True
    if state in (StageState.DONE, StageState.RUNNING):
        return False
    descriptor = os.open(paths.stage_lock(stage), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # it runs (started since the check)
        os.close(descriptor)
        return False
    try:
        now = time.time()
        write_record(
            paths,
            StageRecord(
                stage,
                StageState.CANCELLED,
                start=now,
                end=now,
                run_id=run_id,
                reason=CANCEL_REASON,
            ),
        )
    finally:
        os.close(descriptor)
    return True


def _wait_for_stop(paths: ExperimentPaths, groups: dict[int, str]) -> None:
    """Until the stopped stages are recorded; SIGKILL what outlives the grace period."""
    deadline = time.monotonic() + supervision.STOP_GRACE_SECONDS
    while any(supervision.pid_exists(-group) for group in groups):
        if time.monotonic() > deadline:
            for group in groups:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(POLL_SECONDS)
    # The wrapper records the end right after its stage's group leader exits.
    recorded = time.monotonic() + supervision.LOCK_WAIT_SECONDS
    while time.monotonic() < recorded and any(
        _state(paths, stage) == StageState.RUNNING for stage in groups.values()
    ):
        time.sleep(POLL_SECONDS)


def stage_groups(directory: Path) -> dict[int, str]:
    """The process groups of the stages running for ``directory`` on this host, by stage.

    Each stage's shell leads a group of its own, with ``EXPTFLOW_DIR`` and
    ``EXPTFLOW_STAGE`` in its environment (relative to its working directory).
    """
    target = directory.resolve()
    found: dict[int, str] = {}
    for entry in _proc_entries():
        pid = int(entry)
        if _group_of(pid) != pid:
            continue
        stage = _stage_of(pid, target)
        if stage:
            found[pid] = stage
    return found


def _proc_entries() -> list[str]:
    try:
        return [name for name in os.listdir("/proc") if name.isdigit()]
    except FileNotFoundError:  # not Linux: only the requests stop stages
        return []


def _group_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    return int(stat[stat.rindex(b")") + 2 :].split()[2])


def _stage_of(pid: int, target: Path) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            variables = dict(
                item.split(b"=", 1) for item in handle.read().split(b"\0") if b"=" in item
            )
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None
    directory, stage = variables.get(b"EXPTFLOW_DIR"), variables.get(b"EXPTFLOW_STAGE")
    if directory is None or stage is None:
        return None
    if Path(cwd, os.fsdecode(directory)).resolve() != target:
        return None
    return os.fsdecode(stage)

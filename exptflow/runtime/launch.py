"""``exptflow run``: compile when needed, clear a stale Snakemake lock, run Snakemake.

After ``kill -9`` or a power cut Snakemake alone needs ``--unlock`` then
``--rerun-incomplete``; this does both, and refuses to start beside a live Snakemake
working in this directory. Ctrl-C cancels cleanly: Snakemake runs in its own process group,
which gets SIGTERM and passes it on to the stages: they stop and are recorded as killed,
Snakemake removes partial outputs. A second Ctrl-C kills the group (the stages' reaper ends
them). Snakemake dies with this process, even with its ``kill -9``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from exptflow.errors import LiveRunError
from exptflow.layout.paths import META, ExperimentPaths, OutputPaths, RunPaths, SweepPaths
from exptflow.layout.record import StageRecord, append_history, read_record, write_record
from exptflow.layout.states import StageState
from exptflow.results.progress import RunWatch, Scope
from exptflow.runtime import snakemake_internals, supervision
from exptflow.runtime.liveness import stage_status


def refuse_beside_live_run(workdir: Path, action: str) -> None:
    """Raise LiveRunError naming the Snakemake that works in ``workdir``, if one does."""
    live = live_snakemakes(workdir)
    if not live:
        return
    pid = live[0]
    started = supervision.started_at(pid)
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "?"
    raise LiveRunError(
        f"{action}: a Snakemake run is live in {workdir.resolve()} (pid {pid}, since {since}); "
        f"wait for it to end (`exptflow status` follows it), or stop it with `kill -TERM {pid}` "
        "(its stages are stopped and recorded as killed), then try again"
    )


GONE = (StageState.KILLED, StageState.LOST)


def settle_interrupted(output: Path, names: Sequence[str]) -> int:
    """Record as killed or lost the stages whose record says running but whose run is gone.

    Only with no live run here (``refuse_beside_live_run`` first): what ``exptflow status``
    shows is then final, and the histories get the line their wrapper could not write.
    """
    settled = 0
    now = time.time()
    remove_dead_temporaries(output / META)
    for name in names:
        paths = ExperimentPaths.of(output, name)
        remove_dead_temporaries(paths.meta)
        remove_dead_temporaries(paths.directory)  # a checkpoint's copy, saved by the stage
        paths.cancel_request.unlink(missing_ok=True)  # `exptflow cancel` of a run now over
        for stage in paths.recorded_stages():
            status = stage_status(paths, stage, now)
            record = status.record
            if record and record.state == StageState.RUNNING and status.state in GONE:
                _write_settled(paths, record, status.state)
                settled += 1
    return settled


# `write_atomic`'s temporary files: `.<name>.<pid>.<thread>.tmp`.
TEMPORARY = re.compile(r"^\..+\.(\d+)\.\d+\.tmp$")


def remove_dead_temporaries(directory: Path) -> None:
    """A kill -9 between writing a file's temporary copy and renaming it leaves the copy."""
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        match = TEMPORARY.match(entry.name)
        if match and not supervision.is_alive(int(match[1]), None):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)


SETTLED = {
    StageState.KILLED: ("SIGKILL", "the process that supervised it died"),
    StageState.LOST: (None, "its run ended without a word (killed with its host?)"),
}


def _write_settled(paths: ExperimentPaths, record: StageRecord, state: StageState) -> None:
    signal_name, reason = SETTLED[state]
    record = record._replace(
        state=state, exit_code=None, end=None, duration=None, signal=signal_name, reason=reason
    )
    write_record(paths, record)
    append_history(paths, record)


def live_snakemakes(workdir: Path) -> list[int]:
    """PIDs of live Snakemake processes whose working directory is ``workdir``."""
    target = workdir.resolve()
    found: list[int] = []
    if not Path("/proc").is_dir():  # not Linux: Snakemake's own lock still guards the directory
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if not _is_snakemake((entry / "cmdline").read_bytes().split(b"\0")):
                continue
            if Path(os.readlink(entry / "cwd")) == target:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


# Python's options that take a value as the next argument (`python -X importtime -m ...`).
PYTHON_VALUE_OPTIONS = (b"-W", b"-X", b"--check-hash-based-pycs")


def _is_snakemake(command: list[bytes]) -> bool:
    """``snakemake ...``, ``python [options] -m snakemake ...`` or ``python .../snakemake``."""
    if not command or os.path.basename(command[0]) == b"snakemake":
        return bool(command)
    if not os.path.basename(command[0]).startswith(b"python"):
        return False
    rest = command[1:]
    while rest and rest[0].startswith(b"-") and rest[0] not in (b"-m", b"-c", b"-"):
        rest = rest[2:] if rest[0] in PYTHON_VALUE_OPTIONS else rest[1:]
    if rest[:2] == [b"-m", b"snakemake"]:
        return True
    return bool(rest) and os.path.basename(rest[0]) == b"snakemake"


def recover_from_crash(workdir: Path) -> tuple[bool, int]:
    """After a killed run: keep the stages it finished, then remove its stale lock.

    Returns whether there was a stale lock, and how many finished stages were kept. In this
    order a kill of this very step leaves the lock, and the next run repeats the step.
    """
    stale = snakemake_internals.lock_files(workdir)
    if not stale or live_snakemakes(workdir):
        return False, 0
    # When the killed run took its locks: after building its DAG, before its first job.
    kept = forget_finished_jobs(workdir, since=min(lock.stat().st_mtime for lock in stale))
    for lock in stale:
        lock.unlink(missing_ok=True)
    return True, kept


def _finished_end(paths: ExperimentPaths, stage: str, since: float) -> float | None:
    """When the stage ended, if its record says exit 0 in a job started at ``since`` or later.

    An earlier start is a previous run's record: the killed run was about to rerun the stage
    (say, for an edited command) and was killed before the wrapper recorded the new start.
    """
    record = read_record(paths, stage)
    if record is None or record.state != StageState.DONE or (record.start or 0) < since:
        return None
    return float(record.end)


def forget_finished_jobs(workdir: Path, since: float) -> int:
    """Keep the stages that finished before Snakemake was killed; how many were kept.

    ``since``: when the killed run took its locks. The wrapper records a stage as done only
    after its command exited 0, then writes its ``.done`` file; a kill after the record but
    before Snakemake's own bookkeeping (or before the ``.done`` file) would otherwise make
    ``--rerun-incomplete`` run a finished stage again.
    """
    kept = 0
    markers = snakemake_internals.incomplete_markers(workdir)
    siblings: set[Path] = set()
    for marker, output in markers.items():
        done = workdir / output
        owner = ExperimentPaths.of_done(done)
        ended = _finished_end(*owner, since) if owner else None
        if owner is None or ended is None:
            continue
        if not done.exists():  # dated as the wrapper would have: Snakemake compares mtimes
            done.touch()
            os.utime(done, (ended, ended))
        marker.unlink(missing_ok=True)
        siblings |= _cached_outputs(*owner)
        kept += 1
    for marker, output in markers.items():  # a cached stage's other outputs: it finished
        if workdir / output in siblings:
            marker.unlink(missing_ok=True)
    return kept


def _cached_outputs(paths: ExperimentPaths, stage: str) -> set[Path]:
    """The outputs a cached stage has besides its ``.done`` (Snakemake marks each)."""
    return {paths.record(stage), paths.stage_directory(stage)}


def snakemake_command(arguments: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--rerun-incomplete", *arguments]


def detach_snakemake(arguments: Sequence[str], workdir: Path, output: str) -> tuple[int, Path]:
    """Start Snakemake in its own session, immune to logout; (pid, log file)."""
    log = SweepPaths(workdir, output).outputs.detached_log(time.strftime("%Y%m%d.%H%M%S"))
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            snakemake_command(arguments),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # no SIGHUP at logout; `kill -TERM -- -PID` cancels cleanly
        )
    return process.pid, log


def run_snakemake(arguments: Sequence[str], workdir: Path) -> int:
    """Run Snakemake in its own process group; Ctrl-C or SIGTERM here cancels it cleanly."""
    return wait_cancellable(start_snakemake(arguments, workdir))[0]


def new_run_id() -> str:
    """As the Snakefile names a run it starts itself: the time, then the pid."""
    return time.strftime("%Y%m%d.%H%M%S") + f"-{os.getpid()}"


def watched_snakemake(
    arguments: Sequence[str], workdir: Path, scope: Scope, rerun: Callable[[list[str]], str]
) -> int:
    """Run Snakemake with its output in the run's folder, and the progress display here."""
    from exptflow.runtime.monitor import Monitor, choose_view, log_hint, tail_of_log

    run_id = new_run_id()
    log = RunPaths(OutputPaths(workdir / scope.output).run(run_id)).snakemake_log
    log.parent.mkdir(parents=True, exist_ok=True)
    print(log_hint(log), flush=True)
    process = start_snakemake(arguments, workdir, log, {"EXPTFLOW_RUN_ID": run_id})
    monitor = Monitor(RunWatch(scope, run_id), choose_view())
    with monitor:  # its thread starts after the fork: `preexec_fn` wants one thread
        code, cancelled = wait_cancellable(process)
    monitor.finish(rerun, cancelled)
    if code and not cancelled and monitor.unexplained():
        print(tail_of_log(log), file=sys.stderr)
    return code


def start_snakemake(
    arguments: Sequence[str],
    workdir: Path,
    output_to: Path | None = None,
    environment: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Snakemake in a process group of its own; ``output_to``: a file for what it prints.

    Any end of this process ends Snakemake too (a parent-death signal): a ``kill -9`` of
    this process group would otherwise leave Snakemake running the sweep on its own.
    """
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(open(output_to, "ab")) if output_to else None
        return subprocess.Popen(
            snakemake_command(arguments),
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            env={**os.environ, **environment} if environment else None,
            start_new_session=True,
            preexec_fn=supervision.parent_death_signal(),  # this process has one thread here
        )


def wait_cancellable(process: subprocess.Popen[bytes]) -> tuple[int, bool]:
    """Snakemake's exit code, and whether a signal here cancelled it (a second one kills)."""
    cancelled: list[int] = []

    def cancel(signum: int, _frame: object) -> None:
        # A second signal kills: a stage that ignores SIGTERM must not hold the run forever.
        stop = signal.SIGKILL if cancelled else signal.SIGTERM
        verb = "killing" if cancelled else "cancelling"
        print(f"exptflow: {signal.Signals(signum).name}: {verb} the run", file=sys.stderr)
        cancelled.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, stop)

    previous = {s: signal.signal(s, cancel) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        return process.wait(), bool(cancelled)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

"""The job wrapper: what every generated rule runs, once per stage of each experiment.

It takes a free GPU slot, runs the stage's command with its output in
``D/log.<stage>.<YYYYmmdd.HHMMSS>``, records the stage's state atomically, and writes the
stage's ``.done`` file (what Snakemake waits for) only after exit 0.

Snakemake runs it in its own process, one thread per job (``run_in_snakemake``, from the
generated rules' ``run:``): a Python start-up per job would cost more than Snakemake's own
per-job work. ``python -m exptflow.runtime.job --stage S --directory D --command C --params P
[--slots J] [--no-gpu]`` runs the same as a process: the stages packed into one cluster
submission use it, since Snakemake starts a whole Snakemake for each ``run:`` member of a group.

Stdlib only: it never imports yaml, pandas, snakemake or git.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import namedtuple
from collections.abc import Sequence
from pathlib import Path

from exptflow.layout.jsonfiles import canonical, read_json, write_json
from exptflow.layout.paths import ExperimentPaths, RunPaths, gpu_lock_dir
from exptflow.layout.record import (
    StageRecord,
    append_history,
    how_it_ended,
    read_record,
    write_record,
)
from exptflow.layout.states import StageState
from exptflow.runtime import supervision
from exptflow.runtime.slots import Slot, acquire, under_cluster_scheduler

# typing costs milliseconds at import and the process form imports this module: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


TIME_FORMAT = "%Y%m%d.%H%M%S"
EX_IOERR = 74
# GNU timeout's exit code when the command it ran hit its limit.
TIMEOUT_EXIT_CODE = 124

# One stage run of one experiment: params a dict, slots the `resource` list (empty: no slots),
# environment the variables to set for the stage on top of this process's, time_limit the
# stage's `runtime` in seconds (None: none).
StageRequest = namedtuple(
    "StageRequest",
    ["stage", "directory", "command", "params", "slots", "no_gpu", "environment", "time_limit"],
    defaults=[{}, None],
)
# How a stage's run ended: the exit code as a shell reports it, the signal that ended it if
# one did, and whether its time limit did.
Outcome = namedtuple("Outcome", ["code", "signal", "timed_out"], defaults=[None, False])
# What Snakemake's shell() sets for every job: its thread count for the usual math libraries.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
TMPDIR_VARIABLES = ("TMPDIR", "TMP", "TEMPDIR", "TEMP")


class StageFailed(Exception):
    """A stage exited non-zero, or its files could not be written: Snakemake fails the job."""


class _Stop(Exception):
    def __init__(self, signum: int) -> None:
        self.signum = signum


USAGE = (
    "usage: python -m exptflow.runtime.job --stage S --directory D --command C --params JSON "
    "[--slots JSON] [--time-limit SECONDS] [--no-gpu]"
)
OPTIONS = {"--stage", "--directory", "--command", "--params", "--slots", "--time-limit"}
OPTIONAL = {"--slots", "--time-limit"}


class Arguments:
    """The wrapper's flags. Parsed by hand: argparse costs every job milliseconds."""

    def __init__(self, argv: Sequence[str]) -> None:
        values: dict[str, str] = {}
        self.no_gpu = False
        items = iter(argv)
        for flag in items:
            if flag == "--no-gpu":
                self.no_gpu = True
            elif flag in OPTIONS:
                values[flag] = next(items, None) or _usage(f"{flag} needs a value")
            else:
                _usage(f"unknown argument {flag!r}")
        missing = OPTIONS - OPTIONAL - set(values)
        if missing:
            _usage(f"missing {', '.join(sorted(missing))}")
        slots = json.loads(values.get("--slots") or "[]")
        self.request = StageRequest(
            stage=values["--stage"],
            directory=values["--directory"],
            command=values["--command"],
            params=json.loads(values["--params"]),
            slots=slots,
            no_gpu=self.no_gpu and bool(slots),  # without `resource`: CUDA_VISIBLE_DEVICES alone
            time_limit=float(values["--time-limit"]) if "--time-limit" in values else None,
        )


def _usage(problem: str) -> str:
    print(f"{USAGE}\nerror: {problem}", file=sys.stderr)
    raise SystemExit(2)


def claim_directory(paths: ExperimentPaths, params: dict[str, Any]) -> str | None:
    """Record the experiment's params; an error if the directory holds different ones."""
    recorded = read_json(paths.params)
    if recorded is None:
        write_json(paths.params, params)
        return None
    if canonical(recorded) != canonical(params):
        return (
            f"exptflow: {paths.params} holds other params than this job's; refusing to mix "
            "two experiments in one directory. Run `exptflow compile` to see the conflict."
        )
    return None


def _open_log(paths: ExperimentPaths, stage: str, stamp: str) -> tuple[Path, int]:
    path = paths.log(stage, stamp)
    for suffix in range(1000):
        candidate = path if suffix == 0 else path.with_name(f"{path.name}.{suffix}")
        try:
            return candidate, os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
    raise RuntimeError(f"too many logs named {path}")


def _link_latest_log(paths: ExperimentPaths, stage: str, log: Path) -> None:
    """Point the stage's ``log:`` file at this run's log (replaced atomically)."""
    link = paths.latest_log(stage)
    temporary = link.with_name(f".{link.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        os.symlink(os.path.relpath(log, link.parent), temporary)
        os.replace(temporary, link)
    except OSError:  # a file system without links: the log itself is all there is
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _forward_signals(process: subprocess.Popen[bytes]) -> None:
    """Process form: pass SIGINT/SIGTERM/SIGHUP to the stage's group, then stop waiting."""
    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if process.returncode is not None:  # it ended: its own status tells how
            return
        supervision.signal_stages(signum)
        if not stopping:
            stopping.append(signum)
            raise _Stop(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)


def _stop(process: subprocess.Popen[bytes], signum: int) -> int:
    """Send ``signum`` to the stage's group; SIGKILL if it still runs after the grace period."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
    if supervision.wait_exit(process, supervision.STOP_GRACE_SECONDS) is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


def _supervise(process: subprocess.Popen[bytes], record_path: Path, time_limit: float | None):
    """Wait for the stage, beating its record and enforcing its time limit: an Outcome."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    while True:
        left = supervision.HEARTBEAT_SECONDS if deadline is None else deadline - time.monotonic()
        status = supervision.wait_exit(process, min(left, supervision.HEARTBEAT_SECONDS))
        if status is not None:
            return _outcome(status)
        if deadline is not None and time.monotonic() >= deadline:
            status = _stop(process, signal.SIGTERM)
            return Outcome(128 - status if status < 0 else status, _signal_name(status), True)
        with contextlib.suppress(OSError):
            os.utime(record_path)


def _wait(process: subprocess.Popen[bytes], record_path: Path, time_limit: float | None):
    try:
        return _supervise(process, record_path, time_limit)
    except _Stop as stop:  # process form: a signal to the wrapper, passed on to the stage
        return _stopped(_outcome(_stop(process, stop.signum)), stop.signum)


def _stopped(outcome: Outcome, signum: int) -> Outcome:
    """A stage told to stop did not finish, even if it exits 0 (a checkpoint on SIGTERM, say,
    before a preemption): it is killed, by the signal that ended it or the one it was sent."""
    if outcome.signal or outcome.timed_out:
        return outcome
    return Outcome(outcome.code or 128 + signum, signal.Signals(signum).name)


def _signal_name(status: int) -> str | None:
    """The signal a wait status names: negative for the stage's shell itself, 129-192 for a
    command the shell ran (the shell's own convention, as `kill -9` of a training shows)."""
    number = -status if status < 0 else status - 128
    if status < 0 or 128 < status <= 128 + 64:
        try:
            return signal.Signals(number).name
        except ValueError:
            return None
    return None


def _outcome(status: int) -> Outcome:
    name = _signal_name(status)
    code = 128 - status if status < 0 else status
    return Outcome(code, name, status == TIMEOUT_EXIT_CODE)


def _state(outcome: Outcome) -> StageState:
    if outcome.timed_out:  # even one that exits 0 when told to stop: it did not finish
        return StageState.TIMED_OUT
    if outcome.code == 0:
        return StageState.DONE
    return StageState.KILLED if outcome.signal else StageState.FAILED


def _shell_job_variables(threads: int, tmpdir: str | None) -> dict[str, str]:
    """The variables Snakemake's shell() would set for the job: the stage gets the same."""
    environment = dict.fromkeys(THREAD_VARIABLES, str(threads))
    if tmpdir:
        environment.update(dict.fromkeys(TMPDIR_VARIABLES, tmpdir))
    return environment


# `code: snapshot` (runtime/snapshot.py, at run start): the snapshot's copy of the sweep's
# directory, where the stage starts, and its name, which the record keeps.
CODE_DIR, CODE_ID, ROOT = "EXPTFLOW_CODE_DIR", "EXPTFLOW_CODE", "EXPTFLOW_ROOT"
# `cache: true`: the stages whose `{_output}/<stage>` Snakemake's output cache stores (set by
# the Snakefile of a sweep that caches).
CACHED_STAGES = "EXPTFLOW_CACHED_STAGES"


def _environment(
    request: StageRequest, paths: ExperimentPaths, devices: str | None, stamp: str
) -> dict:
    environ = dict(os.environ)
    environ.update(request.environment)
    snapshot = environ.get(CODE_DIR)
    environ.update(
        # A stage started in a snapshot reaches its directory from there too.
        EXPTFLOW_DIR=os.path.abspath(paths.directory) if snapshot else str(paths.directory),
        EXPTFLOW_STAGE=request.stage,
        EXPTFLOW_TIME=stamp,
    )
    environ.setdefault(ROOT, os.getcwd())  # the original checkout, in both modes
    if devices is not None:
        environ["CUDA_VISIBLE_DEVICES"] = devices
    return environ


_provenance: dict[str, dict[str, Any]] = {}  # per run directory: read once per process

# Cleared while this process captures the run's provenance (``hooks.before_run`` does it
# beside the first stages): a finishing stage waits for git.json to record the commit.
provenance_ready = threading.Event()
provenance_ready.set()
PROVENANCE_WAIT_SECONDS = 300.0


def _run_provenance() -> dict[str, Any]:
    run_dir = os.environ.get("EXPTFLOW_RUN_DIR")
    if not run_dir:
        return {}
    provenance_ready.wait(PROVENANCE_WAIT_SECONDS)
    if run_dir not in _provenance:
        git = read_json(RunPaths(run_dir).git) or {}
        keep = ("commit", "branch", "dirty")
        summary = {key: git.get(key) for key in keep} if git else None
        _provenance[run_dir] = {"run": run_dir, "git": summary}
    return _provenance[run_dir]


def _devices(request: StageRequest) -> tuple[str | None, Slot | None]:
    if under_cluster_scheduler(os.environ):  # keep the GPUs it gave (or none), never slots
        return os.environ.get("CUDA_VISIBLE_DEVICES"), None
    if request.no_gpu:
        return "", None
    if not request.slots:
        return None, None
    slot = acquire(request.slots, gpu_lock_dir())
    return slot.devices, slot


def _start(
    request: StageRequest,
    paths: ExperimentPaths,
    held: list[int],
    slot: Slot | None,
    devices: str | None,
):
    """Record the stage as running, then start it in its own process group, reaped if this
    process dies."""
    started = time.time()
    stamp = time.strftime(TIME_FORMAT, time.localtime(started))
    log, log_descriptor = _open_log(paths, request.stage, stamp)
    _link_latest_log(paths, request.stage, log)
    killed_marker = paths.killed_marker(request.stage)
    killed_marker.unlink(missing_ok=True)
    record = StageRecord(
        stage=request.stage,
        state=StageState.RUNNING,
        command=request.command,
        log=log.name,
        start=started,
        host=os.uname().nodename,
        # What records the end; `exptflow status` tells it from a later process of that pid.
        pid=os.getpid(),
        pid_start=supervision.own_start_time(),
        cuda_visible_devices=devices,
        slot_lock=str(slot.lock) if slot else None,
        slurm_job_id=os.environ.get("SLURM_JOB_ID"),
        run_id=os.environ.get("EXPTFLOW_RUN_ID"),
        time_limit=request.time_limit,
        code=os.environ.get(CODE_ID),
    )
    reaper = supervision.reaper_pipe()
    try:
        write_record(paths, record)  # before the stage: none runs unrecorded
        process = subprocess.Popen(
            [
                "bash",
                "-o",
                "pipefail",
                "-c",
                supervision.enlist_prefix(reaper, killed_marker) + request.command,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_descriptor,
            stderr=subprocess.STDOUT,
            cwd=os.environ.get(CODE_DIR) or None,
            env=_environment(request, paths, devices, stamp),
            pass_fds=(*held, reaper),  # the stage holds the locks too
            start_new_session=True,  # its own group: its reaper and a time limit end all of it
        )
    finally:
        os.close(log_descriptor)
    supervision.register(process.pid)
    return process, record, log


def _finish(
    paths: ExperimentPaths, record: StageRecord, outcome: Outcome, state: StageState
) -> StageRecord:
    ended = time.time()
    record = record._replace(
        state=state,
        reason=CANCEL_REASON if state == StageState.CANCELLED else None,
        exit_code=outcome.code,
        end=ended,
        duration=round(ended - record.start, 3),
        signal=outcome.signal,
        **_run_provenance(),
    )
    write_record(paths, record)
    # Right after the record: `exptflow run` repairs a kill between the two.
    if record.state == StageState.DONE:
        paths.done(record.stage).touch()
    append_history(paths, record)
    return record


def _still_running(paths: ExperimentPaths, stage: str) -> str:
    record = read_record(paths, stage) or StageRecord(stage, StageState.PENDING)
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.start or 0))
    return (
        f"exptflow: stage {stage} of {paths.directory} is still running in another run "
        f"(pid {record.pid or '?'} on {record.host or '?'}, since {since}); "
        "refusing to start a second copy beside it: wait for it to end, or stop that run"
    )


def _describe(record: StageRecord, paths: ExperimentPaths, log: Path) -> str:
    return f"exptflow: stage {record.stage} of {paths.directory} {how_it_ended(record)}; log: {log}"


def _supervised_run(
    request: StageRequest, paths: ExperimentPaths, held: list[int], forward_signals: bool
) -> tuple[int, str]:
    devices, slot = _devices(request)
    if slot:
        held.append(slot.descriptor)
    process, record, log = _start(request, paths, held, slot, devices)
    try:
        if forward_signals:
            _forward_signals(process)
        if cancel_requested(paths):  # asked while it started: `exptflow cancel` missed it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
        outcome = _wait(process, paths.record(request.stage), request.time_limit)
    finally:
        supervision.unregister(process.pid)
    stopping = supervision.stop_signal()  # in Snakemake's threads: a Ctrl-C passed on
    if stopping is not None:
        outcome = _stopped(outcome, stopping)
    state = _state(outcome)
    if state != StageState.DONE and cancel_requested(paths):
        state = StageState.CANCELLED
    record = _finish(paths, record, outcome, state)
    if record.state == StageState.DONE:
        return 0, ""
    return outcome.code or 1, _describe(record, paths, log)


CANCEL_REASON = "exptflow cancel"


def cancel_requested(paths: ExperimentPaths) -> bool:
    """Whether ``exptflow cancel`` asked the live run to stop this experiment: the request
    names that run's Snakemake, so a later run ignores it."""
    request = read_json(paths.cancel_request)
    if not isinstance(request, dict) or not isinstance(request.get("pid"), int):
        return False
    if request.get("host") != os.uname().nodename:  # a pid of another host tells nothing
        return False
    return supervision.is_alive(request["pid"], request.get("pid_start"))


def _record_cancelled(request: StageRequest, paths: ExperimentPaths) -> tuple[int, str]:
    """The stage of a cancelled experiment that was to start: recorded, never run."""
    now = time.time()
    record = StageRecord(
        stage=request.stage,
        state=StageState.CANCELLED,
        command=request.command,
        start=now,
        end=now,
        duration=0.0,
        host=os.uname().nodename,
        run_id=os.environ.get("EXPTFLOW_RUN_ID"),
        reason=CANCEL_REASON,
    )
    write_record(paths, record)  # no history line: it did not run
    return 1, f"exptflow: stage {request.stage} of {paths.directory} {how_it_ended(record)}"


def execute_stage(request: StageRequest, forward_signals: bool = False) -> tuple[int, str]:
    """Run one stage: its exit code, and what to tell the user when it is not 0.

    ``forward_signals`` (main thread of the process form only) passes SIGINT/SIGTERM/SIGHUP
    on to the stage; in Snakemake's threads, ``supervision.forward_signals`` does.
    """
    paths = ExperimentPaths(request.directory)
    paths.meta.mkdir(parents=True, exist_ok=True)
    if request.stage in os.environ.get(CACHED_STAGES, "").split(","):
        paths.stage_directory(request.stage).mkdir(exist_ok=True)  # what the cache stores
    conflict = claim_directory(paths, request.params)
    if conflict:
        return 2, conflict
    lock = supervision.lock_stage(paths.stage_lock(request.stage))
    if lock is None:
        return 1, _still_running(paths, request.stage)
    held = [lock]
    try:
        if cancel_requested(paths):
            return _record_cancelled(request, paths)
        discard_stale_checkpoint(paths, request.stage, request.command)
        return _supervised_run(request, paths, held, forward_signals)
    finally:
        for descriptor in held:
            os.close(descriptor)


def discard_stale_checkpoint(paths: ExperimentPaths, stage: str, command: str) -> None:
    """A stage resumes from its checkpoint only when retried: same command, not finished."""
    checkpoint = paths.checkpoint(stage)
    if not checkpoint.exists():
        return
    record = read_record(paths, stage)
    if record is None or record.command != command or record.state == StageState.DONE:
        checkpoint.unlink(missing_ok=True)


def _io_failure(request: StageRequest, error: OSError) -> str:
    """A full disk or a read-only directory: say so; only this job fails."""
    where = error.filename or request.directory
    return (
        f"exptflow: stage {request.stage} of {request.directory} failed: "
        f"cannot write {where}: {error.strerror}"
    )


def run_in_snakemake(
    stage: str,
    directory: str,
    command: str,
    params: dict[str, Any],
    slots: Sequence[str],
    gpu: bool,
    threads: int,
    tmpdir: str | None,
    time_limit: float | None = None,
) -> None:
    """Run a stage in a thread of Snakemake (a rule's ``run:``); raise StageFailed if it fails.

    The stage gets what Snakemake's shell() would give it: OMP_NUM_THREADS & co., TMPDIR.
    """
    request = StageRequest(
        stage=stage,
        directory=directory,
        command=command,
        params=params,
        slots=list(slots) if gpu else [],
        no_gpu=bool(slots) and not gpu,
        environment=_shell_job_variables(max(threads, 1), tmpdir),
        time_limit=time_limit,
    )
    try:
        code, message = execute_stage(request)
    except OSError as error:
        raise StageFailed(_io_failure(request, error)) from None
    if code:
        raise StageFailed(message)


def main(argv: Sequence[str] | None = None) -> int:
    request = Arguments(sys.argv[1:] if argv is None else argv).request
    try:
        code, message = execute_stage(request, forward_signals=True)
    except OSError as error:
        print(_io_failure(request, error), file=sys.stderr)
        return EX_IOERR
    if code:
        print(message, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""The job wrapper: what every generated rule runs, once per stage of each experiment.

It takes a free GPU slot, runs the stage's command with its output in
``D/log.<stage>.<YYYYmmdd.HHMMSS>``, records the stage's state atomically, and writes the
stage's ``.done`` file (what Snakemake waits for) only after exit 0.

Snakemake runs it in its own process, one thread per job (``run_in_snakemake``, from the
generated rules' ``run:``): a Python start-up per job would cost more than Snakemake's own
per-job work. ``python -m exptflow.job --stage S --directory D --command C --params P
[--slots J] [--no-gpu]`` runs the same as a process: the stages packed into one cluster
submission use it, since Snakemake starts a whole Snakemake for each ``run:`` member of a group.

Stdlib only: it never imports yaml, pandas, snakemake or git.
"""

from __future__ import annotations

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

from exptflow.paths import ExperimentPaths, RunPaths, gpu_lock_dir
from exptflow.records import append_line, canonical, read_json, write_json
from exptflow.slots import Slot, acquire, under_cluster_scheduler

# typing costs milliseconds at import and the process form imports this module: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


STOP_GRACE_SECONDS = 10.0
TIME_FORMAT = "%Y%m%d.%H%M%S"
EX_IOERR = 74

# One stage run of one experiment: params a dict, slots the `resource` list (empty: no slots),
# environment the variables to set for the stage on top of this process's.
StageRequest = namedtuple(
    "StageRequest",
    ["stage", "directory", "command", "params", "slots", "no_gpu", "environment"],
    defaults=[{}],
)
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
    "usage: python -m exptflow.job --stage S --directory D --command C --params JSON "
    "[--slots JSON] [--no-gpu]"
)
OPTIONS = {"--stage", "--directory", "--command", "--params", "--slots"}


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
        missing = OPTIONS - {"--slots"} - set(values)
        if missing:
            _usage(f"missing {', '.join(sorted(missing))}")
        self.request = StageRequest(
            stage=values["--stage"],
            directory=values["--directory"],
            command=values["--command"],
            params=json.loads(values["--params"]),
            slots=json.loads(values.get("--slots") or "[]"),
            no_gpu=self.no_gpu,
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


def _forward_signals(process: subprocess.Popen[bytes]) -> None:
    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if process.poll() is None:
            process.send_signal(signum)
        if not stopping:
            stopping.append(signum)
            raise _Stop(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)


def _wait(process: subprocess.Popen[bytes]) -> tuple[int, str | None]:
    """The exit code, and the signal that stopped the job, if one did."""
    try:
        code = process.wait()
    except _Stop as stop:
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return 128 + stop.signum, signal.Signals(stop.signum).name
    if code < 0:  # the stage itself was killed by a signal (Ctrl-C reaches the whole group)
        return 128 - code, signal.Signals(-code).name
    return code, None


def _shell_job_variables(threads: int, tmpdir: str | None) -> dict[str, str]:
    """The variables Snakemake's shell() would set for the job: the stage gets the same."""
    environment = dict.fromkeys(THREAD_VARIABLES, str(threads))
    if tmpdir:
        environment.update(dict.fromkeys(TMPDIR_VARIABLES, tmpdir))
    return environment


def _environment(
    request: StageRequest, paths: ExperimentPaths, devices: str | None, stamp: str
) -> dict:
    environ = dict(os.environ)
    environ.update(request.environment)
    environ.update(
        EXPTFLOW_DIR=str(paths.directory),
        EXPTFLOW_STAGE=request.stage,
        EXPTFLOW_TIME=stamp,
    )
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


def _devices(request: StageRequest) -> tuple[str | None, Slot | None]:  # type: ignore[valid-type]
    if under_cluster_scheduler(os.environ):  # keep the GPUs it gave (or none), never slots
        return os.environ.get("CUDA_VISIBLE_DEVICES"), None
    if request.no_gpu:
        return "", None
    if not request.slots:
        return None, None
    slot = acquire(request.slots, gpu_lock_dir())
    return slot.devices, slot


def _start(request: StageRequest, paths: ExperimentPaths, slot: Slot | None, devices: str | None):  # type: ignore[valid-type]
    started = time.time()
    stamp = time.strftime(TIME_FORMAT, time.localtime(started))
    log, log_descriptor = _open_log(paths, request.stage, stamp)
    record: dict[str, Any] = {
        "stage": request.stage,
        "state": "running",
        "command": request.command,
        "log": log.name,
        "start": started,
        "host": os.uname().nodename,
        "pid": os.getpid(),  # what records the end: if it is gone, `exptflow status` says killed
        "cuda_visible_devices": devices,
        "slot_lock": str(slot.lock) if slot else None,
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "run_id": os.environ.get("EXPTFLOW_RUN_ID"),
    }
    try:
        write_json(paths.record(request.stage), record)  # before the stage: none runs unrecorded
        process = subprocess.Popen(
            ["bash", "-o", "pipefail", "-c", request.command],
            stdin=subprocess.DEVNULL,
            stdout=log_descriptor,
            stderr=subprocess.STDOUT,
            env=_environment(request, paths, devices, stamp),
            pass_fds=(slot.descriptor,) if slot else (),  # the stage holds the slot too
        )
    finally:
        os.close(log_descriptor)
    return process, record, log


def _finish(paths: ExperimentPaths, record: dict[str, Any], code: int, signal_name: str | None):
    ended = time.time()
    record.update(
        state="done" if code == 0 else "failed",
        exit_code=code,
        end=ended,
        duration=round(ended - record["start"], 3),
        signal=signal_name,
        **_run_provenance(),
    )
    write_json(paths.record(record["stage"]), record)
    if code == 0:  # right after the record: `exptflow run` repairs a kill between the two
        paths.done(record["stage"]).touch()
    append_line(paths.history, record)


def run_stage(request: StageRequest, forward_signals: bool = False) -> tuple[int, str]:
    """Run one stage: its exit code, and what to tell the user when it is not 0.

    ``forward_signals`` (main thread of the process form only) passes SIGINT/SIGTERM/SIGHUP
    on to the stage; in Snakemake's threads the stage, in Snakemake's process group, gets
    them from the terminal or from ``exptflow run`` directly.
    """
    paths = ExperimentPaths(request.directory)
    paths.meta.mkdir(parents=True, exist_ok=True)
    conflict = claim_directory(paths, request.params)
    if conflict:
        return 2, conflict
    devices, slot = _devices(request)
    try:
        process, record, log = _start(request, paths, slot, devices)
        if forward_signals:
            _forward_signals(process)
        code, signal_name = _wait(process)
        _finish(paths, record, code, signal_name)
    finally:
        if slot:
            os.close(slot.descriptor)
    if code == 0:
        return 0, ""
    reason = f"was stopped by {signal_name}" if signal_name else f"exited with code {code}"
    return code, f"exptflow: stage {request.stage} of {paths.directory} {reason}; log: {log}"


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
        environment=_shell_job_variables(threads, tmpdir),
    )
    try:
        code, message = run_stage(request)
    except OSError as error:
        raise StageFailed(_io_failure(request, error)) from None
    if code:
        raise StageFailed(message)


def main(argv: Sequence[str] | None = None) -> int:
    request = Arguments(sys.argv[1:] if argv is None else argv).request
    try:
        code, message = run_stage(request, forward_signals=True)
    except OSError as error:
        print(_io_failure(request, error), file=sys.stderr)
        return EX_IOERR
    if code:
        print(message, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""The job wrapper: what every generated rule runs, once per stage of each experiment.

``python -m exptflow.job --stage S --directory D --command C --params P [--slots J]``

It takes a free GPU slot, runs the stage's command with its output in
``D/log.<stage>.<YYYYmmdd.HHMMSS>``, records the stage's state atomically, and writes the
stage's ``.done`` file (what Snakemake waits for) only after exit 0.

Stdlib only: it starts thousands of times, so it never imports yaml, pandas, snakemake or git.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from exptflow.paths import ExperimentPaths, RunPaths, gpu_lock_dir
from exptflow.records import append_line, canonical, read_json, write_json
from exptflow.slots import Slot, acquire, under_cluster_scheduler

# typing costs milliseconds at import and every job imports this module: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


STOP_GRACE_SECONDS = 10.0
TIME_FORMAT = "%Y%m%d.%H%M%S"


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
        self.stage = values["--stage"]
        self.directory = values["--directory"]
        self.command = values["--command"]
        self.params = values["--params"]
        self.slots = values.get("--slots")


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


def _open_log(paths: ExperimentPaths, stage: str, started: float) -> tuple[Path, int]:
    stamp = time.strftime(TIME_FORMAT, time.localtime(started))
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
        return process.wait(), None
    except _Stop as stop:
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return 128 + stop.signum, signal.Signals(stop.signum).name


def _environment(paths: ExperimentPaths, stage: str, devices: str | None, stamp: str) -> dict:
    environ = dict(os.environ)
    environ.update(
        EXPTFLOW_DIR=str(paths.directory),
        EXPTFLOW_STAGE=stage,
        EXPTFLOW_TIME=stamp,
    )
    if devices is not None:
        environ["CUDA_VISIBLE_DEVICES"] = devices
    return environ


def _run_provenance() -> dict[str, Any]:
    run_dir = os.environ.get("EXPTFLOW_RUN_DIR")
    if not run_dir:
        return {}
    git = read_json(RunPaths(run_dir).git) or {}
    keep = ("commit", "branch", "dirty")
    return {"run": run_dir, "git": {key: git.get(key) for key in keep} if git else None}


def _devices(args: Arguments) -> tuple[str | None, Slot | None]:  # type: ignore[valid-type]
    if under_cluster_scheduler(os.environ):  # keep the GPUs it gave (or none), never slots
        return os.environ.get("CUDA_VISIBLE_DEVICES"), None
    if args.no_gpu:
        return "", None
    if not args.slots:
        return None, None
    slot = acquire(json.loads(args.slots), gpu_lock_dir())
    return slot.devices, slot


def run_stage(args: Arguments) -> int:
    paths = ExperimentPaths(args.directory)
    paths.meta.mkdir(parents=True, exist_ok=True)
    conflict = claim_directory(paths, json.loads(args.params))
    if conflict:
        print(conflict, file=sys.stderr)
        return 2
    devices, slot = _devices(args)
    started = time.time()
    log, log_descriptor = _open_log(paths, args.stage, started)
    stamp = time.strftime(TIME_FORMAT, time.localtime(started))
    record: dict[str, Any] = {
        "stage": args.stage,
        "state": "running",
        "command": args.command,
        "log": log.name,
        "start": started,
        "host": os.uname().nodename,
        "pid": os.getpid(),
        "cuda_visible_devices": devices,
        "slot_lock": str(slot.lock) if slot else None,
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "run_id": os.environ.get("EXPTFLOW_RUN_ID"),
        **_run_provenance(),
    }
    write_json(paths.record(args.stage), record)
    keep_open = (slot.descriptor,) if slot else ()
    process = subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", args.command],
        stdin=subprocess.DEVNULL,
        stdout=log_descriptor,
        stderr=subprocess.STDOUT,
        env=_environment(paths, args.stage, devices, stamp),
        pass_fds=keep_open,  # the child holds the slot too, even if the wrapper dies
    )
    os.close(log_descriptor)
    _forward_signals(process)
    code, stopped_by = _wait(process)
    ended = time.time()
    record.update(
        state="done" if code == 0 else "failed",
        exit_code=code,
        end=ended,
        duration=round(ended - started, 3),
        signal=stopped_by,
    )
    write_json(paths.record(args.stage), record)
    append_line(paths.history, record)
    if code == 0:
        paths.done(args.stage).touch()
    else:
        reason = f"was stopped by {stopped_by}" if stopped_by else f"exited with code {code}"
        print(
            f"exptflow: stage {args.stage} of {paths.directory} {reason}; log: {log}",
            file=sys.stderr,
        )
    return code


def main(argv: Sequence[str] | None = None) -> int:
    arguments = Arguments(sys.argv[1:] if argv is None else argv)
    try:
        return run_stage(arguments)
    except OSError as error:  # a full disk or a read-only directory: say so, fail this job only
        where = error.filename or arguments.directory
        print(
            f"exptflow: stage {arguments.stage} of {arguments.directory} failed: "
            f"cannot write {where}: {error.strerror}",
            file=sys.stderr,
        )
        return 74  # EX_IOERR


if __name__ == "__main__":
    sys.exit(main())

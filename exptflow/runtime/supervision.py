"""Who owns a stage's processes, and how they end with their owner.

A stage's command runs in its own process group. Each supervising process (Snakemake, or a
wrapper process) has one reaper: a small shell in its own session that reads, from a pipe,
the groups of the stages started and ended. When the supervisor dies, even by ``kill -9``
(the OOM killer's usual pick: Snakemake is the big process), the kernel closes the pipe, and
the reaper marks each stage still listed as killed and kills its whole group, so no stage
outlives its supervisor. A stage lists itself, as the first thing its shell does, through a
copy of the pipe it holds until then: a supervisor dying while a stage starts leaves no gap.
Signals a user sends to Snakemake (Ctrl-C, ``kill -TERM``) are passed on to the stage groups
by ``forward_signals``.

An exclusive ``flock`` per (experiment, stage), inherited by the stage's processes, keeps a
second run from starting the stage while any process of the first still lives: the kernel
drops it when the last of them dies.

Stdlib only: the job wrapper imports it in every job.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shlex
import signal
import subprocess
import threading
import time

# typing costs milliseconds at import and the process form imports this module: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

# A stage whose owner died is still being killed for a moment: a second run waits this long
# for its lock before it gives up on that stage.
LOCK_WAIT_SECONDS = 5.0
LOCK_POLL_SECONDS = 0.05
# A running stage's record is touched this often: `exptflow status` on another host than the
# stage's tells a live stage from a lost one by it.
HEARTBEAT_SECONDS = 30.0
# A stage told to stop (Ctrl-C, SIGTERM, its time limit) that still runs this long after is
# killed: a shell between two commands may survive SIGINT (bash waits for its child, then
# carries on if the child did not die of it), and Snakemake would wait for it forever.
STOP_GRACE_SECONDS = float(os.environ.get("EXPTFLOW_STOP_GRACE_SECONDS", "10"))
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# Lines "+ GROUP MARKER" (a stage started) and "- GROUP" (it ended under its supervisor's eye);
# at end of input, every group still listed lost its supervisor.
REAPER = r"""
trap '' INT TERM HUP
declare -A live
while read -r op group marker; do
  case $op in
    +) live[$group]=$marker ;;
    -) unset "live[$group]" ;;
  esac
done
for group in "${!live[@]}"; do
  : > "${live[$group]}"
  kill -KILL -- "-$group"
done
""".strip()

_live_groups: set[int] = set()  # process groups of the stages this process supervises
# Reentrant: a signal handler may take it in the thread that holds it (the process form).
_groups_lock = threading.RLock()
# The signal passed on to the stages, once one was: a stage starting after it gets it too.
_stopping: list[int] = []
_reaper: dict[int, subprocess.Popen[bytes]] = {}  # by the pid of the process it watches


def reaper_pipe() -> int:
    """The write end of the pipe to this process's reaper (started on first use)."""
    with _groups_lock:
        reaper = _reaper.get(os.getpid())
        if reaper is None or reaper.poll() is not None:  # first use, or killed by hand
            reaper = subprocess.Popen(
                ["bash", "-c", REAPER],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a signal to this process's group spares it
            )
            _reaper[os.getpid()] = reaper
    return reaper.stdin.fileno()  # type: ignore[union-attr]


def enlist_prefix(pipe: int, killed_marker: Path) -> str:
    """Shell text run before the stage's command, on its first line (its line numbers stay):
    the stage lists its own group with the reaper, then closes its copy of the pipe."""
    marker = shlex.quote(os.path.abspath(killed_marker))
    return f'trap "" PIPE; echo "+ $$ "{marker} >&{pipe}; trap - PIPE; exec {pipe}>&-; '


def register(group: int) -> None:
    with _groups_lock:
        _live_groups.add(group)
        stopping = _stopping[-1] if _stopping else None
    if stopping is not None:  # it started while the run was being stopped
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, stopping)


def unregister(group: int) -> None:
    """The stage ended: end what it left running, and strike it off the reaper's list."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
    with _groups_lock:
        _live_groups.discard(group)
        reaper = _reaper.get(os.getpid())
        if reaper is not None:
            with contextlib.suppress(OSError):  # a reaper killed by hand: nothing to tell
                os.write(reaper.stdin.fileno(), f"- {group}\n".encode())  # type: ignore[union-attr]


def signal_stages(signum: int) -> None:
    with _groups_lock:
        groups = list(_live_groups)
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signum)


def forward_signals() -> None:
    """Pass SIGINT/SIGTERM/SIGHUP on to every stage, then to the handler already installed.

    Called in Snakemake's main thread once its scheduler has set its own handlers (the
    ``onstart`` hook): stages live in their own process groups, so a Ctrl-C in the terminal
    reaches only Snakemake, which would otherwise wait for them to finish.
    """
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        previous = signal.getsignal(signum)
        if previous in (signal.SIG_IGN, None) or getattr(previous, "forwards", False):
            continue  # ignored (`nohup`), set outside Python, or passed on already
        signal.signal(signum, _forwarder(previous))
    _start_escalation()


def _forwarder(previous: object) -> Callable[[int, object], None]:
    def forward(signum: int, frame: object) -> None:
        with _groups_lock:
            first = not _stopping
            _stopping.append(signum)
        signal_stages(signum if first else signal.SIGKILL)  # a second signal kills
        _stop_requested.set()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    forward.forwards = True  # type: ignore[attr-defined]
    return forward


_stop_requested = threading.Event()  # set by the first signal passed on to the stages
_escalation: dict[int, threading.Thread] = {}  # by pid: one per supervising process


def _start_escalation() -> None:
    """Start, ahead of any signal, the thread that kills the stages outliving one.

    Started here, not in the signal handler: starting a thread there could deadlock with
    the main thread interrupted while it holds threading's own lock (Snakemake's main
    thread starts a timer every scheduling round).
    """
    with _groups_lock:
        if os.getpid() in _escalation:
            return
        thread = threading.Thread(target=_escalate, name="exptflow-stop", daemon=True)
        _escalation[os.getpid()] = thread
    thread.start()


def _escalate() -> None:
    """SIGKILL, a grace period after the first stop signal, every stage still running."""
    _stop_requested.wait()
    time.sleep(STOP_GRACE_SECONDS)  # the grace period itself: stages shut down meanwhile
    with _groups_lock:
        _stopping.append(signal.SIGKILL)  # a stage starting after this is killed at once
    signal_stages(signal.SIGKILL)


def stop_signal() -> int | None:
    """The first signal passed on to the stages, if one was: the run is being stopped."""
    with _groups_lock:
        return _stopping[0] if _stopping else None


def started_at(pid: int) -> float | None:
    """When process ``pid`` started, in seconds since the epoch (None: unknown)."""
    ticks = process_start_time(pid)
    try:
        with open("/proc/stat", "rb") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith(b"btime "))
    except (OSError, StopIteration, ValueError):
        return None
    return None if ticks is None else boot + ticks / os.sysconf("SC_CLK_TCK")


def parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` for a child that must not outlive this process, even its ``kill -9``.

    Linux's parent-death signal (None elsewhere). A parent gone before the child set it
    kills the child at once. Only for a single-threaded parent: ``preexec_fn`` is unsafe
    beside threads.
    """
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return die_with_parent


def _stat(pid: int) -> list[bytes] | None:
    """Fields 3 onwards of ``/proc/PID/stat`` (field 3 is the state)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its end.
    return stat[stat.rindex(b")") + 2 :].split()


_own_start: dict[int, int | None] = {}


def own_start_time() -> int | None:
    """``process_start_time`` of this process, read once."""
    pid = os.getpid()
    if pid not in _own_start:
        _own_start[pid] = process_start_time(pid)
    return _own_start[pid]


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks after boot: a pid and this name one process."""
    fields = _stat(pid)
    return None if fields is None else int(fields[19])


def is_alive(pid: int, started: int | None) -> bool:
    """Whether process ``pid`` lives and is the one that started at ``started`` (if known).

    A zombie is dead: a killed Snakemake whose parent died too may wait long to be reaped.
    """
    fields = _stat(pid)
    if fields is not None:
        return fields[0] not in (b"Z", b"X") and started in (None, int(fields[19]))
    if not os.path.exists("/proc/self/stat"):  # no /proc here: the pid alone must do
        return pid_exists(pid)
    return False


def pid_exists(pid: int) -> bool:
    """Whether ``pid`` exists (``-group``: whether any process of ``group`` does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_stage(path: Path) -> int | None:
    """Hold the stage's lock (a descriptor), waiting briefly for a dying previous run."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return descriptor
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(descriptor)
                return None
            time.sleep(LOCK_POLL_SECONDS)


def wait_exit(process: subprocess.Popen[bytes], timeout: float | None) -> int | None:
    """The exit status, or None once ``timeout`` seconds passed first.

    A pidfd wakes exactly when the process exits: ``Popen.wait(timeout)`` polls, and each
    poll delays a stage's end by up to 50 ms.
    """
    if timeout is None:
        return process.wait()
    try:
        descriptor = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # not Linux 5.3+: poll
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
    try:
        poller = select.poll()
        poller.register(descriptor, select.POLLIN)
        if not poller.poll(max(timeout, 0.0) * 1000):
            return None
    finally:
        os.close(descriptor)
    return process.wait()

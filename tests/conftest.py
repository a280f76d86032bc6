"""Shared helpers: real sweep files in temporary directories, real exptflow and snakemake runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the one SLURM cluster run in turn (one xdist group): side by side they
    would wait on each other's jobs for the cluster's GPUs and cores."""
    for item in items:
        if any(
            str(mark.kwargs.get("reason", "")).startswith("no SLURM cluster")
            for mark in item.iter_markers("skipif")
        ):
            item.add_marker(pytest.mark.xdist_group("slurm"))


def _own_directory(
    factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, variable: str
) -> Path:
    directory = factory.mktemp(variable.lower())
    monkeypatch.setenv(variable, str(directory))
    return directory


@pytest.fixture(autouse=True)
def isolated_gpu_locks(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test gets its own GPU lock directory (the default is shared by the machine)."""
    return _own_directory(tmp_path_factory, monkeypatch, "EXPTFLOW_LOCK_DIR")


@pytest.fixture(autouse=True)
def isolated_output_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test gets its own Snakemake output cache (the default is the user's)."""
    return _own_directory(tmp_path_factory, monkeypatch, "SNAKEMAKE_OUTPUT_CACHE")


def git(directory: Path, *args: str) -> str:
    """Run git in ``directory`` as a test user; its output."""
    identity = ["-c", "user.email=test@example.com", "-c", "user.name=test"]
    result = subprocess.run(
        ["git", *identity, *args], cwd=directory, capture_output=True, text=True, check=True
    )
    return result.stdout


def write_sweep(directory: Path, text: str, name: str = "params.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def _run(command: list[str], directory: Path, check: bool) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def exptflow(directory: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "exptflow.cli", *args], directory, check)


def snakemake(directory: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "snakemake", *args], directory, check)


def records(directory: Path, output: str = "output") -> list[dict]:
    """Every stage record of every experiment under ``directory/output``."""
    return [
        json.loads(path.read_text())
        for path in sorted((directory / output).glob("*/.exptflow/stage.*.json"))
    ]


def history(directory: Path, output: str = "output") -> list[dict]:
    """Every finished stage run, from the append-only histories."""
    lines = []
    for path in sorted((directory / output).glob("*/.exptflow/history.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines()]
    return lines


def executions(counter: Path) -> list[str]:
    return counter.read_text().split() if counter.exists() else []


@pytest.fixture
def chdir_tmp(tmp_path: Path) -> Iterator[Path]:
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(previous)


def wait_for(condition: Callable[[], object], timeout: float = 120.0, what: str = "") -> None:
    """Poll a condition on files or processes: the synchronisation, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def no_process_outlives_its_test(tmp_path: Path) -> Iterator[None]:
    """A failed test may leave a run going in its directory: end it, so that it does not load
    the machine under the tests after it."""
    yield
    for line in processes_in(tmp_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def processes_in(directory: Path) -> list[str]:
    """``pid command`` of every live process working in ``directory`` or below (from /proc)."""
    target = directory.resolve()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            cwd = Path(os.readlink(entry / "cwd"))
            if command and (cwd == target or target in cwd.parents):
                found.append(f"{entry.name} {command}")
        except OSError:
            continue
    return found


def as_a_terminal_job() -> None:
    """Ctrl-C and Ctrl-\\ as a terminal's foreground job has them: a test suite started in the
    background of a non-interactive shell (as CI may be) inherits both ignored, and Python
    then leaves SIGINT ignored too."""
    for signum in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)


def start(directory: Path, *command: str) -> subprocess.Popen[str]:
    """A command in its own session (a terminal's job: a group signal reaches it alone)."""
    return subprocess.Popen(
        list(command),
        cwd=directory,
        start_new_session=True,
        preexec_fn=as_a_terminal_job,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def state_of(directory: Path, name: str, stage: str, output: str = "output") -> str | None:
    path = directory / output / name / ".exptflow" / f"stage.{stage}.json"
    try:
        return json.loads(path.read_text())["state"]
    except (FileNotFoundError, json.JSONDecodeError):
        return None

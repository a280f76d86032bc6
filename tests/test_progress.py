"""``exptflow run``'s progress display and failure reports, and ``exptflow status --watch``:
real runs, on a pipe and under a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import executions, exptflow, write_sweep
from exptflow.layout.record import StageRecord
from exptflow.layout.states import StageState
from exptflow.results.progress import Progress, eta, progress_of

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

FAILING = """
    template:
      train: >
        echo {a} >> trained &&
        python -c "import os, sys; [print('line', i) for i in range(30)];
        sys.exit(3 if {a} == 2 and not os.path.exists('fixed') else 0)"
      test: echo {a} >> tested
    ---
    a: [1, 2, 3]
    """


@pytest.mark.slow
def test_a_failed_stage_explains_itself_and_reruns_alone(tmp_path: Path) -> None:
    write_sweep(tmp_path, FAILING)
    result = exptflow(tmp_path, "run", check=False)
    shown = result.stdout + result.stderr

    assert result.returncode != 0
    assert "done a=1: stage train, " in shown and "done a=3: stage test, " in shown
    failure = shown[shown.index("FAILED a=2") :]
    assert failure.startswith("FAILED a=2: stage train exited with code 3 after ")
    assert "  last 20 lines of output/a=2/log.train." in failure
    assert "  | line 29\n" in failure and "  | line 10\n" in failure
    assert "  | line 9\n" not in failure
    for internal in ("Traceback", "RuleException", "Snakefile", "job.py"):
        assert internal not in shown
    assert (
        "1 experiment(s) failed:\n"
        "  a=2  stage train exited with code 3\n"
        "rerun just them: exptflow run -- output/a=2/.exptflow/test.done\n"
    ) in shown
    last = shown.strip().splitlines()[-1]
    assert re.fullmatch(
        r"exptflow: finished in 0:\d\d: 4 of 6 stages done, 1 failed, 1 skipped", last
    )
    log = next((tmp_path / "output/.exptflow/runs").glob("*/snakemake.log"))
    assert "Error in rule train" in log.read_text()  # Snakemake's own words went to its log

    (tmp_path / "fixed").touch()
    rerun = shlex.split(shown.split("rerun just them: ")[1].splitlines()[0])
    assert rerun[0] == "exptflow"
    exptflow(tmp_path, *rerun[1:])
    assert sorted(executions(tmp_path / "trained")) == ["1", "2", "2", "3"]
    assert sorted(executions(tmp_path / "tested")) == ["1", "2", "3"]


class Terminal:
    """A command on a real pseudo-terminal, and what it printed there (escapes removed)."""

    def __init__(self, command: list[str], directory: Path) -> None:
        self.controller, terminal = pty.openpty()
        environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40"}
        self.process = subprocess.Popen(
            command,
            cwd=directory,
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=environment,
        )
        os.close(terminal)
        self.raw = b""

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw.decode()).replace("\r\n", "\n")

    def read(self, until: Callable[[str], bool] = lambda _: False) -> str:
        """Until ``until`` holds for the text so far, or every holder closed the terminal."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not until(self.text):
            ready, _, _ = select.select([self.controller], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(self.controller, 65536)
            except OSError:  # EIO: every process holding the terminal has closed it
                break
            if not chunk:
                break
            self.raw += chunk
        return self.text

    def close(self) -> None:
        os.close(self.controller)


@pytest.mark.slow
def test_the_terminal_shows_one_live_table_and_a_final_line(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          train: echo {a} >> trained
          test: echo {a} >> tested
        ---
        a: [1, 2]
        """,
    )
    terminal = Terminal([sys.executable, "-m", "exptflow.cli", "run"], tmp_path)
    shown = terminal.read()
    terminal.close()
    assert terminal.process.wait(timeout=60) == 0, shown
    assert re.search(r"stage +done +running +failed +pending\n", shown), shown
    assert re.search(r"train +━+ +2 +0 +0 +0\n", shown), shown
    assert "elapsed 0:" in shown and "ETA " in shown
    last = shown.strip().splitlines()[-1]
    assert re.fullmatch(r"exptflow: finished in 0:\d\d: 4 of 4 stages done", last), shown
    assert "done a=1: stage train" not in shown  # a line per stage is for non-terminals


@pytest.mark.slow
def test_verbose_shows_snakemakes_own_output(tmp_path: Path) -> None:
    write_sweep(tmp_path, "template:\n  train: echo {a}\n---\na: [1]\n")
    result = exptflow(tmp_path, "run", "--verbose")
    assert "steps (100%) done" in result.stdout + result.stderr
    assert "Snakemake's own output goes to" not in result.stdout


@pytest.mark.slow
def test_status_watch_redraws_until_ctrl_c(tmp_path: Path) -> None:
    write_sweep(tmp_path, "template:\n  train: echo {a}\n---\na: [1, 2]\n")
    exptflow(tmp_path, "run")
    command = [sys.executable, "-m", "exptflow.cli", "status", "--watch", "0.2"]
    terminal = Terminal(command, tmp_path)
    shown = terminal.read(until=lambda text: "2 done" in text)
    assert terminal.process.poll() is None  # still watching
    terminal.process.send_signal(signal.SIGINT)
    assert terminal.process.wait(timeout=30) == 0
    terminal.close()
    assert "a=1  train done" in shown and "2 experiments, 2 stages: 2 done" in shown


def record(state: StageState, run_id: str = "now", **fields: object) -> StageRecord:
    return StageRecord("train", state, command="train.sh", run_id=run_id, **fields)


@pytest.mark.parametrize(
    ("found", "after_rerun", "expected"),
    [
        pytest.param(None, False, Progress.PENDING, id="never-started"),
        pytest.param(record(StageState.RUNNING), False, Progress.RUNNING, id="running-now"),
        pytest.param(record(StageState.DONE), True, Progress.DONE, id="done-in-this-run"),
        pytest.param(record(StageState.TIMED_OUT), False, Progress.FAILED, id="timed-out-now"),
        pytest.param(record(StageState.DONE, "before"), False, Progress.DONE, id="kept-done"),
        pytest.param(
            record(StageState.DONE, "before"), True, Progress.PENDING, id="done-before-a-rerun"
        ),
        pytest.param(
            record(StageState.FAILED, "before"), False, Progress.PENDING, id="failed-before"
        ),
        pytest.param(
            StageRecord("train", StageState.DONE, command="old.sh", run_id="before"),
            False,
            Progress.PENDING,
            id="done-with-another-command",
        ),
    ],
)
def test_a_stage_counts_for_this_run(
    found: StageRecord | None, after_rerun: bool, expected: Progress
) -> None:
    assert progress_of(found, "now", "train.sh", after_rerun) == expected


def stages(
    *entries: tuple[Progress, StageRecord | None],
) -> list[tuple[str, Progress, StageRecord | None]]:
    return [("train", progress, found) for progress, found in entries]


DONE_IN = [(Progress.DONE, record(StageState.DONE, duration=10.0)) for _ in range(2)]


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        pytest.param({"a": stages(*DONE_IN)}, 0.0, id="nothing-left"),
        pytest.param({"a": stages((Progress.PENDING, None))}, None, id="no-measure-yet"),
        pytest.param(
            {
                "a": stages(*DONE_IN, (Progress.PENDING, None)),
                "b": [("test", Progress.PENDING, None)],
            },
            10.0,
            id="at-least-the-measured",
        ),
        pytest.param(
            {"a": stages(*DONE_IN, (Progress.PENDING, None), (Progress.PENDING, None))},
            20.0,
            id="pending-one-at-a-time",
        ),
        pytest.param(
            {
                "a": stages(*DONE_IN, (Progress.RUNNING, record(StageState.RUNNING, start=96.0))),
                "b": stages((Progress.RUNNING, record(StageState.RUNNING, start=98.0))),
                "c": stages((Progress.PENDING, None)),
            },
            (6.0 + 8.0 + 10.0) / 2,
            id="shared-by-the-running",
        ),
        pytest.param(
            {"a": stages(*DONE_IN, (Progress.FAILED, None), (Progress.SKIPPED, None))},
            0.0,
            id="failed-and-skipped-are-no-work",
        ),
    ],
)
def test_eta_from_measured_durations(states: dict, expected: float | None) -> None:
    assert eta(states, now=100.0).seconds == expected

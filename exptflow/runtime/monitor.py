"""The progress of ``exptflow run`` as a person reads it: on a terminal one live table (stage by
stage: done, running, failed, pending; elapsed and ETA), elsewhere a line per ended stage; a
failure as it happens with the end of its log; at the end one line, and how to rerun what
failed. Everything comes from the stage records, polled by a thread of the driver."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from exptflow.layout.record import StageRecord
from exptflow.layout.states import StageState
from exptflow.results.failures import describe, log_tail, summary
from exptflow.results.progress import Ended, Estimate, Progress, RunWatch, eta
from exptflow.results.status import format_duration

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

POLL_SECONDS = 0.5


def clock(seconds: float) -> str:
    """``0:07``, ``12:03``, ``1:02:03``."""
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class View(Protocol):
    def ended(self, event: Ended, watch: RunWatch) -> None: ...

    def refresh(self, watch: RunWatch, elapsed: float) -> None: ...

    def close(self) -> None: ...

    def say(self, text: str) -> None: ...


def count_line(watch: RunWatch) -> str:
    """``12 of 16 stages done, 1 failed, 3 skipped``."""
    counts = {progress: 0 for progress in Progress}
    for stage_counts in watch.tally().values():
        for progress, number in stage_counts.items():
            counts[progress] += number
    total = sum(counts.values())
    others = [f"{counts[p]} {p}" for p in Progress if p != Progress.DONE and counts[p]]
    return ", ".join([f"{counts[Progress.DONE]} of {total} stages done", *others])


class LineView:
    """Not a terminal (CI, a pipe, a log file): one line per stage that ends."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self.stream = stream

    def ended(self, event: Ended, watch: RunWatch) -> None:
        if event.failed:
            self.say(describe(watch.scope.output, event.experiment, event.record))
            return
        if event.record.state == StageState.CANCELLED:
            self.say(f"cancelled {event.experiment}: stage {event.record.stage}")
            return
        took = event.record.duration
        after = f", {format_duration(float(took))}" if took is not None else ""
        stage = event.record.stage
        self.say(f"done {event.experiment}: stage {stage}{after} ({count_line(watch)})")

    def refresh(self, watch: RunWatch, elapsed: float) -> None:
        pass

    def close(self) -> None:
        pass

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


class LiveView:
    """A terminal: one table, redrawn in place; failures print above it."""

    def __init__(self, console: Console) -> None:
        from rich.live import Live

        self.console = console
        self.live = Live(console=console, auto_refresh=False, transient=False)
        self.live.start()

    def ended(self, event: Ended, watch: RunWatch) -> None:
        if event.failed:
            self.say(describe(watch.scope.output, event.experiment, event.record))

    def refresh(self, watch: RunWatch, elapsed: float) -> None:
        self.live.update(progress_table(watch, elapsed), refresh=True)

    def close(self) -> None:
        self.live.stop()

    def say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


# Columns shown only when some stage is in that state.
OPTIONAL = (Progress.SKIPPED, Progress.CANCELLED)


def progress_table(watch: RunWatch, elapsed: float) -> RenderableType:
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    caption = f"elapsed {clock(elapsed)}, ETA {estimate_text(eta(watch.states(), time.time()))}"
    table = Table(box=None, caption=caption, caption_justify="left", pad_edge=False)
    tally = watch.tally()
    shown = [p for p in Progress if p not in OPTIONAL or any(c[p] for c in tally.values())]
    for heading in ("stage", "", *map(str, shown)):
        table.add_column(heading, justify="left" if heading == "stage" else "right")
    for stage, counts in tally.items():
        total = sum(counts.values())
        bar = ProgressBar(total=total or 1, completed=counts[Progress.DONE], width=24)
        table.add_row(stage, bar, *(f"{counts[p]}" for p in shown))
    return table


def estimate_text(estimate: Estimate) -> str:
    """``0:40``; ``at least 0:40 (avg, test not measured yet)``; ``? (train ...)``."""
    if not estimate.unmeasured:
        return clock(estimate.seconds or 0.0)
    waiting = f"({', '.join(estimate.unmeasured)} not measured yet)"
    if estimate.seconds is None:
        return f"? {waiting}"
    return f"at least {clock(estimate.seconds)} {waiting}"


def choose_view() -> View:
    from rich.console import Console

    console = Console()
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveView(console)
    return LineView()


class Monitor:
    """Polls the records in a thread while Snakemake runs; ``finish`` prints the end."""

    def __init__(self, watch: RunWatch, view: View) -> None:
        self.watch = watch
        self.view = view
        self.started = time.monotonic()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="exptflow-progress", daemon=True)

    def __enter__(self) -> Monitor:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join()
        self._step()  # what ended between the last poll and Snakemake's exit
        self.view.close()

    def _loop(self) -> None:
        while not self.stopping.wait(POLL_SECONDS):
            self._step()

    def _step(self) -> None:
        for event in self.watch.poll():
            self.view.ended(event, self.watch)
        self.view.refresh(self.watch, time.monotonic() - self.started)

    def failed(self) -> list[tuple[str, StageRecord]]:
        """Each experiment that failed in this run, with its failed stage's record."""
        found = []
        for experiment, stages in self.watch.states().items():
            for _, progress, record in stages:
                if progress == Progress.FAILED and record is not None:
                    found.append((experiment, record))
                    break
        return found

    def unexplained(self) -> bool:
        """Whether Snakemake's failure leaves stages pending that no failed stage explains
        (an error of Snakemake's own, or a job that could not even record its start)."""
        tally = self.watch.tally().values()
        ended = any(counts[Progress.FAILED] + counts[Progress.CANCELLED] for counts in tally)
        return not ended or any(counts[Progress.PENDING] for counts in tally)

    def finish(self, rerun: Callable[[list[str]], str], cancelled: bool) -> None:
        """The last line (counts and time), and the failures with how to rerun them."""
        failed = self.failed()
        if failed and not cancelled:
            self.view.say(summary(failed, rerun([name for name, _ in failed])))
        verb = "cancelled" if cancelled else "finished"
        elapsed = clock(time.monotonic() - self.started)
        self.view.say(f"exptflow: {verb} in {elapsed}: {count_line(self.watch)}")


def log_hint(log: Path) -> str:
    return f"exptflow: Snakemake's own output goes to {log} (`exptflow run --verbose` shows it)"


def tail_of_log(log: Path) -> str:
    """Snakemake ended with an error of its own (no stage failed): what it said last."""
    lines = log_tail(log, 30)
    return "\n".join([f"exptflow: Snakemake stopped with an error; the end of {log}:", *lines])

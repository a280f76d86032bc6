"""What the generated Snakefile runs around the jobs: the results table, and a clean exit."""

from __future__ import annotations

import threading

# The scheduler's timer function (snakemake/scheduling/job_scheduler.py, spelled so).
REEVALUATION = "JobScheduler._schedule_reevalutation"


def collect_results() -> None:
    """Write ``results.tsv`` (imported here: only the run that collects pays for it)."""
    from exptflow.collect import main

    main([])


def after_run(success: bool) -> None:
    """``onsuccess``/``onerror``: the table after a failed run too; exit without waiting.

    Snakemake's job rate limit (``max-jobs-per-timespan``, 100/1s by default) re-arms a
    one-second ``threading.Timer`` after every scheduling round. The timer only wakes the
    scheduler, which has returned by now, but Python waits for it at exit: one second added
    to every run, measured in benchmarks/ (utilisation case).
    """
    if not success:
        collect_results()
    for thread in threading.enumerate():
        wakes = getattr(thread, "function", None)
        if isinstance(thread, threading.Timer) and REEVALUATION in getattr(
            wakes, "__qualname__", ""
        ):
            thread.cancel()

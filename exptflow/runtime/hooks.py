"""What the generated Snakefile runs around the jobs: provenance, a quick start, the results
table, and an exit without waiting."""

from __future__ import annotations

import gc
import importlib
import os
import threading

from exptflow.layout.paths import output_cache_dir
from exptflow.runtime import snakemake_internals
from exptflow.runtime.job import CACHED_STAGES, provenance_ready

# Set by `exptflow run` for a run of part of the sweep, whose targets leave out `collect`.
SUBSET_RUN = "EXPTFLOW_SUBSET_RUN"


def before_run(run_dir: str, sweep: str) -> None:
    """``onstart``: provenance and pandas, beside the first stages instead of before them.

    Capturing provenance imports gitpython and asks git for the state of the repository
    (seconds in a large repository); stages start meanwhile, and each waits for git.json only
    when it finishes, to record the commit. Snakemake imports pandas when the first job
    finishes (to hash params, whenever pandas is installed, and exptflow needs it): a pause
    during which no job starts, unless it is imported already (both measured by the
    benchmarks' utilisation case, "fixed cost"). Neither thread is a daemon: an interpreter
    exiting mid-import is no place to be.
    """
    provenance_ready.clear()
    threading.Thread(target=_capture, args=(run_dir, sweep), name="exptflow-provenance").start()
    threading.Thread(target=importlib.import_module, args=("pandas",), name="exptflow-warm").start()


def _capture(run_dir: str, sweep: str) -> None:
    from exptflow.runtime.provenance import capture, capture_environment

    try:
        paths = capture(run_dir, sweep)
    finally:  # a stage never waits for a capture that failed
        provenance_ready.set()
    capture_environment(paths)


def use_output_cache(stages: list[str]) -> None:
    """Where Snakemake's output cache is (it reads only the environment): the user's setting,
    or the default under the user's cache directory, created if missing (Snakemake refuses to
    store into a directory that is not there); and which stages the wrapper makes a directory
    of their own for. Cluster jobs inherit both."""
    location = output_cache_dir()
    os.environ["SNAKEMAKE_OUTPUT_CACHE"] = str(location)
    os.environ[CACHED_STAGES] = ",".join(stages)
    location.mkdir(parents=True, exist_ok=True)


def collect_results(log: str | None = None) -> None:
    """Write ``results.tsv``, and what the collector said to ``log`` (imported here: only the
    run that collects pays for it)."""
    from exptflow.results.collect import main

    main(["--log", log] if log else [])


def after_run(success: bool) -> None:
    """``onsuccess``/``onerror``: the table after a failed run too; exit without waiting.

    Snakemake's job rate limit (``max-jobs-per-timespan``, 100/1s by default) re-arms a
    one-second ``threading.Timer`` after every scheduling round. The timer only wakes the
    scheduler, which has returned by now, but Python waits for it at exit: one second added
    to every run, measured in benchmarks/ (utilisation case).

    At exit, Python's last garbage collections walk every object Snakemake and pandas made
    (the utilisation case's "fixed cost, one-stage sweep" shows it). Frozen objects are left
    out of them (and freed with the process); nothing of Snakemake's relies on a cycle being
    collected at exit: files, logs and locks are closed by ``atexit`` handlers and
    Snakemake's own shutdown.
    """
    if not success or os.environ.get(SUBSET_RUN):
        collect_results()
    gc.freeze()
    snakemake_internals.cancel_reevaluation_timers()


def write_report_pages(log: str) -> None:
    """``rule report_pages``: the report's pages and plots (imported here: only the report's
    job pays for pandas and matplotlib)."""
    from pathlib import Path

    from exptflow.results.report import write_pages
    from exptflow.results.sources import sources_from_table

    said = write_pages(sources_from_table(Path(".")))
    Path(log).write_text("".join(f"{line}\n" for line in said), encoding="utf-8")

"""``exptflow report [--out report.html] [SNAKEMAKE ARGS]``: Snakemake's HTML report of the
compiled sweep, with the results table, each stage's command and runtime, and the plots."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from exptflow.errors import UserInputError
from exptflow.layout.paths import SweepPaths

REPORT_TARGET = "report_pages"  # the rule of the generated Snakefile that marks the pages


def add_parser(verbs: argparse._SubParsersAction, name: str) -> None:
    parser = verbs.add_parser(
        name,
        help="Snakemake's HTML report: results table, stage commands and runtimes, plots",
    )
    parser.add_argument(
        "--out", default="report.html", help="report file: .html, or .zip for big reports"
    )


def execute(arguments: argparse.Namespace, extra: list[str]) -> int:
    from exptflow.results.report import write_pages
    from exptflow.results.sources import sources_from_table

    if not SweepPaths().snakefile.exists() or not SweepPaths().table.exists():
        raise UserInputError("exptflow report: nothing compiled here; run `exptflow compile`")
    out = Path(arguments.out)
    if out.suffix not in (".html", ".zip"):
        raise UserInputError(f"--out {out}: a report is an .html file, or a .zip for big ones")
    for line in write_pages(sources_from_table(Path("."))):
        print(line)
    return _snakemake_report(out, extra)


def _snakemake_report(out: Path, extra: list[str]) -> int:
    """``snakemake --report`` of the pages' rule; it runs no job, so it works beside a run."""
    command = [sys.executable, "-m", "snakemake", "--report", str(out), "--nolock"]
    result = subprocess.run([*command, *extra, REPORT_TARGET], capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        print(f"error: snakemake --report failed (exit {result.returncode})", file=sys.stderr)
        return result.returncode
    print(f"wrote {out}")
    return 0

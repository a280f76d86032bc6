"""Per-job cost against a hand-written Snakefile, and the profile's scheduler settings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from common import Figure, alternate, median, run

from cases.sweeps import (
    HANDWRITTEN,
    SNAKEMAKE,
    trivial_sweep,
)


def overhead(root: Path, quick: bool) -> list[Figure]:
    jobs = 300 if quick else 1000
    directory = trivial_sweep(root / "overhead", jobs)

    def exptflow() -> float:
        shutil.rmtree(directory / "output", ignore_errors=True)
        shutil.rmtree(directory / ".snakemake", ignore_errors=True)
        return run([*SNAKEMAKE, "--cores", "2"], directory)

    def handwritten() -> float:
        shutil.rmtree(directory / "hand", ignore_errors=True)
        shutil.rmtree(directory / ".snakemake", ignore_errors=True)
        return run(
            [*SNAKEMAKE, "-s", str(HANDWRITTEN), "--cores", "2", "--scheduler", "greedy"], directory
        )

    samples = alternate({"handwritten": handwritten, "exptflow": exptflow}, 1 if quick else 3)
    ours, theirs = median(samples["exptflow"]) / jobs, median(samples["handwritten"]) / jobs
    figures = [
        Figure(
            "overhead",
            f"per job, {jobs} trivial jobs (greedy, 2 cores)",
            ours * 1000,
            "ms",
            "hand-written Snakefile",
            theirs * 1000,
            target="<= 1.15x hand-written",
            passed=ours <= 1.15 * theirs,
            samples=samples["exptflow"],
        ),
    ]
    return figures + schedulers(root, quick)


# The profile's choice against Snakemake alone: without the workflow profile, same threads.
BARE = ["--workflow-profile", "none", "--force-use-threads", "--scheduler"]


def schedulers(root: Path, quick: bool) -> list[Figure]:
    figures = []
    for jobs in (300, 1000) if quick else (1000, 5000):
        directory = trivial_sweep(root / f"scheduler-{jobs}", jobs)

        def per_job(flags: list[str], limit: float) -> float:
            shutil.rmtree(directory / "output", ignore_errors=True)
            shutil.rmtree(directory / ".snakemake", ignore_errors=True)
            try:
                return run([*SNAKEMAKE, "--cores", "2", *flags], directory, timeout=limit) / jobs
            except subprocess.TimeoutExpired:
                return float("inf")

        ours = per_job([], 3600) * 1000
        greedy = per_job([*BARE, "greedy"], 3600) * 1000
        limit = 60 if quick else 300
        ilp = per_job([*BARE, "ilp"], limit) * 1000
        ilp_name = "ilp" if ilp != float("inf") else f"ilp (stopped at {limit} s: at least)"
        ilp = min(ilp, limit / jobs * 1000)
        name = f"profile's scheduler (greedy, subsample) per job, {jobs} jobs"
        target = jobs == 5000
        figures += [
            Figure("overhead", name, ours, "ms", "greedy alone", greedy),
            Figure(
                "overhead",
                name,
                ours,
                "ms",
                ilp_name,
                ilp,
                target="<= 25 ms per job at 5,000 jobs" if target else None,
                passed=ours <= 25 if target else None,
            ),
        ]
    return figures


# --- 3. compile -------------------------------------------------------------------------------

"""Gather the test accuracy of every seed of a configuration: mean, spread and count."""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", nargs="+", required=True, help="the seeds' directories")
    args = parser.parse_args()

    accuracies = [
        json.loads(Path(run, "metrics.json").read_text())["test_accuracy"] for run in args.runs
    ]
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    summary = {
        "seeds_accuracy": statistics.fmean(accuracies),
        "seeds_spread": spread,
        "seeds": len(accuracies),
    }
    print(json.dumps(summary))
    Path(args.out, "metrics.json").write_text(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()

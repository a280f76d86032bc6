"""Run exptflow's benchmark suite: every case against its baseline, side by side.

    python benchmarks/run.py            # everything (about 25 minutes on 2 cores)
    python benchmarks/run.py --quick    # smaller sizes, one repeat (about 5 minutes)
    python benchmarks/run.py --only compile results

Prints the figures, the ratio against each baseline and PASS/FAIL per target; saves JSON.
mlrunner is needed for the utilisation case: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import CASES, timestamp
from common import report, save


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), help="run only these cases")
    parser.add_argument("--json", default="benchmarks/results.json", help="where to save figures")
    parser.add_argument("--keep", action="store_true", help="keep the temporary sweeps")
    arguments = parser.parse_args()
    figures = []
    root = Path(tempfile.mkdtemp(prefix="exptflow-bench-"))
    try:
        for name in arguments.only or CASES:
            print(f"[{timestamp()}] {name}", flush=True)
            measured = CASES[name](root, arguments.quick)
            report(measured)
            figures += measured
    finally:
        if not arguments.keep:
            shutil.rmtree(root, ignore_errors=True)
    save(figures, Path(arguments.json))
    judged = [f for f in figures if f.passed is not None]
    failed = [f for f in judged if not f.passed]
    print(f"\n{len(judged) - len(failed)} passed, {len(failed)} failed")
    for figure in failed:
        print(f"  FAILED: {figure.case}: {figure.name} ({figure.target})")
    print(f"figures saved to {arguments.json}")
    return 1 if failed else 0  # a missed target fails the command, as a test would


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark cases of exptflow, one module each, each measured against its baseline in
the same run."""

from __future__ import annotations

import json
import time

from common import Figure

from cases.compile import compile_speed
from cases.overhead import overhead
from cases.results import results_speed
from cases.search import search
from cases.utilisation import utilisation
from cases.wrapper import wrapper

CASES = {
    "utilisation": utilisation,
    "overhead": overhead,
    "compile": compile_speed,
    "results": results_speed,
    "wrapper": wrapper,
    "search": search,
}


def timestamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def describe(figures: list[Figure]) -> str:
    return json.dumps([f.name for f in figures])

"""exptflow: machine-learning experiment sweeps compiled into Snakemake workflows.

In a training script::

    import exptflow
    exptflow.log(step=epoch, loss=loss, acc=acc)   # a point of each series
    exptflow.summary(best_acc=best)                # final values for the results table
    state = exptflow.checkpoint.load() or {"epoch": 0}   # resume after a kill or a retry
    exptflow.checkpoint.save(state)                # the latest state, atomically
    exptflow.artifact("plot.png")                  # kept under the experiment's artifacts/
    exptflow.seed_everything(seed)                 # random, numpy and torch

In a notebook::

    df = exptflow.load("output", query="lr <= 1e-2 and test_state == 'done'")
    df = exptflow.examine("output", parse)   # with mlrunner Examiner parsers, as they are

Importing this package stays cheap (training scripts and every job import it): the pandas
side loads on first use.
"""

from __future__ import annotations

# typing costs milliseconds at import and every job imports this module: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


__version__ = "0.1.0"
__all__ = [
    "artifact",
    "checkpoint",
    "examine",
    "init",
    "load",
    "log",
    "register_parser",
    "seed_everything",
    "series",
    "summary",
]

_MODULES = {"checkpoint": "exptflow.runtime.checkpoint"}  # exptflow.checkpoint.save(...)
_LAZY = {
    "artifact": "exptflow.runtime.artifacts",
    "seed_everything": "exptflow.runtime.artifacts",
    "init": "exptflow.runtime.metrics",
    "log": "exptflow.runtime.metrics",
    "summary": "exptflow.runtime.metrics",
    "load": "exptflow.results.load",
    "examine": "exptflow.results.mlrunner",
    "series": "exptflow.results.load",
    "register_parser": "exptflow.results.sources",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'exptflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later uses (exptflow.log in a training loop) skip this hook
    return value

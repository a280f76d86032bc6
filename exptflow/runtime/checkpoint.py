"""``exptflow.checkpoint.save(state)`` / ``exptflow.checkpoint.load()``: the latest training
state of a stage, kept in its experiment directory, so a stage retried after a kill, a
timeout or a preemption resumes where it stopped.

Each stage has its own checkpoint. It is kept for a retry of the same command that did not
finish (killed, failed, timed out, lost); a stage that starts afresh (its first run, an
edited command, a rerun after it finished) starts without it. The state is anything
``pickle`` takes (a dict of epoch, model and optimizer state_dicts).
A save replaces the file through a temporary copy, flushed to disk before the rename: a kill
during a save leaves the previous checkpoint whole. Outside exptflow (no ``$EXPTFLOW_DIR``
and no ``exptflow.init``) ``save`` keeps nothing and ``load`` returns its default, so the
same script runs by hand unchanged. Stdlib only: training scripts import it.
"""

from __future__ import annotations

import os
import pickle
from _thread import get_ident
from pathlib import Path

from exptflow.layout.paths import ExperimentPaths
from exptflow.runtime.metrics import target

# typing costs milliseconds at import and every job imports this module: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def path() -> Path | None:
    """Where the checkpoint of this stage's experiment lives (None outside exptflow)."""
    directory = target()
    stage = os.environ.get("EXPTFLOW_STAGE")
    return None if directory is None else ExperimentPaths(directory).checkpoint(stage)


def save(state: Any) -> Path | None:
    """Keep ``state`` as the latest checkpoint; its path (None outside exptflow)."""
    destination = path()
    if destination is None:
        return None
    # Named as write_atomic names its copies: a resume removes those a kill left.
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.{get_ident()}.tmp")
    with open(temporary, "wb") as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, destination)
    return destination


def load(default: Any = None) -> Any:
    """The latest checkpoint's state, or ``default`` when there is none yet."""
    source = path()
    if source is None or not source.exists():
        return default
    with open(source, "rb") as handle:
        return pickle.load(handle)  # the experiment's own file, written by ``save``

"""The in-job metrics API: ``exptflow.log(step=..., loss=...)`` and ``exptflow.summary({...})``.

Inside an exptflow job the wrapper sets ``EXPTFLOW_DIR`` to the experiment directory, and
these write there: ``metrics.jsonl`` (one JSON object per ``log`` call, the series for
curves) and ``summary.json`` (final values; the results table prefers them to the last
logged values). Outside exptflow they do nothing, unless ``exptflow.init(directory)`` names
a directory, so the same training script runs by hand unchanged.

Stdlib only, and cheap to import: training scripts import it.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from exptflow.layout.jsonfiles import write_atomic
from exptflow.layout.paths import ExperimentPaths

# typing costs milliseconds at import and every job imports this module: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


_directory: Path | None = None


def init(directory: str | os.PathLike[str] | None) -> Path | None:
    """Write metrics to ``directory`` (None: back to ``$EXPTFLOW_DIR``, or nowhere)."""
    global _directory
    _directory = Path(directory) if directory is not None else None
    if _directory is not None:
        _directory.mkdir(parents=True, exist_ok=True)
    return target()


def target() -> Path | None:
    """Where metrics go now: ``init``'s directory, else ``$EXPTFLOW_DIR``, else nowhere."""
    if _directory is not None:
        return _directory
    directory = os.environ.get("EXPTFLOW_DIR")
    return Path(directory) if directory else None


def _plain(value: Any) -> Any:
    """Numbers from numpy/torch scalars become Python numbers; NaN/inf become null."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def log(step: int | None = None, **metrics: Any) -> None:
    """Append one point of each metric to the series (``step`` is optional)."""
    directory = target()
    if directory is None:
        return
    point: dict[str, object] = {"step": step} if step is not None else {}
    point.update({name: _plain(value) for name, value in metrics.items()})
    point["time"] = time.time()
    with open(ExperimentPaths(directory).series, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(point) + "\n")


def summary(values: dict[str, Any] | None = None, **more: Any) -> None:
    """Record final values (merged with earlier ``summary`` calls), written atomically."""
    directory = target()
    if directory is None:
        return
    path = Path(ExperimentPaths(directory).summary)
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        current = {}
    current.update({name: _plain(value) for name, value in {**(values or {}), **more}.items()})
    write_atomic(path, json.dumps(current, indent=1, sort_keys=True) + "\n")

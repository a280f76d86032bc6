"""``exptflow.artifact(...)`` and ``exptflow.seed_everything(seed)``, for training scripts.

Stdlib only at import: numpy and torch are seeded only when the script has them.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

from exptflow.layout.jsonfiles import write_atomic
from exptflow.layout.paths import ExperimentPaths
from exptflow.runtime.metrics import target

# typing costs milliseconds at import and every job imports this module: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def artifact(source: Any, name: str | None = None) -> Path | None:
    """Keep a file (a path: copied) or content (``str`` or ``bytes``: written as ``name``)
    under the experiment's ``artifacts/``; where it went (None outside exptflow)."""
    directory = target()
    if directory is None:
        return None
    folder = ExperimentPaths(directory).artifacts
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(source, os.PathLike) or (isinstance(source, str) and name is None):
        destination = folder / (name or Path(source).name)
        shutil.copyfile(source, destination)
        return destination
    if name is None or Path(name).name != name:
        raise ValueError("exptflow.artifact: give content a file name, e.g. name='preds.csv'")
    destination = folder / name
    if isinstance(source, bytes):
        destination.write_bytes(source)
    elif isinstance(source, str):
        write_atomic(destination, source)
    else:
        raise TypeError("exptflow.artifact: give a path, str or bytes")
    return destination


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, and numpy and torch (every GPU) when the script uses them."""
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)  # for the processes this one starts
    numpy = sys.modules.get("numpy") or _optional("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)
    torch = sys.modules.get("torch") or _optional("torch")
    if torch is not None:
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)


def _optional(module: str) -> Any:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return None
    return importlib.import_module(module)

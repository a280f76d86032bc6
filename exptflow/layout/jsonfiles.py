"""Files written atomically (JSON mostly): a reader sees the old file or the new one, never half.

Stdlib only: the job wrapper writes these thousands of times.
"""

from __future__ import annotations

import json
import os
from _thread import get_ident
from pathlib import Path

# typing costs milliseconds at import and every job imports this module: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (the one way exptflow
    replaces a file: a crash leaves the old file or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Stages run as threads of Snakemake: process and thread make the temporary name unique.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{get_ident()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """``data`` as readable JSON, atomically."""
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: Path | str) -> Any | None:
    """The JSON in ``path``, or None when it is missing or not (yet) valid JSON."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def append_line(path: Path, data: Any) -> None:
    """Append one JSON line (a single write, so concurrent appends don't interleave)."""
    line = json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode("utf-8"))
    finally:
        os.close(descriptor)


def canonical(params: dict[str, Any]) -> str:
    """The text two param sets are compared by."""
    return json.dumps(params, sort_keys=True, ensure_ascii=False)

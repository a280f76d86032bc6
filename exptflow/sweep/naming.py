"""Experiment identity: a readable, file-system-safe directory name from the swept params.

``lr=0.1+norm=new``: keys in sorted order (the same whatever the YAML order), values as the
program sees them. ``+`` joins the params, not ``,``: Snakemake's cluster job specs split
wildcard values at commas, and SLURM reads ``%`` in log paths, so neither may appear.
A name that had to be altered to be safe (a ``/``, a space, a value that reads as another
type) or that is too long gets ``~`` and a short hash of the exact values, so two different
param sets never share a name and the same set always gets the same one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

import yaml

from exptflow.sweep.render import Scalar, format_value

MAX_NAME_LENGTH = 120
# A directory name is at most 255 bytes; ``renamed`` may add 9 more (``@`` and a hash).
MAX_NAME_BYTES = 246
_KEEP_LENGTH = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._\-@]")
SEPARATOR = "+"
EMPTY_NAME = "defaults"


def digest(values: Mapping[str, Scalar], length: int = 8) -> str:
    """Short stable hash of typed values (``1`` and ``"1"`` differ)."""
    typed = sorted((key, type(value).__name__, value) for key, value in values.items())
    text = json.dumps(typed, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@lru_cache(maxsize=65536)
def _part(key: str, value: Scalar, kind: type) -> tuple[str, bool]:
    """``key=value`` text, and whether it names ``value`` faithfully."""
    text = format_value(value)
    safe = _UNSAFE.sub("_", text)
    faithful = safe == text and (kind is not str or _reads_as_string(text))
    return f"{key}={safe}", faithful


def _reads_as_string(text: str) -> bool:
    try:
        return isinstance(yaml.safe_load(text), str)
    except yaml.YAMLError:
        return False


def experiment_name(swept: Mapping[str, Scalar], order: Sequence[str] | None = None) -> str:
    """The directory name of an experiment whose grid document set ``swept``.

    ``order``: ``sorted(swept)``, when the caller names many experiments with the same keys.
    """
    keys = order if order is not None else sorted(swept)
    parts = [_part(key, swept[key], type(swept[key])) for key in keys]  # type: ignore[arg-type]
    texts, faithful = zip(*parts, strict=True) if parts else ((), ())
    name = SEPARATOR.join(texts) or EMPTY_NAME
    if all(faithful) and len(name) <= MAX_NAME_LENGTH and _fits(name):
        return name
    return f"{_cut(name[:_KEEP_LENGTH])}~{digest(swept)}"


def _fits(name: str) -> bool:
    return len(name.encode("utf-8")) <= MAX_NAME_BYTES


def _cut(text: str) -> str:
    """At most ``_KEEP_LENGTH`` bytes: param names may be letters of several bytes each."""
    return text.encode("utf-8")[:_KEEP_LENGTH].decode("utf-8", errors="ignore")


def renamed(name: str, params: Mapping[str, Scalar]) -> str:
    """The new directory of an experiment whose old directory holds other params."""
    return f"{name}@{digest(params)}"

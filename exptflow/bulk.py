"""Helpers for code that builds 100,000s of small objects (compile, collect)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cycle collector while building many small acyclic objects.

    Allocating 100,000s of dicts and tuples triggers it over and over, scanning everything
    built so far each time (the benchmarks' compile and results cases measure the cost).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

"""Random search: ``lr: {loguniform: [1e-5, 1e-1]}`` in a grid document with ``_samples: N``.

Pure and reproducible: sample ``i`` of a document is drawn from a generator seeded by
``(_seed, document, i)`` alone, so the same seed gives the same experiments in any process,
and asking for more samples (N → 2N) keeps the first N (their finished results are reused).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

# Drawn floats are rounded to this many significant digits: readable names, exact commands.
DIGITS = 6
KINDS = ("choice", "int", "loguniform", "uniform")


@dataclass(frozen=True)
class Distribution:
    kind: str
    bounds: tuple[Any, ...]  # (low, high) for the ranges; the values for `choice`

    def draw(self, rng: random.Random) -> Any:
        if self.kind == "choice":
            return rng.choice(self.bounds)
        low, high = self.bounds
        if self.kind == "int":
            return rng.randint(low, high)
        if self.kind == "uniform":
            return float(f"{rng.uniform(low, high):.{DIGITS}g}")
        return float(f"{math.exp(rng.uniform(math.log(low), math.log(high))):.{DIGITS}g}")


def parse(data: dict[Any, Any]) -> Distribution | str:
    """The distribution ``data`` describes, or why it describes none."""
    if len(data) != 1 or next(iter(data)) not in KINDS:
        return f"not a distribution; give one of {', '.join(f'{{{k}: [...]}}' for k in KINDS)}"
    ((kind, bounds),) = data.items()
    if not isinstance(bounds, list) or not bounds:
        return f"{kind}: give a list, e.g. `{{{kind}: {EXAMPLES[kind]}}}`"
    if kind == "choice":
        return Distribution(kind, tuple(bounds))
    return _range(kind, bounds)


EXAMPLES = {
    "choice": "[relu, gelu]",
    "int": "[2, 8]",
    "loguniform": "[1e-5, 1e-1]",
    "uniform": "[0.0, 0.5]",
}


def _range(kind: str, bounds: list[Any]) -> Distribution | str:
    numbers = [_number(bound) for bound in bounds]
    if len(numbers) != 2 or None in numbers:
        return f"{kind}: give [LOW, HIGH], two finite numbers, e.g. `{{{kind}: {EXAMPLES[kind]}}}`"
    low, high = numbers
    if kind == "int" and not all(isinstance(bound, int) for bound in (low, high)):
        return f"int: give two whole numbers, e.g. `{{int: {EXAMPLES['int']}}}`"
    if not low < high:  # type: ignore[operator]
        return f"{kind}: LOW ({low}) must be below HIGH ({high})"
    if kind == "loguniform" and low <= 0:  # type: ignore[operator]
        return f"loguniform: LOW must be above 0 (a logarithm's range), not {low}"
    return Distribution(kind, (low, high))


def _number(value: Any) -> int | float | None:
    """A bound; YAML reads `1e-5` as text, so text that is a number counts too."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # not a number, or too large for a float
        return None
    if not math.isfinite(number):
        return None
    return value if isinstance(value, int | float) else number


def draw(
    distributions: dict[str, Distribution], count: int, seed: int, document: int
) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...]]:
    """``count`` configurations: the params (sorted) and one row of values per sample."""
    names = tuple(sorted(distributions))
    rows = []
    for index in range(count):
        rng = random.Random(f"exptflow:{seed}:{document}:{index}")
        rows.append(tuple(distributions[name].draw(rng) for name in names))
    return names, _first_of_each(rows)


def _first_of_each(rows: list[tuple[Any, ...]]) -> tuple[tuple[Any, ...], ...]:
    """A repeated draw (a small `choice`) runs once; 1, 1.0 and True stay apart."""
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for row in rows:
        key = tuple((type(value), value) for value in row)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return tuple(unique)

"""The space ``exptflow tune`` searches: one grid document's distributions and lists.

Pure: no I/O. A list in a searched document is a choice among its values; a single value
is fixed. Trials are experiments like any other: named and resolved as the grid would.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exptflow.errors import UserInputError
from exptflow.sweep import expand as expansion
from exptflow.sweep.distributions import Distribution
from exptflow.sweep.render import Scalar
from exptflow.sweep.search import Search
from exptflow.sweep.spec import Grid, Sweep, same_values


@dataclass(frozen=True)
class Space:
    sweep: Sweep
    search: Search
    grid: Grid
    dimensions: tuple[tuple[str, Distribution], ...]  # sorted by name
    fixed: Mapping[str, Scalar]
    output: str  # the experiments root, from the compile directory

    def experiment(self, values: Mapping[str, Any]) -> expansion.Experiment:
        """The experiment a trial with these values runs, named as its document names it."""
        swept = {**self.fixed, **values}
        return expansion.experiment_of(self.sweep, self.grid, swept)

    def contains(self, name: str, value: Any) -> bool:
        distribution = dict(self.dimensions)[name]
        if distribution.kind == "choice":
            return any(same_values({name: value}, {name: c}) for c in distribution.bounds)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if distribution.kind == "int" and not isinstance(value, int):
            return False
        low, high = (float(bound) for bound in distribution.bounds)
        return math.isfinite(value) and low <= value <= high

    def fingerprint(self) -> str:
        """What makes two searches one: the goal, the space, and every other param."""
        example = self.experiment({name: _example(d) for name, d in self.dimensions})
        text = json.dumps(
            [
                self.search.metric,
                self.search.direction,
                self.search.sampler,
                self.search.seed,
                [[name, d.kind, list(d.bounds)] for name, d in self.dimensions],
                {k: v for k, v in example.params.items() if k not in dict(self.dimensions)},
                list(example.stages),
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _example(distribution: Distribution) -> Any:
    return distribution.bounds[0]


def searched_grid(sweep: Sweep, title: str | None) -> Grid:
    """The one document ``exptflow tune`` searches: the selected one, or the one search space."""
    grids = expansion.select(sweep, title)
    spaces = [grid for grid in grids if grid.space]
    chosen = spaces or list(grids)
    if len(chosen) != 1:
        where = ", ".join(grid.where for grid in chosen)
        raise UserInputError(
            f"{sweep.source}: {where}: tune searches one document; "
            "pick it with --title (give it a `_title`)"
        )
    return chosen[0]


NOT_SEARCHED = {
    "zipped": "`_zip` and `_rows`",
    "excluded": "`_exclude`",
    "conditions": "`_when`",
}


def space_of(sweep: Sweep, title: str | None, output: str) -> Space:
    if sweep.search is None:
        raise UserInputError(
            f"{sweep.source}: no `search:` block; add one to the first document, e.g. "
            "`search: {maximize: test_accuracy, trials: 40}`"
        )
    grid = searched_grid(sweep, title)
    for field, what in NOT_SEARCHED.items():
        if getattr(grid, field):
            raise UserInputError(
                f"{sweep.source}: {grid.where}: tune searches distributions and lists, not "
                f"{what}; move them to a document of their own and run it with `exptflow run`"
            )
    dimensions = dict(grid.space)
    dimensions.update(
        (name, Distribution("choice", values)) for name, values in grid.axes if len(values) > 1
    )
    fixed = {name: values[0] for name, values in grid.axes if len(values) == 1}
    _check_sampler(sweep, sweep.search, grid, dimensions)
    every = {name: (value,) for name, value in fixed.items()}
    expansion.check_searched(sweep, grid, {**every, **_every_choice(dimensions)})
    return Space(sweep, sweep.search, grid, tuple(sorted(dimensions.items())), fixed, output)


def _every_choice(dimensions: dict[str, Distribution]) -> dict[str, tuple[Any, ...]]:
    """Values to check the templates with: all of a choice, a bound of a range."""
    return {
        name: d.bounds if d.kind == "choice" else (d.bounds[0],) for name, d in dimensions.items()
    }


def _check_sampler(
    sweep: Sweep, search: Search, grid: Grid, dimensions: dict[str, Distribution]
) -> None:
    if not dimensions:
        raise UserInputError(
            f"{sweep.source}: {grid.where}: nothing to search; give a param a distribution "
            "(`lr: {loguniform: [1e-5, 1e-1]}`) or a list of values"
        )
    ranges = sorted(name for name, d in dimensions.items() if d.kind != "choice")
    if search.sampler == "grid" and ranges:
        raise UserInputError(
            f"{sweep.source}: {grid.where}.{ranges[0]}: `sampler: grid` searches lists; "
            "give a list of values (or `choice`), or use `sampler: tpe`"
        )


def grid_size(space: Space) -> int:
    return math.prod(len(d.bounds) for _, d in space.dimensions)

"""The ``search:`` block of a sweep file's first document: what ``exptflow tune`` optimises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exptflow.sweep.spec import Issues

SEARCH_KEYS = ("maximize", "minimize", "parallel", "sampler", "seed", "trials")
SAMPLERS = ("tpe", "random", "grid")
EXAMPLE = "`search: {maximize: test_accuracy, trials: 40}`"


@dataclass(frozen=True)
class Search:
    metric: str  # a column of the results table
    maximize: bool
    trials: int  # the budget: failed trials count too
    parallel: int | None = None  # None: one trial per GPU slot (one without `resource`)
    sampler: str = "tpe"
    seed: int = 0

    @property
    def direction(self) -> str:
        return "maximize" if self.maximize else "minimize"

    @classmethod
    def from_mapping(cls, data: object, issues: Issues) -> Search | None:
        from exptflow.sweep.spec import check_keys, kind

        if not isinstance(data, dict):
            issues.add("search", f"{kind(data)}; give a mapping such as {EXAMPLE}")
            return None
        check_keys(data, SEARCH_KEYS, "search", issues)
        metric, maximize = _goal(data, issues)
        trials = _count(data, "trials", issues, required=True)
        parallel = _count(data, "parallel", issues, required=False)
        sampler = data.get("sampler", "tpe")
        if sampler not in SAMPLERS:
            issues.add("search.sampler", f"{sampler!r}; use one of: {', '.join(SAMPLERS)}")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            issues.add("search.seed", f"{kind(seed)}; give a whole number")
        if metric is None or trials is None or sampler not in SAMPLERS:
            return None
        return cls(
            metric, maximize, trials, parallel, sampler, seed if isinstance(seed, int) else 0
        )


def _goal(data: dict, issues: Issues) -> tuple[str | None, bool]:
    goals = [key for key in ("maximize", "minimize") if key in data]
    if len(goals) != 1:
        what = "both `maximize` and `minimize`" if goals else "no goal"
        issues.add("search", f"{what}; name the metric once, e.g. {EXAMPLE}")
        return None, True
    metric = data[goals[0]]
    if not isinstance(metric, str) or not metric.strip() or not metric.isprintable():
        issues.add(f"search.{goals[0]}", "name a metric, a column of the results table")
        return None, True
    return metric, goals[0] == "maximize"


MAX_TRIALS = 100_000


def _count(data: dict, key: str, issues: Issues, required: bool) -> int | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TRIALS:
        fix = "the budget of trials, e.g. `trials: 40`" if key == "trials" else "e.g. `parallel: 4`"
        issues.add(f"search.{key}", f"give a whole number from 1 to {MAX_TRIALS:,}: {fix}")
        return None
    return value

"""Zero-overhead models of the two schedules in the utilisation case.

With every tool cost removed, what makespan does each tool's order give on the same sweep?
- exptflow (Snakemake with the generated stage priorities): whenever a slot frees, the ready
  job of the earliest stage; among equals Snakemake's order is arbitrary, modelled as random
  and averaged over many draws.
- mlrunner: each GPU takes the next experiment and runs its stages one after the other.
"""

from __future__ import annotations

import heapq
import random
import statistics
from collections.abc import Callable, Sequence

Durations = Sequence[Sequence[float]]


def list_schedule(durations: Durations, slots: int, key: Callable[[int, int], tuple]) -> float:
    """Makespan when each freed slot takes the ready (experiment, stage) with the lowest key."""
    ready = [(key(e, 0), e, 0) for e in range(len(durations))]
    heapq.heapify(ready)
    running: list[tuple[float, int, int]] = []
    now, free = 0.0, slots
    while ready or running:
        while free and ready:
            _, experiment, stage = heapq.heappop(ready)
            heapq.heappush(running, (now + durations[experiment][stage], experiment, stage))
            free -= 1
        now, experiment, stage = heapq.heappop(running)
        free += 1
        if stage + 1 < len(durations[experiment]):
            heapq.heappush(ready, (key(experiment, stage + 1), experiment, stage + 1))
    return now


def exptflow_order(durations: Durations, slots: int, draws: int = 200) -> float:
    chance = random.Random(0)
    ties = lambda: [chance.random() for _ in durations]  # noqa: E731

    def once() -> float:
        tie = ties()
        return list_schedule(durations, slots, lambda e, s: (s, tie[e]))

    return statistics.mean(once() for _ in range(draws))


def mlrunner_order(durations: Durations, slots: int) -> float:
    return list_schedule(durations, slots, lambda e, s: (e, s))

"""Optuna, for ask and tell: a study rebuilt from the trials on disk for every proposal.

The files are the source of truth (no database): a killed search rebuilds the same study,
and the sampler of trial ``k`` is seeded by ``(seed, k)``, so a rerun proposes as the first
run would have, given the same results.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from exptflow.errors import UserInputError
from exptflow.layout.trials import COMPLETE, FAIL, RUNNING
from exptflow.sweep.distributions import DIGITS, Distribution
from exptflow.sweep.spec import same_values

if TYPE_CHECKING:
    import optuna

    from exptflow.search.space import Space


class Past(NamedTuple):
    """A trial or an earlier experiment the optimizer learns from."""

    values: dict[str, Any]
    state: str  # COMPLETE, FAIL or RUNNING
    value: float | None = None


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise UserInputError(
            "exptflow tune needs Optuna: pip install 'exptflow[tune]' (or pip install optuna)"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def optuna_distribution(distribution: Distribution) -> Any:
    from optuna import distributions

    low, high = distribution.bounds[:2] if distribution.kind != "choice" else (None, None)
    if distribution.kind == "choice":
        return distributions.CategoricalDistribution(list(distribution.bounds))
    if distribution.kind == "int":
        return distributions.IntDistribution(int(low), int(high))
    log = distribution.kind == "loguniform"
    return distributions.FloatDistribution(float(low), float(high), log=log)


def trial_seed(seed: int, number: int) -> int:
    text = f"exptflow:{seed}:{number}".encode()
    return int(hashlib.sha256(text).hexdigest()[:8], 16)


def _sampler(space: Space, number: int) -> optuna.samplers.BaseSampler:
    optuna = _optuna()
    seed = trial_seed(space.search.seed, number)
    if space.search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # The constant liar keeps trials running at once apart (parallel trials).
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True, multivariate=True)


def propose(space: Space, history: Sequence[Past], number: int) -> dict[str, Any]:
    """The values of trial ``number``, from what the history says."""
    if space.search.sampler == "grid":
        return _next_grid_point(space, history)
    optuna = _optuna()
    distributions = {name: optuna_distribution(d) for name, d in space.dimensions}
    direction = space.search.direction
    study = optuna.create_study(direction=direction, sampler=_sampler(space, number))
    states = {
        COMPLETE: optuna.trial.TrialState.COMPLETE,
        FAIL: optuna.trial.TrialState.FAIL,
        RUNNING: optuna.trial.TrialState.RUNNING,
    }
    for past in history:
        trial = optuna.trial.create_trial(
            params=past.values,
            distributions=distributions,
            value=past.value if past.state == COMPLETE else None,
            state=states[past.state],
        )
        study.add_trial(trial)
    asked = study.ask(distributions)
    return {name: _plain(asked.params[name], d) for name, d in space.dimensions}


def _plain(value: Any, distribution: Distribution) -> Any:
    """Floats as the random search draws them: a readable name, an exact command."""
    if distribution.kind in ("uniform", "loguniform"):
        low, high = (float(bound) for bound in distribution.bounds)
        return min(max(float(f"{value:.{DIGITS}g}"), low), high)
    if distribution.kind == "int":
        return int(value)
    return next(
        choice for choice in distribution.bounds if type(choice) is type(value) and choice == value
    )


def grid_points(space: Space) -> list[dict[str, Any]]:
    """Every point of an all-list space, in an order the seed shuffles."""
    names = [name for name, _ in space.dimensions]
    points = [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(d.bounds for _, d in space.dimensions))
    ]
    random.Random(f"exptflow:{space.search.seed}").shuffle(points)
    return points


def _next_grid_point(space: Space, history: Sequence[Past]) -> dict[str, Any]:
    for point in grid_points(space):
        if not any(same_values(point, past.values) for past in history):
            return point
    return grid_points(space)[0]  # every point proposed: the budget is capped at the grid

"""Shared stages → their jobs (pure): one job per distinct key, serving every experiment
that has that key. ``prep`` keyed on ``data`` runs twice in a sweep over two datasets,
however many learning rates each dataset is trained with.

A job's directory is named, as an experiment's is, from the values that set it apart: those
of its key that differ from ``default``. Its ``params.json`` holds the whole key, so a changed
default is caught as it is for experiments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from exptflow.sweep.expand import Experiment, identity, resolved_defaults
from exptflow.sweep.naming import digest, experiment_name
from exptflow.sweep.render import Scalar
from exptflow.sweep.spec import Stage, Sweep, same_values

# The directory of a job keyed on no param (`per: []`): it runs once for the whole sweep.
WHOLE_SWEEP = "all"


class SharedJob(NamedTuple):
    stage: str
    name: str  # its directory: <output>/_shared/<stage>/<name>
    params: Mapping[str, Scalar]  # the values of its key: the job's identity (params.json)
    members: tuple[str, ...]  # the experiments it serves (their names), in sweep order


def share(sweep: Sweep, experiments: list[Experiment]) -> dict[str, list[SharedJob]]:
    """Each shared stage's jobs, in the order their first experiment comes in the sweep."""
    defaults = resolved_defaults(sweep)
    return {
        stage.name: _jobs(stage, sweep.key_params(stage), experiments, defaults)
        for stage in sweep.stages
        if stage.shared is not None
    }


def _jobs(
    stage: Stage,
    key: frozenset[str],
    experiments: list[Experiment],
    defaults: Mapping[str, Scalar],
) -> list[SharedJob]:
    groups: dict[tuple, tuple[dict[str, Scalar], list[str]]] = {}
    for experiment in experiments:
        if stage.name not in experiment.stages:
            continue
        values = {param: value for param, value in experiment.params.items() if param in key}
        groups.setdefault(identity(values), (values, []))[1].append(experiment.name)
    names = _names([values for values, _ in groups.values()], defaults, bool(key))
    return [
        SharedJob(stage.name, name, values, tuple(members))
        for name, (values, members) in zip(names, groups.values(), strict=True)
    ]


def _names(keys: list[dict[str, Scalar]], defaults: Mapping[str, Scalar], keyed: bool) -> list[str]:
    """Readable names from the key's values that differ from the defaults; two names that
    are one directory (on some file systems, names differing in letter case are) both get a
    hash of their values."""
    names = [
        experiment_name(_set_apart(values, defaults)) if keyed else WHOLE_SWEEP for values in keys
    ]
    folded: dict[str, int] = {}
    for name in names:
        folded[name.casefold()] = folded.get(name.casefold(), 0) + 1
    return [
        f"{name}~{digest(values)}" if folded[name.casefold()] > 1 else name
        for name, values in zip(names, keys, strict=True)
    ]


def _set_apart(values: Mapping[str, Scalar], defaults: Mapping[str, Scalar]) -> dict[str, Scalar]:
    return {
        param: value
        for param, value in values.items()
        if param not in defaults or not same_values({param: value}, {param: defaults[param]})
    }

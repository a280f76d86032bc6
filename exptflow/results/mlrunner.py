"""Moving over from mlrunner: its output directories read as experiments (params and stage
states, in ``exptflow show`` and ``exptflow.load``), and its ``Examiner`` parser functions
``(path, experiment, caches)`` used as they are.

mlrunner itself is never imported: the files are read as ``layout.mlrunner`` describes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from exptflow.layout.mlrunner import (
    STATES,
    MlrunnerFileError,
    MlrunnerPaths,
    read_yaml_mapping,
    stage_order,
)
from exptflow.layout.paths import ExperimentPaths
from exptflow.layout.states import StageState
from exptflow.results import rows
from exptflow.results.sources import Parser, Sources
from exptflow.runtime.liveness import StageStatus

if TYPE_CHECKING:
    import pandas as pd


class MlrunnerLayout:
    """An experiment directory mlrunner's ``run`` wrote: ``param``, ``stat``, logs."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self._order: list[str] | None = None

    def stage_order(self) -> list[str]:
        """The template order of the sweep file copied into the root, read once."""
        if self._order is None:
            self._order = stage_order(self.output)
        return self._order

    def signature(self, paths: ExperimentPaths, sources: Sources) -> list[Any]:
        # mlrunner rewrites ``param`` and ``stat`` in place: their own times, not the folder's.
        if sources.parsers:
            return [rows.listing(paths.root)]
        mlrunner = MlrunnerPaths(paths.root)
        return [rows.stat(paths.root), rows.stat(mlrunner.param), rows.stat(mlrunner.stat)]

    def read(
        self,
        paths: ExperimentPaths,
        entry: dict[str, Any],
        sources: Sources,
        parsers: Sequence[tuple[str, Parser]],
    ) -> dict[str, Any]:
        warnings: list[str] = []
        params, states = self.experiment(paths, warnings)
        record = {
            "params": params,
            "stages": {stage: {"stage": stage, "state": state} for stage, state in states.items()},
        }
        return {
            "params": params,
            "stages": {stage: [state, None] for stage, state in states.items()},
            "metrics": rows.read_metrics(paths, record, sources, parsers, warnings),
            "warnings": warnings,
        }

    def statuses(self, paths: ExperimentPaths) -> list[StageStatus]:
        """Each stage's state for ``exptflow status`` (mlrunner records no durations)."""
        _, states = self.experiment(paths, [])
        return [StageStatus(stage, state) for stage, state in states.items()]

    def experiment(
        self, paths: ExperimentPaths, warnings: list[str]
    ) -> tuple[dict[str, Any], dict[str, StageState]]:
        """The params (without mlrunner's ``_`` keys) and each stage's state, in template
        order: the stages ``param`` lists commands for, or ``stat`` states."""
        mlrunner = MlrunnerPaths(paths.root)
        param = _read(mlrunner.param, warnings)
        params = {k: v for k, v in param.items() if not str(k).startswith("_") and _is_value(v)}
        states = _states(_read(mlrunner.stat, warnings), mlrunner.stat, warnings)
        scripts = param.get("_scripts")
        stages = self._ordered([*(scripts if isinstance(scripts, dict) else ()), *states])
        return params, {stage: states.get(stage, StageState.PENDING) for stage in stages}

    def _ordered(self, stages: Iterable[str]) -> list[str]:
        found = set(map(str, stages))
        order = self.stage_order()
        return [s for s in order if s in found] + sorted(found - set(order))


def _read(path: str, warnings: list[str]) -> dict[str, Any]:
    try:
        return read_yaml_mapping(path)
    except MlrunnerFileError as error:
        warnings.append(f"warning: {path}: {error}; skipped")
        return {}


def _is_value(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _states(stat: dict[str, Any], path: str, warnings: list[str]) -> dict[str, StageState]:
    states = {}
    for stage, word in stat.items():
        state = STATES.get(word) if isinstance(word, str) else None
        if state is None:
            valid = ", ".join(STATES)
            warnings.append(f"warning: {path}: {stage}: {word!r} is not one of {valid}; skipped")
            continue
        states[str(stage)] = state
    return states


class Experiment(NamedTuple):
    """What mlrunner's ``Examiner`` hands a parser, with the same fields.

    ``metric``: the columns the parser adds to the table; ``cache``: the parser's own
    per-experiment values (not shown); ``param``: the params as mlrunner's ``param`` file
    holds them (with ``_name``, ``_output``, ...). ``experiment["acc"] = x`` is a short way to
    write ``experiment.metric["acc"] = x``.
    """

    cache: dict[str, Any]
    metric: dict[str, Any]
    param: dict[str, Any]

    def __setitem__(self, key: str, value: Any) -> None:
        self.metric[key] = value


ExaminerParser = Callable[[Path, Experiment, dict[str, Any]], object]


def examiner_parser(function: ExaminerParser, caches: dict[str, Any] | None = None) -> Parser:
    """An mlrunner ``Examiner`` parser ``function(path, experiment, caches)`` as an exptflow
    parser: what it puts in ``experiment.metric`` becomes columns. ``caches`` is shared by
    every experiment the parser sees, as an ``Examiner``'s is (one dict per adapter)."""
    shared: dict[str, Any] = {} if caches is None else caches

    def parse(directory: Path, record: dict[str, Any]) -> dict[str, Any]:
        experiment = Experiment(cache={}, metric={}, param=_param_of(directory, record))
        function(directory, experiment, shared)
        return experiment.metric

    parse.__name__ = getattr(function, "__name__", repr(function))
    return parse


def _param_of(directory: Path, record: dict[str, Any]) -> dict[str, Any]:
    """mlrunner's ``param`` file where there is one; for an exptflow experiment its params
    with the ``_name`` and ``_output`` mlrunner would have added."""
    mlrunner = MlrunnerPaths(directory)
    if mlrunner.is_experiment():
        try:
            return read_yaml_mapping(mlrunner.param)
        except MlrunnerFileError:
            pass
    return {**record.get("params", {}), "_name": directory.name, "_output": str(directory)}


def examine(
    output_dir: str | Path = "output", *functions: ExaminerParser, **options: Any
) -> pd.DataFrame:
    """``exptflow.load(output_dir, **options)`` with mlrunner ``Examiner`` parsers applied:
    ``Examiner().add(f); exam(output_dir); table()`` in one call. The parsers share one
    ``caches`` dict, as they do in an ``Examiner``."""
    from exptflow.results.load import load

    caches: dict[str, Any] = {}
    parsers = [examiner_parser(function, caches) for function in functions]
    return load(output_dir, parsers=parsers, **options)

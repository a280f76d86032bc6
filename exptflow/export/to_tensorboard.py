"""``exptflow export tensorboard DIR``: one TensorBoard run directory per experiment, its
scalars with their steps and times, and the HParams plugin's data, so TensorBoard's HParams
view tables and compares the experiments.

Written with the ``tensorboard`` package's own record writer and protos (no TensorFlow, no
torch): ``DIR/events.out.tfevents.exptflow`` holds the experiment config (every param with
the values it takes, every metric), and ``DIR/<experiment>/events.out.tfevents.exptflow`` the
experiment's params (a session start), its scalars and, once it ended, how (a session end).
A re-export replaces these files atomically, so nothing is ever logged twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exptflow.errors import MissingExtraError
from exptflow.export.experiments import Experiment, Sweep

if TYPE_CHECKING:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

INSTALL = "exptflow export tensorboard needs TensorBoard: pip install 'exptflow[tensorboard]'"
EVENTS = "events.out.tfevents.exptflow"  # "tfevents" in the name: TensorBoard reads it
DISCRETE_LIMIT = 32  # more distinct numbers than this: an interval in the HParams view

# An experiment's outcome as the HParams view's session status; none while it may go on.
STATUS = {"done": "STATUS_SUCCESS", "failed": "STATUS_FAILURE", "killed": "STATUS_FAILURE"}


@dataclass(frozen=True)
class TensorboardExport:
    directory: Path
    runs: int
    scalars: int  # scalar values written


def _import_tensorboard() -> None:
    try:
        import tensorboard.summary.writer.record_writer  # noqa: F401
    except ImportError:
        raise MissingExtraError(INSTALL) from None


def export_tensorboard(sweep: Sweep, directory: str | Path) -> TensorboardExport:
    """Write (or rewrite) the HParams config in ``directory`` and a run per experiment."""
    _import_tensorboard()
    from tensorboard.plugins.hparams import summary_v2 as hp

    logdir = Path(directory)
    domains = {name: domain_of(values) for name, values in _param_values(sweep).items()}
    config = hp.hparams_config_pb(
        hparams=[hp.HParam(name, domain) for name, domain in domains.items()],
        metrics=[hp.Metric(name) for name in sweep.metric_names],
        time_created_secs=min((e.start for e in sweep.experiments if e.start), default=0),
    )
    _write_events(logdir / EVENTS, [_event(config, 0, None)])
    scalars = 0
    for experiment in sweep.experiments:
        events = _experiment_events(experiment, domains)
        _write_events(logdir / experiment.name / EVENTS, events)
        scalars += sum(_is_scalar(event) for event in events)
    return TensorboardExport(logdir, len(sweep.experiments), scalars)


def _param_values(sweep: Sweep) -> dict[str, list[Any]]:
    """Every param with the distinct values the experiments give it, as the view shows them."""
    values: dict[str, dict[str, Any]] = {}
    for experiment in sweep.experiments:
        for name, value in experiment.params.items():
            values.setdefault(name, {})[repr(value)] = value
    return {name: list(found.values()) for name, found in values.items()}


def domain_of(values: list[Any]) -> Any:
    """Booleans and text as their values; numbers as theirs, or an interval when many."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    kinds = {_kind(value) for value in values}
    if kinds == {bool} or kinds == {str}:
        return hp.Discrete(sorted(values))
    if kinds <= {int, float}:
        numbers = sorted({float(v) if float in kinds else v for v in values})
        if len(numbers) > DISCRETE_LIMIT:
            return hp.RealInterval(float(numbers[0]), float(numbers[-1]))
        return hp.Discrete(numbers)
    return hp.Discrete(sorted({_text(value) for value in values}))  # mixed: shown as text


def _kind(value: Any) -> type:
    return type(value) if isinstance(value, bool | int | float | str) else object


def hparam_value(value: Any, domain: Any) -> bool | int | float | str:
    """The value as its param's domain holds it (a float domain takes ints as floats)."""
    dtype = getattr(domain, "dtype", float)
    if dtype is str:
        return value if isinstance(value, str) else _text(value)
    return float(value) if dtype is float else value


def _text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def _experiment_events(experiment: Experiment, domains: dict[str, Any]) -> list[Event]:
    """Session start, then the scalars in the order they were logged, then the end."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    start = experiment.start or 0
    params = {k: hparam_value(v, domains[k]) for k, v in experiment.params.items()}
    session = hp.hparams_pb(params, trial_id=experiment.name, start_time_secs=start)
    events = [_event(session, 0, start)]
    for name, points in experiment.series.items():
        events += [_scalar(name, p.value, p.step, p.time or start) for p in points]
    fallback = experiment.end or start
    finals = {k: v for k, v in experiment.metrics.items() if k not in experiment.series}
    events += [_scalar(name, value, 0, fallback) for name, value in finals.items()]
    status = STATUS.get(experiment.outcome)
    if status is not None:
        events.append(_event(_session_end(status, fallback), 0, fallback))
    return events


def _scalar(tag: str, value: float, step: int, wall_time: float) -> Event:
    from tensorboard.compat.proto.summary_pb2 import Summary

    return _event(Summary(value=[Summary.Value(tag=tag, simple_value=value)]), step, wall_time)


def _is_scalar(event: Event) -> bool:
    return any(value.WhichOneof("value") == "simple_value" for value in event.summary.value)


def _session_end(status: str, end: float) -> Summary:
    """The HParams plugin's session end (its own helper for it needs TensorFlow)."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(status=api_pb2.Status.Value(status), end_time_secs=end)
    data = plugin_data_pb2.HParamsPluginData(session_end_info=info)
    value = Summary.Value(
        tag=metadata.SESSION_END_INFO_TAG,
        metadata=metadata.create_summary_metadata(data),
        tensor=metadata.NULL_TENSOR,
    )
    return Summary(value=[value])


def _event(summary: Summary, step: int, wall_time: float | None) -> Event:
    from tensorboard.compat.proto.event_pb2 import Event

    return Event(wall_time=wall_time or 0, step=step, summary=summary)


def _write_events(path: Path, events: list[Event]) -> None:
    """A whole event file, through a temporary one: a reader sees the old file or the new."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.record_writer import RecordWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".exptflow-export.{os.getpid()}.tmp")  # no "tfevents": unread
    first = Event(wall_time=events[0].wall_time, file_version="brain.Event:2")
    with open(temporary, "wb") as handle:
        writer = RecordWriter(handle)
        for event in [first, *events]:
            writer.write(event.SerializeToString())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)

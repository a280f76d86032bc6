"""One experiment's row from its files: params, each stage's state and duration, metrics.

Metric sources, in the order later ones override earlier ones: ``metrics.json`` (a flat
object), ``metrics.jsonl`` from ``exptflow.log`` (last value of each series), ``summary.json``
from ``exptflow.summary``, regexes over stage logs declared under ``metrics:`` in the sweep
file, and Python parsers (``parsers:`` in the sweep file, or ``register_parser`` in a
notebook). A file that can't be parsed gives a warning naming it, never a crash.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from exptflow.layout.jsonfiles import read_json
from exptflow.layout.paths import ExperimentPaths
from exptflow.layout.table import shared_paths
from exptflow.results.sources import LogRegex, Parser, Sources
from exptflow.runtime.liveness import stage_status

REDUCE: dict[str, Callable[[list[float]], float]] = {
    "last": lambda values: values[-1],
    "first": lambda values: values[0],
    "max": max,
    "min": min,
    "mean": statistics.fmean,
}


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _read_json_object(path: str, warnings: list[str]) -> dict[str, Any]:
    try:
        text = _read_text(path)
        if text is None:
            return {}
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (OSError, UnicodeDecodeError) as error:
        warnings.append(f"warning: {path}: unreadable ({error}); skipped")
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        warnings.append(f"warning: {path}: line {error.lineno}: {error.msg}; skipped")
        return {}
    if not isinstance(data, dict):
        warnings.append(f"warning: {path}: not a JSON object; skipped")
        return {}
    return {key: value for key, value in data.items() if _is_cell(value)}


def _is_cell(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def read_series(path: Path | str, warnings: list[str]) -> list[dict[str, Any]]:
    """The points of a ``metrics.jsonl``; corrupt lines are skipped with a warning."""
    try:
        text = _read_text(os.fspath(path))
    except (OSError, UnicodeDecodeError) as error:
        warnings.append(f"warning: {path}: unreadable ({error}); skipped")
        return []
    if not text:
        return []
    try:  # one parse of the whole file: much faster than a json.loads per line
        points = json.loads("[" + text.strip().replace("\n", ",") + "]")
        if set(map(type, points)) <= {dict}:
            return points
    except json.JSONDecodeError:
        pass
    lines = [line for line in text.splitlines() if line.strip()]
    return _read_series_by_line(Path(path), lines, warnings)


def _read_series_by_line(path: Path, lines: list[str], warnings: list[str]) -> list[dict]:
    points = []
    for number, line in enumerate(lines, 1):
        try:
            point = json.loads(line)
        except json.JSONDecodeError as error:
            warnings.append(f"warning: {path}: line {number}: {error.msg}; line skipped")
            continue
        if isinstance(point, dict):
            points.append(point)
        else:
            warnings.append(f"warning: {path}: line {number}: not a JSON object; line skipped")
    return points


def series_last_values(path: str, warnings: list[str]) -> dict[str, Any]:
    """The last value of every logged metric, usually without parsing the whole series.

    When every key of the file also appears in its last line (checked by counting
    ``"key":`` occurrences, in C), the last line holds every last value; otherwise, or when
    a line is not valid JSON, the whole file is parsed.
    """
    try:
        text = _read_text(path)
    except (OSError, UnicodeDecodeError) as error:
        warnings.append(f"warning: {path}: unreadable ({error}); skipped")
        return {}
    if not text or not text.strip():
        return {}
    last_line = text.rstrip().rsplit("\n", 1)[-1]
    try:
        point = json.loads(last_line)
    except json.JSONDecodeError:
        point = None
    if isinstance(point, dict):
        keys = [json.dumps(key, ensure_ascii=False) + ":" for key in point]
        if sum(text.count(key) for key in keys) == text.count('":'):
            return last_values([point])
    return last_values(read_series(path, warnings))


def last_values(points: Iterable[dict[str, Any]]) -> dict[str, Any]:
    # Later points override earlier ones; map/chain keep the loop in C for long series.
    last = dict(itertools.chain.from_iterable(map(dict.items, points)))
    last.pop("step", None)
    last.pop("time", None)
    return {key: value for key, value in last.items() if _is_cell(value)}


def _log_metric(paths: ExperimentPaths, regex: LogRegex, warnings: list[str]) -> float | None:
    logs = paths.logs(regex.stage)
    if not logs:
        return None
    try:
        text = logs[-1].read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        warnings.append(f"warning: {logs[-1]}: unreadable ({error}); {regex.name} skipped")
        return None
    found = []
    for match in re.finditer(regex.regex, text):
        try:
            found.append(float(match.group(1)))
        except ValueError:
            warnings.append(f"warning: {logs[-1]}: {regex.name}: {match.group(1)!r} is no number")
    return REDUCE[regex.reduce](found) if found else None


def apply_parsers(
    parsers: Iterable[tuple[str, Parser]], paths: ExperimentPaths, record: dict, warnings: list[str]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, parser in parsers:
        try:
            result = parser(paths.directory, record)
        except Exception as error:  # a user's parser must not stop the table
            warnings.append(f"warning: parser {name} failed on {paths.directory}: {error!r}")
            continue
        if isinstance(result, dict):
            found.update({k: v for k, v in result.items() if _is_cell(v)})
        elif result is not None:
            warnings.append(f"warning: parser {name} returned {type(result).__name__}, not a dict")
    return found


def _metrics_of(paths: ExperimentPaths, warnings: list[str]) -> dict[str, Any]:
    metrics = _read_json_object(paths.metrics, warnings)
    metrics.update(series_last_values(paths.series, warnings))
    metrics.update(_read_json_object(paths.summary, warnings))
    return metrics


def read_experiment(
    paths: ExperimentPaths,
    entry: dict[str, Any],
    sources: Sources,
    parsers: Sequence[tuple[str, Parser]],
) -> dict[str, Any]:
    """Params, each stage's state and duration, metrics and warnings of one experiment."""
    warnings: list[str] = []
    params = read_json(paths.params_file)
    params = params if isinstance(params, dict) else entry.get("params", {})
    stages = entry.get("stages") or paths.recorded_stages()
    shared = shared_paths(sources.output, entry)
    now = time.time()
    statuses = [stage_status(shared.get(stage, paths), stage, now) for stage in stages]
    record = {
        "params": params,
        "stages": {s.stage: s.record.to_json() if s.record else None for s in statuses},
    }
    return {
        "params": params,
        "stages": {s.stage: [s.state, s.duration] for s in statuses},
        "metrics": read_metrics(paths, record, sources, parsers, warnings, shared),
        "warnings": warnings,
    }


def read_metrics(
    paths: ExperimentPaths,
    record: dict[str, Any],
    sources: Sources,
    parsers: Sequence[tuple[str, Parser]],
    warnings: list[str],
    shared: Mapping[str, ExperimentPaths] | None = None,
) -> dict[str, Any]:
    """Every metric source of one experiment, later ones overriding earlier ones; those of
    the shared jobs it uses (``shared``: by stage) first, so that its own values win."""
    shared = shared or {}
    metrics: dict[str, Any] = {}
    for directory in [*shared.values(), paths]:
        metrics.update(_metrics_of(directory, warnings))
    for regex in sources.regexes:
        metrics[regex.name] = _log_metric(shared.get(regex.stage, paths), regex, warnings)
    metrics.update(apply_parsers(parsers, paths, record, warnings))
    return metrics


def signature(paths: ExperimentPaths, sources: Sources) -> list[Any]:
    """What a row depends on, by modification time (and size) of four entries.

    Records, params, summaries and new logs are created or replaced by a rename, which
    changes their directory's time; ``metrics.json`` and ``metrics.jsonl`` are written in
    place, so they are checked themselves. A Python parser may read anything: then every
    file of the directory is checked.
    """
    if sources.parsers:
        return [listing(paths.root), listing(paths.meta_file)]
    return [stat(paths.root), stat(paths.meta_file), stat(paths.metrics), stat(paths.series)]


def stat(path: str) -> list[int] | None:
    """Lists, not tuples: signatures compare equal to their JSON copy in the cache."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [info.st_mtime_ns, info.st_size]


def listing(directory: str) -> list[Any]:
    try:
        with os.scandir(directory) as scan:
            return sorted([e.name, *(stat(e.path) or ())] for e in scan if e.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


class ExptflowLayout:
    """An experiment directory exptflow's job wrapper writes (see ``layout.paths``)."""

    signature = staticmethod(signature)
    read = staticmethod(read_experiment)


EXPTFLOW = ExptflowLayout()

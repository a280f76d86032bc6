"""The collector: one row per experiment (params, each stage's state and duration, metrics)
from the files alone, written to ``<output>/results.tsv``.

Metric sources, in the order later ones override earlier ones: ``metrics.json`` (a flat
object), ``metrics.jsonl`` from ``exptflow.log`` (last value of each series), ``summary.json``
from ``exptflow.summary``, regexes over stage logs declared under ``metrics:`` in the sweep
file, and Python parsers (``parsers:`` in the sweep file, or ``register_parser`` in a
notebook). A file that can't be parsed gives a warning naming it, never a crash.

Incremental: a row is rebuilt only when one of the files it came from changed (size and
modification time), so re-collecting a large sweep costs a ``stat`` per file.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import itertools
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exptflow.bulk import paused_gc
from exptflow.layout.jsonfiles import read_json, write_atomic
from exptflow.layout.paths import ExperimentPaths, OutputPaths
from exptflow.layout.table import describes, members, read_table
from exptflow.runtime.liveness import RUNNING, stage_status
from exptflow.runtime.metrics import METRICS, SERIES, SUMMARY

Parser = Callable[[Path, dict[str, Any]], dict[str, Any]]
CACHE_VERSION = 1
_REGISTERED: list[Parser] = []
REDUCE: dict[str, Callable[[list[float]], float]] = {
    "last": lambda values: values[-1],
    "first": lambda values: values[0],
    "max": max,
    "min": min,
    "mean": statistics.fmean,
}


def register_parser(parser: Parser) -> Parser:
    """Apply ``parser(experiment_dir, record) -> dict`` in :func:`exptflow.load` (a decorator)."""
    _REGISTERED.append(parser)
    return parser


@dataclass(frozen=True)
class LogRegex:
    """``metrics:`` of the sweep as the compiled table holds it (spec.LogMetric's fields).

    Read from experiments.json, so the collector never imports the YAML side."""

    name: str
    stage: str
    regex: str
    reduce: str = "last"


@dataclass(frozen=True)
class Sources:
    """What to collect: the compiled sweep's experiments and metric sources."""

    output: Path
    experiments: dict[str, dict[str, Any]]  # name -> {"params", "stages"} from the table
    regexes: tuple[LogRegex, ...] = ()
    parsers: tuple[str, ...] = ()
    workdir: Path = Path(".")
    compiled: bool = False  # a compiled table describes the root: it says what the sweep is
    include_stale: bool = False  # also the directories the sweep no longer lists

    def fingerprint(self) -> str:
        text = json.dumps([[r.__dict__ for r in self.regexes], list(self.parsers)], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Collection:
    rows: list[dict[str, Any]]
    params: list[str]
    stages: list[str]
    metrics: list[str]
    warnings: list[str] = field(default_factory=list)
    read: int = 0  # experiments whose files were read this time
    reused: int = 0  # experiments whose cached row was still valid
    marked: bool = False  # rows have ``in_sweep`` (False: a directory the sweep no longer lists)


def sources_from_table(
    workdir: Path = Path("."), output: str | None = None, include_stale: bool = False
) -> Sources:
    """The compiled sweep's experiments and metric sources; a bare output root works too
    (then every directory under it is collected)."""
    table = read_table(workdir) or {}
    root = workdir / (output or table.get("output", "output"))
    if table and not describes(table, workdir, root):
        table = {}
    regexes = tuple(LogRegex(**entry) for entry in table.get("metrics", []))
    return Sources(
        output=root,
        experiments=table.get("experiments", {}),
        regexes=regexes,
        parsers=tuple(table.get("parsers", [])),
        workdir=workdir,
        compiled=bool(table),
        include_stale=include_stale,
    )


# --- reading one experiment -----------------------------------------------------------------


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


def _import_parser(name: str, workdir: Path) -> Parser:
    module_name, function = name.split(":")
    if str(workdir.resolve()) not in sys.path:
        sys.path.insert(0, str(workdir.resolve()))
    return getattr(importlib.import_module(module_name), function)


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
    statuses = [stage_status(paths, stage, time.time()) for stage in stages]
    metrics = _read_json_object(paths.file(METRICS), warnings)
    metrics.update(series_last_values(paths.file(SERIES), warnings))
    metrics.update(_read_json_object(paths.file(SUMMARY), warnings))
    for regex in sources.regexes:
        metrics[regex.name] = _log_metric(paths, regex, warnings)
    record = {
        "params": params,
        "stages": {s.stage: s.record.to_json() if s.record else None for s in statuses},
    }
    metrics.update(apply_parsers(parsers, paths, record, warnings))
    return {
        "params": params,
        "stages": {s.stage: [s.state, s.duration] for s in statuses},
        "metrics": metrics,
        "warnings": warnings,
    }


# --- incremental collection -------------------------------------------------------------------


def _stat(path: str) -> list[int] | None:
    """Lists, not tuples: signatures compare equal to their JSON copy in the cache."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [info.st_mtime_ns, info.st_size]


def _listing(directory: str) -> list[Any]:
    try:
        with os.scandir(directory) as scan:
            return sorted([e.name, *(_stat(e.path) or ())] for e in scan if e.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


def signature(paths: ExperimentPaths, sources: Sources) -> list[Any]:
    """What a row depends on, by modification time (and size) of four entries.

    Records, params, summaries and new logs are created or replaced by a rename, which
    changes their directory's time; ``metrics.json`` and ``metrics.jsonl`` are written in
    place, so they are checked themselves. A Python parser may read anything: then every
    file of the directory is checked.
    """
    if sources.parsers:
        return [_listing(paths.root), _listing(paths.meta_file)]
    return [
        _stat(paths.root),
        _stat(paths.meta_file),
        _stat(paths.file(METRICS)),
        _stat(paths.file(SERIES)),
    ]


def _cache_path(sources: Sources) -> Path:
    return OutputPaths(sources.output).collect_cache


def _load_cache(sources: Sources) -> dict[str, Any]:
    cache = read_json(_cache_path(sources))
    valid = (
        isinstance(cache, dict)
        and cache.get("version") == CACHE_VERSION
        and cache.get("sources") == sources.fingerprint()
    )
    return cache["rows"] if valid else {}  # type: ignore[index]


def _save_cache(sources: Sources, rows: dict[str, Any]) -> None:
    if not sources.output.is_dir():
        return
    data = {"version": CACHE_VERSION, "sources": sources.fingerprint(), "rows": rows}
    write_atomic(_cache_path(sources), json.dumps(data, separators=(",", ":")))


def _names(sources: Sources) -> list[str]:
    listed = sources.experiments if sources.compiled else None
    return members(sources.output, listed).shown(sources.include_stale)


def _is_running(entry: dict[str, Any]) -> bool:
    return any(state == RUNNING for state, _ in entry["stages"].values())


def collect(sources: Sources, use_cache: bool = True) -> Collection:
    """Every experiment's row, re-reading only the directories that changed."""
    with paused_gc():
        return _collect(sources, use_cache)


def _collect(sources: Sources, use_cache: bool) -> Collection:
    cache = _load_cache(sources) if use_cache else {}
    parsers = [(name, _import_parser(name, sources.workdir)) for name in sources.parsers]
    fresh: dict[str, Any] = {}
    collection = Collection([], [], [], [], marked=sources.compiled and sources.include_stale)
    for name in _names(sources):
        paths = ExperimentPaths.of(sources.output, name)
        mark = signature(paths, sources)
        entry = cache.get(name)
        if entry is not None and entry["signature"] == mark:
            collection.reused += 1
        else:
            collection.read += 1
            entry = read_experiment(paths, sources.experiments.get(name, {}), sources, parsers)
            entry["signature"] = mark
        if not _is_running(entry):  # a running stage's duration changes: never cache it
            fresh[name] = entry
        _add(collection, name, entry, paths, name in sources.experiments)
    if use_cache and (collection.read or len(fresh) != len(cache)):
        _save_cache(sources, fresh)
    return collection


def _extend(names: list[str], new: Iterable[str]) -> None:
    names.extend(name for name in new if name not in names)


def _add(
    collection: Collection, name: str, entry: dict[str, Any], paths: ExperimentPaths, listed: bool
) -> None:
    _extend(collection.params, entry["params"])
    _extend(collection.stages, entry["stages"])
    _extend(collection.metrics, entry["metrics"])
    row: dict[str, Any] = {"experiment": name, **entry["params"]}
    if collection.marked:
        row["in_sweep"] = listed
    for stage, (state, duration) in entry["stages"].items():
        row[f"{stage}_state"] = state
        row[f"{stage}_duration"] = duration
    row.update(entry["metrics"])
    row["directory"] = paths.root
    collection.rows.append(row)
    collection.warnings.extend(entry["warnings"])


# --- the results table ------------------------------------------------------------------------


def varying(rows: list[dict[str, Any]], keys: Iterable[str]) -> list[str]:
    """The keys whose value is not the same in every row."""
    result = []
    for key in keys:
        values = {json.dumps(row.get(key), sort_keys=True) for row in rows}
        if len(values) > 1:
            result.append(key)
    return result


def table_columns(collection: Collection) -> list[str]:
    params = varying(collection.rows, collection.params) if len(collection.rows) > 1 else []
    stages = [f"{stage}_{what}" for stage in collection.stages for what in ("state", "duration")]
    return [*leading_columns(collection), *params, *stages, *collection.metrics, "directory"]


def leading_columns(collection: Collection) -> list[str]:
    return ["experiment", "in_sweep"] if collection.marked else ["experiment"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value).replace("\t", " ").replace("\n", " ")


def write_table(collection: Collection, path: Path) -> None:
    """``results.tsv``, through a temporary file: a crash leaves the previous table intact."""
    columns = table_columns(collection)
    lines = ["\t".join(columns)]
    lines += ["\t".join(_cell(row.get(column)) for column in columns) for row in collection.rows]
    write_atomic(path, "\n".join(lines) + "\n")


def results_path(sources: Sources) -> Path:
    return OutputPaths(sources.output).results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exptflow.results.collect", description=__doc__)
    parser.add_argument("--workdir", default=".", help="where the sweep was compiled")
    parser.add_argument("-o", "--output", help="experiments root (default: the compiled one)")
    parser.add_argument("--log", help="also write what it says to this file")
    arguments = parser.parse_args(argv)
    sources = sources_from_table(Path(arguments.workdir), arguments.output)
    collection = collect(sources)
    for warning in collection.warnings:
        print(warning, file=sys.stderr)
    write_table(collection, results_path(sources))
    said = (
        f"exptflow: {results_path(sources)}: {len(collection.rows)} experiments "
        f"({collection.read} read, {collection.reused} unchanged)"
    )
    print(said)
    if arguments.log:
        write_atomic(
            Path(arguments.log), "".join(f"{line}\n" for line in [*collection.warnings, said])
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The collector: one row per experiment of the sweep, written to ``<output>/results.tsv``.

Incremental: a row is rebuilt only when one of the files it came from changed (size and
modification time), so re-collecting a large sweep costs a ``stat`` per file. What it reads
is ``sources``; how one experiment becomes a row is ``rows`` (a directory exptflow ran) or
``mlrunner`` (one mlrunner ran, outside the compiled sweep).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exptflow.bulk import paused_gc
from exptflow.layout.jsonfiles import read_json, write_atomic
from exptflow.layout.mlrunner import MlrunnerPaths
from exptflow.layout.paths import ExperimentPaths, OutputPaths
from exptflow.layout.table import members, shared_paths
from exptflow.results.mlrunner import MlrunnerLayout
from exptflow.results.rows import EXPTFLOW, signature
from exptflow.results.sources import Layout, Sources, import_parser, sources_from_table
from exptflow.runtime.liveness import RUNNING

CACHE_VERSION = 1


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
    parsers = [(name, import_parser(name, sources.workdir)) for name in sources.parsers]
    fresh: dict[str, Any] = {}
    collection = Collection([], [], [], [], marked=sources.compiled and sources.include_stale)
    mlrunner = MlrunnerLayout(sources.output)
    for name in _names(sources):
        paths = ExperimentPaths.of(sources.output, name)
        layout = _layout(paths, name in sources.experiments, mlrunner)
        listed = sources.experiments.get(name, {})
        mark = layout.signature(paths, sources)
        for shared in shared_paths(sources.output, listed).values():  # its shared jobs' files
            mark += signature(shared, sources)
        entry = cache.get(name)
        if entry is not None and entry["signature"] == mark:
            collection.reused += 1
        else:
            collection.read += 1
            entry = layout.read(paths, listed, sources, parsers)
            entry["signature"] = mark
        if not _is_running(entry):  # a running stage's duration changes: never cache it
            fresh[name] = entry
        _add(collection, name, entry, paths, name in sources.experiments)
    if use_cache and (collection.read or len(fresh) != len(cache)):
        _save_cache(sources, fresh)
    return collection


def _layout(paths: ExperimentPaths, listed: bool, mlrunner: MlrunnerLayout) -> Layout:
    """The compiled sweep's experiments are exptflow's; another directory may be mlrunner's."""
    if not listed and MlrunnerPaths(paths.root).is_experiment():
        return mlrunner
    return EXPTFLOW


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

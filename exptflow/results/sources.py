"""What the collector reads: the compiled sweep's experiments, the metric regexes of its
sweep file and its Python parsers (from the experiments table: never the YAML side)."""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from exptflow.layout.table import describes, read_table

if TYPE_CHECKING:
    from exptflow.layout.paths import ExperimentPaths

Parser = Callable[[Path, dict[str, Any]], dict[str, Any]]


_REGISTERED: list[Parser] = []


def register_parser(parser: Parser) -> Parser:
    """Apply ``parser(experiment_dir, record) -> dict`` in :func:`exptflow.load` (a decorator)."""
    _REGISTERED.append(parser)
    return parser


def registered_parsers() -> list[Parser]:
    return list(_REGISTERED)


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
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> job -> entry

    def fingerprint(self) -> str:
        text = json.dumps([[r.__dict__ for r in self.regexes], list(self.parsers)], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


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
        shared=table.get("shared", {}),
    )


def import_parser(name: str, workdir: Path) -> Parser:
    module_name, function = name.split(":")
    if str(workdir.resolve()) not in sys.path:
        sys.path.insert(0, str(workdir.resolve()))
    return getattr(importlib.import_module(module_name), function)


class Layout(Protocol):
    """How one kind of experiment directory becomes a row: exptflow's own (``rows``), or
    one another tool wrote (``mlrunner``). The collector picks one per directory."""

    def signature(self, paths: ExperimentPaths, sources: Sources) -> list[Any]:
        """What the row depends on: a cached row is reused while this stays the same."""
        ...

    def read(
        self,
        paths: ExperimentPaths,
        entry: dict[str, Any],
        sources: Sources,
        parsers: Sequence[tuple[str, Parser]],
    ) -> dict[str, Any]:
        """``params``, ``stages`` (stage -> [state, duration]), ``metrics``, ``warnings``."""
        ...

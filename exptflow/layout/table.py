"""The compiled experiments table as its readers see it: which sweep made it, and which
experiment directories of an output root are in the sweep.

The table, not the output root, is what the sweep is: a grid value removed from the sweep
file leaves its directory behind, and status, show and ``results.tsv`` must not count it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exptflow.layout.jsonfiles import read_json
from exptflow.layout.paths import (
    NOT_EXPERIMENTS,
    ExperimentPaths,
    StudyPaths,
    SweepPaths,
    existing_directories,
    shared_directory,
)
from exptflow.layout.trials import Ledger, trial_entries

if TYPE_CHECKING:
    from exptflow.compiler.plan import Plan, PlannedExperiment

# Bumped when a reader of the table would misread an older one; a table without a version
# field is version 1.
TABLE_VERSION = 1


def read_table(workdir: Path) -> dict[str, Any] | None:
    """The experiments table compiled in ``workdir``, with the trials an ``exptflow tune``
    proposed since; None when there is none (or no JSON)."""
    table = _valid(read_json(SweepPaths(workdir).table))
    if table is not None and isinstance(table.get("study"), str):
        table["experiments"].update(trial_entries(StudyPaths(workdir / table["study"])))
    return table


def _valid(table: object) -> dict[str, Any] | None:
    if not isinstance(table, dict) or not isinstance(table.get("experiments"), dict):
        return None
    return table if table.get("version", 1) == TABLE_VERSION else None


class Trials(dict[str, dict[str, Any]]):
    """The table's experiments, and the trials of a search: one proposed while Snakemake
    runs (by a job of its own) is read when a rule first asks for it."""

    def __init__(self, experiments: dict[str, dict[str, Any]], study: StudyPaths) -> None:
        super().__init__(experiments)
        self.ledger = Ledger(study)
        self._read_new_trials()

    def __missing__(self, name: str) -> dict[str, Any]:
        self._read_new_trials()
        if name not in self:
            raise KeyError(name)
        return self[name]

    def _read_new_trials(self) -> None:
        self.update({p.experiment: p.entry for p in self.ledger.proposals()})


def experiments_of(path: str) -> dict[str, dict[str, Any]]:
    """What the generated Snakefile reads: each experiment's params, stages and commands."""
    table = _valid(read_json(path))
    if table is None:
        raise SystemExit(
            f"exptflow: {path} is missing or not a table this exptflow reads; "
            "run `exptflow compile` to write it again"
        )
    if isinstance(table.get("study"), str):
        return Trials(table["experiments"], StudyPaths(Path(path).parent / table["study"]))
    return table["experiments"]


def table_text(plan: Plan) -> str:
    """The per-experiment values the Snakefile reads: params, stages and commands.

    One experiment per line: readable in a diff, and written by the C JSON encoder.
    """
    encode = _line_encoder()
    header = {
        "version": TABLE_VERSION,
        "sweep": plan.sweep.source,
        "output": plan.output,
        "metrics": [metric.__dict__ for metric in plan.sweep.metrics],
        "parsers": list(plan.sweep.parsers),
        **({"overrides": list(plan.overrides)} if plan.overrides else {}),
        **({"study": plan.study, "sort": _best_first(plan)} if plan.study else {}),
    }
    lines = [f"{encode(p.directory_name)}: " + encode(table_entry(p)) for p in plan.experiments]
    text = encode(header)[:-1] + ', "experiments": {\n' + ",\n".join(lines) + "\n}"
    if plan.shared:
        text += ', "shared": {\n' + _shared_text(plan, encode) + "\n}"
    return text + "}\n"


def _shared_text(plan: Plan, encode: Callable[[Any], str]) -> str:
    """Each shared stage's jobs, one per line: its key's values, command, what it waits for."""
    stages: dict[str, list[str]] = {}
    for shared in plan.shared:
        entry = {
            "params": shared.params,
            "command": shared.job.command,
            "after": shared.after,
            "experiments": shared.members,
        }
        stages.setdefault(shared.job.stage, []).append(f"{encode(shared.name)}: {encode(entry)}")
    return ",\n".join(
        f"{encode(stage)}: {{\n" + ",\n".join(jobs) + "}" for stage, jobs in stages.items()
    )


def table_entry(planned: PlannedExperiment) -> dict[str, Any]:
    """What the Snakefile reads of one experiment: params, stages and commands (and which job
    of each shared stage it uses)."""
    experiment = planned.experiment
    entry = {"params": experiment.params, "stages": experiment.stages, "commands": planned.commands}
    if planned.shared:
        entry["shared"] = planned.shared
    return entry


def shared_jobs_of(path: str) -> dict[str, dict[str, dict[str, Any]]]:
    """What the generated Snakefile of a sweep with shared stages reads: each shared stage's
    jobs by name."""
    table = _valid(read_json(path))
    return table.get("shared", {}) if table is not None else {}


def shared_paths(
    output: str | os.PathLike[str], entry: dict[str, Any]
) -> dict[str, ExperimentPaths]:
    """The directories of the shared jobs an experiment (an entry of the table) uses."""
    return {
        stage: ExperimentPaths.of(output, shared_directory(stage, name))
        for stage, name in entry.get("shared", {}).items()
    }


def _best_first(plan: Plan) -> dict[str, Any]:
    """How ``exptflow show`` orders a search's trials: by its metric, best first."""
    search = plan.sweep.search
    assert search is not None  # a plan with a study is a search's
    return {"column": search.metric, "descending": search.maximize}


def default_sort(workdir: Path, output: str | os.PathLike[str]) -> tuple[str, bool] | None:
    """The column (and whether descending) the compiled table asks results be shown by."""
    table = compiled_table(workdir, output)
    sort = table.get("sort") if table else None
    if not isinstance(sort, dict) or not isinstance(sort.get("column"), str):
        return None
    return sort["column"], bool(sort.get("descending"))


def _line_encoder() -> Callable[[Any], str]:
    """A compact JSON encoder built once (``json.dumps`` rebuilds one per call)."""
    from json import encoder

    c_make_encoder = getattr(encoder, "c_make_encoder", None)  # the C speed-up, if built
    if c_make_encoder is None:
        return json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    make = c_make_encoder(
        None, None, encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
    return lambda value: "".join(make(value, 0))


def describes(table: dict[str, Any], workdir: Path, output: str | os.PathLike[str]) -> bool:
    """Whether ``table`` is the one of the experiments root ``output``."""
    return (workdir / table.get("output", "")).resolve() == Path(output).resolve()


def compiled_table(workdir: Path, output: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The table compiled in ``workdir`` when it describes ``output``, else None."""
    table = read_table(workdir)
    return table if table is not None and describes(table, workdir, output) else None


# The first line of a generated Snakefile (workflow/Snakefile.tmpl).
SNAKEFILE_HEADER = re.compile(r"# Generated by exptflow \S+ from (.+): do not edit this file\.")


def recorded_sweep(workdir: Path) -> str | None:
    """The sweep file that compiled this directory's table, or its Snakefile if the table is
    gone; None when neither is there (or the Snakefile is not exptflow's)."""
    table = read_table(workdir)
    if table is not None and isinstance(table.get("sweep"), str):
        return table["sweep"]
    try:
        with open(SweepPaths(workdir).snakefile, encoding="utf-8") as snakefile:
            header = SNAKEFILE_HEADER.fullmatch(snakefile.readline().rstrip("\n"))
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return header.group(1) if header else None


@dataclass(frozen=True)
class Members:
    """The experiment directories of an output root, split by whether the sweep lists them."""

    in_sweep: list[str]  # in the table's order
    not_in_sweep: list[str]  # sorted
    compiled: bool  # False: no table describes the root, so every directory counts as in it

    def shown(self, include_stale: bool) -> list[str]:
        return self.in_sweep + self.not_in_sweep if include_stale else self.in_sweep


def members(output: str | os.PathLike[str], listed: Iterable[str] | None) -> Members:
    """``listed``: the table's experiments, or None when nothing compiled describes ``output``
    (a copied output root, say): then every directory is shown, none marked."""
    found = existing_directories(output) - NOT_EXPERIMENTS
    if listed is None:
        return Members(sorted(found), [], compiled=False)
    in_sweep = list(listed)
    return Members(in_sweep, sorted(found - set(in_sweep)), compiled=True)

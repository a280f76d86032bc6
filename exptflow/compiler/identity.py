"""Which directory each experiment gets, given what the output root already holds.

A directory is an experiment's identity: one whose ``params.json`` holds a different resolved
param set (say a default changed) is never reused silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from exptflow.errors import IdentityConflictError
from exptflow.layout.jsonfiles import canonical, read_json
from exptflow.layout.paths import SHARED, ExperimentPaths, existing_directories
from exptflow.sweep.naming import renamed
from exptflow.sweep.render import Scalar
from exptflow.sweep.shared import SharedJob


class Identified(Protocol):
    """An experiment, or a job of a shared stage: a directory name and the params it holds."""

    @property
    def name(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Scalar]: ...


@dataclass(frozen=True)
class Conflict:
    experiment: Identified
    directory: Path
    recorded: Mapping[str, Any]


def _holds(output: Path, name: str, existing: set[str], params: str) -> bool | None:
    """True: holds these params; False: holds others; None: free."""
    if name not in existing:
        return None
    recorded = read_json(ExperimentPaths.of(output, name).params)
    return None if recorded is None else canonical(recorded) == params


def assign(
    experiments: Sequence[Identified], output: Path, rename_changed: bool
) -> tuple[dict[str, str], list[Conflict]]:
    """Experiment name → directory name, and the conflicts left when not renaming."""
    existing = existing_directories(output)
    directories: dict[str, str] = {}
    conflicts: list[Conflict] = []
    for experiment in experiments:
        name = experiment.name
        if name not in existing and not rename_changed:
            directories[name] = name  # the common case of a new sweep: no file to read
            continue
        params = canonical(dict(experiment.params))
        if _holds(output, name, existing, params) is False:
            alternative = renamed(name, experiment.params)
            if rename_changed or _holds(output, alternative, existing, params):
                name = alternative
            else:
                recorded = read_json(ExperimentPaths.of(output, name).params) or {}
                conflicts.append(Conflict(experiment, output / name, recorded))
        directories[experiment.name] = name
    return directories, conflicts


def assign_shared(
    shared: Mapping[str, list[SharedJob]], output: Path, rename_changed: bool
) -> tuple[dict[str, list[SharedJob]], list[Conflict]]:
    """The jobs of shared stages, each in a directory that holds its key's values (or none)."""
    assigned: dict[str, list[SharedJob]] = {}
    conflicts: list[Conflict] = []
    for stage, jobs in shared.items():
        names, found = assign(jobs, output / SHARED / stage, rename_changed)
        assigned[stage] = [job._replace(name=names[job.name]) for job in jobs]
        conflicts += found
    return assigned, conflicts


def _difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    changes = []
    for key in sorted(set(old) | set(new)):
        if old.get(key, "<unset>") != new.get(key, "<unset>"):
            changes.append(f"{key}: {old.get(key, '<unset>')!r} -> {new.get(key, '<unset>')!r}")
    return "; ".join(changes)


def conflict_error(source: str, conflicts: list[Conflict]) -> IdentityConflictError:
    shared = sum(isinstance(c.experiment, SharedJob) for c in conflicts)
    what = f"{len(conflicts) - shared} experiment(s)"
    what += f" and {shared} shared job(s)" if shared else ""
    lines = [
        f"{source}: {what} would reuse a directory that holds "
        "other params (a default, an alias or the template's params changed):"
    ]
    shown = conflicts[:20]
    lines += [f"  {c.directory}: {_difference(c.recorded, c.experiment.params)}" for c in shown]
    if len(conflicts) > len(shown):
        lines.append(f"  ... and {len(conflicts) - len(shown)} more")
    lines.append(
        "Nothing was written. Run `exptflow compile --rename-changed` to give the changed "
        "experiments new directories (<name>@<hash>) and keep the old results, "
        "or restore the old values."
    )
    return IdentityConflictError("\n".join(lines))

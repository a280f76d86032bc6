"""The trials of an adaptive search on disk: what was proposed, and what was told.

The experiment directories hold the results; these files hold the order of the search and
the values the optimizer chose, so a killed ``exptflow tune`` rebuilds its study from them.
A proposal holds the experiment's table entry too: the Snakefile runs a trial from it.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from exptflow.layout.jsonfiles import read_json, write_json
from exptflow.layout.paths import StudyPaths

COMPLETE, FAIL = "complete", "fail"
RUNNING = "running"  # proposed, not told: what the optimizer's history says of it


class Proposal(NamedTuple):
    number: int
    experiment: str  # its directory under the output root
    values: dict[str, Any]  # the searched params, as the optimizer chose them
    entry: dict[str, Any]  # the experiments-table entry: params, stages, commands


class Told(NamedTuple):
    number: int
    experiment: str
    state: str  # COMPLETE or FAIL
    value: float | None
    reason: str | None = None  # why a trial failed


def write_proposal(study: StudyPaths, proposal: Proposal) -> None:
    write_json(study.proposal(proposal.number), {**proposal._asdict(), "time": time.time()})


def read_proposal(study: StudyPaths, number: int) -> Proposal | None:
    data = read_json(study.proposal(number))
    if not isinstance(data, dict) or not {"experiment", "values", "entry"} <= set(data):
        return None
    return Proposal(number, data["experiment"], data["values"], data["entry"])


def write_told(study: StudyPaths, told: Told) -> None:
    write_json(study.told(told.number), {**told._asdict(), "time": time.time()})


def read_told(study: StudyPaths, number: int) -> Told | None:
    data = read_json(study.told(number))
    if not isinstance(data, dict) or data.get("state") not in (COMPLETE, FAIL):
        return None
    return Told(
        number, data.get("experiment", ""), data["state"], data.get("value"), data.get("reason")
    )


def proposals(study: StudyPaths) -> list[Proposal]:
    found = (read_proposal(study, number) for number in study.numbers())
    return [proposal for proposal in found if proposal is not None]


def trial_entries(study: StudyPaths) -> dict[str, dict[str, Any]]:
    """The experiments-table entries of every trial proposed so far."""
    return {proposal.experiment: proposal.entry for proposal in proposals(study)}

"""The trials of an adaptive search on disk: what was proposed, and what was told.

The experiment directories hold the results; these files hold the order of the search and
the values the optimizer chose, so a killed ``exptflow tune`` rebuilds its study from them.
A proposal holds the experiment's table entry too: the Snakefile runs a trial from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from exptflow.layout.jsonfiles import read_json, write_json
from exptflow.layout.paths import StudyPaths

COMPLETE, FAIL = "complete", "fail"
RUNNING = "running"  # proposed, not told: what the optimizer's history says of it
T = TypeVar("T")


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


class Ledger:
    """The trials of one search as a process knows them, each file read once: a proposal
    or a told result never changes once written, so a search of thousands of trials reads
    only the new ones (another process may write them: each read looks again)."""

    def __init__(self, study: StudyPaths) -> None:
        self.study = study
        self._proposals: dict[int, Proposal] = {}
        self._told: dict[int, Told] = {}

    def proposals(self) -> list[Proposal]:
        """Every trial proposed so far, in order: the folder listed, the new files read."""
        for number in self.study.numbers():
            self.proposal(number)
        return [self._proposals[number] for number in sorted(self._proposals)]

    def known(self) -> list[Proposal]:
        """The proposals read so far, without listing the folder."""
        return [self._proposals[number] for number in sorted(self._proposals)]

    def proposal(self, number: int) -> Proposal | None:
        return _read_once(self._proposals, number, lambda: read_proposal(self.study, number))

    def add_proposal(self, proposal: Proposal) -> None:
        write_proposal(self.study, proposal)
        self._proposals[proposal.number] = proposal

    def told(self, number: int) -> Told | None:
        return _read_once(self._told, number, lambda: read_told(self.study, number))

    def add_told(self, told: Told) -> None:
        write_told(self.study, told)
        self._told[told.number] = told

    def told_trials(self) -> list[Told]:
        """Every trial told so far, of those proposed."""
        found = (self.told(proposal.number) for proposal in self.proposals())
        return [told for told in found if told is not None]


def _read_once(known: dict[int, T], number: int, read: Callable[[], T | None]) -> T | None:
    """A file written once, read until it is there, then never again."""
    if number not in known:
        found = read()
        if found is None:
            return None
        known[number] = found
    return known[number]

"""The one error hierarchy of exptflow: the CLI prints the message, never a traceback."""

from __future__ import annotations

from collections.abc import Iterable


class ExptflowError(Exception):
    """Anything a user can fix. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UserInputError(ExptflowError):
    """Bad input (sweep file, command-line flag): exit code 2, nothing written."""

    exit_code = 2


class MissingExtraError(UserInputError):
    """An optional library the command needs is not installed: the message says which extra."""


class SweepFileError(UserInputError):
    """One or more problems in a sweep file, each naming the file and the YAML path."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class IdentityConflictError(UserInputError):
    """An experiment directory already holds a different resolved param set."""


class OtherSweepError(UserInputError):
    """The directory's Snakefile and table were compiled from another sweep file."""


class NothingCompiledError(UserInputError):
    """No compiled experiments table says which experiments are in the sweep."""


class WorkflowStateError(ExptflowError):
    """The on-disk state of a sweep prevents the requested action."""


class LiveRunError(WorkflowStateError):
    """A live Snakemake works in the directory: starting or compiling beside it would harm it."""

    exit_code = 2


def problem(source: str, where: str, what: str) -> str:
    """One line of a sweep-file error: ``file: yaml.path: what is wrong; how to fix``."""
    return f"{source}: {where}: {what}" if where else f"{source}: {what}"

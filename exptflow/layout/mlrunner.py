"""mlrunner's output directories (0.5.9), read-only: what ``run`` writes, so that an existing
output root reads as experiments.

``<output>/<name>/param`` holds the experiment's params as YAML with mlrunner's own keys
(``_name``, ``_output``, ``_time``, and ``_scripts``: each stage's command), ``stat`` each
stage's state (``running``, ``finished`` or ``failed``; a stage never started is absent) and
``log.<stage>.<time>`` its output (exptflow's naming too). ``run`` copies the sweep file into the
output root (``params.yaml``, or ``params.yaml.<title>`` with ``--title``): the order of its
``template`` is the order of the stages, which ``param`` and ``stat`` lose (yaml sorts keys).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from exptflow.layout.paths import ExperimentPaths
from exptflow.layout.states import StageState

# mlrunner's words for a stage's state; it records no pid, so a run killed hard stays
# "running" in ``stat`` for ever: exptflow can only report what the file says.
STATES = {
    "finished": StageState.DONE,
    "failed": StageState.FAILED,
    "running": StageState.RUNNING,
}
# A sweep file copy is small; anything larger in the output root is someone else's file.
MAX_SWEEP_COPY_BYTES = 1 << 20


class MlrunnerPaths:
    """The files mlrunner writes in one experiment directory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = os.fspath(directory)
        self.directory = Path(self.root)

    @property
    def param(self) -> str:
        """The params as YAML, with ``_name``, ``_output``, ``_time`` and ``_scripts``."""
        return f"{self.root}/param"

    @property
    def stat(self) -> str:
        """YAML: stage -> ``running`` | ``finished`` | ``failed``, rewritten in place."""
        return f"{self.root}/stat"

    def is_experiment(self) -> bool:
        """mlrunner wrote this directory (and exptflow did not: no ``params.json``)."""
        return os.path.isfile(self.param) and not os.path.exists(
            ExperimentPaths(self.root).params_file
        )


class MlrunnerFileError(ValueError):
    """A file mlrunner should have written holds something else."""


def read_yaml_mapping(path: str) -> dict[str, Any]:
    """A YAML mapping; an absent or empty file is an empty one."""
    import yaml  # here: the job wrapper imports the layout, and yaml costs it milliseconds

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise MlrunnerFileError(f"unreadable ({' '.join(str(error).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MlrunnerFileError("not a YAML mapping")
    return data


def stage_order(output: str | os.PathLike[str]) -> list[str]:
    """The stages of the sweep files mlrunner copied into ``output``, in template order."""
    order: list[str] = []
    for path in sorted(Path(output).glob("*.y*ml*")):
        for stage in _template_of(path):
            if stage not in order:
                order.append(stage)
    return order


def _template_of(path: Path) -> list[str]:
    import yaml

    try:
        if not path.is_file() or path.stat().st_size > MAX_SWEEP_COPY_BYTES:
            return []
        with open(path, encoding="utf-8") as handle:
            first = next(yaml.safe_load_all(handle), None)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # not a sweep file copy
    template = first.get("template") if isinstance(first, dict) else None
    return [str(stage) for stage in template] if isinstance(template, dict) else []

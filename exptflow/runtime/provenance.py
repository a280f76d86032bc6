"""What a run ran with: git state (commit, branch, dirty diff, untracked files), Python and
its packages, and a copy of the sweep file. Captured once per ``snakemake`` run (``onstart``);
every stage record points to it. Never refuses a dirty repository: it records it.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from exptflow.layout.jsonfiles import write_json
from exptflow.layout.paths import RunPaths
from exptflow.layout.table import read_table


def git_state(workdir: Path, paths: RunPaths) -> dict[str, Any] | None:
    import git  # gitpython: imported here only, never by the job wrapper

    try:
        repo = git.Repo(workdir, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    state: dict[str, Any] = {
        "root": repo.working_tree_dir,
        "dirty": repo.is_dirty(untracked_files=True),
    }
    try:
        commit = repo.head.commit
        state.update(commit=commit.hexsha, message=commit.message.strip())
    except ValueError:  # a repository without commits yet
        state.update(commit=None, message=None)
    state["branch"] = None if repo.head.is_detached else repo.active_branch.name
    diff = repo.git.diff("HEAD") if state["commit"] else repo.git.diff("--cached")
    paths.diff.write_text(diff + ("\n" if diff else ""), encoding="utf-8")
    untracked = repo.untracked_files
    paths.untracked.write_text("".join(f"{name}\n" for name in untracked), encoding="utf-8")
    state.update(diff=paths.diff.name, untracked=len(untracked))
    # `code: snapshot`: what the stages ran, which the live tree may no longer be.
    state["snapshot"] = os.environ.get("EXPTFLOW_CODE")
    return state


def environment() -> dict[str, Any]:
    packages = {dist.metadata["Name"]: dist.version for dist in metadata.distributions()}
    return {
        "python": sys.version,
        "executable": sys.executable,
        "platform": platform.platform(),
        "host": platform.node(),
        "packages": dict(sorted(packages.items(), key=lambda item: str(item[0]).lower())),
    }


def capture(run_dir: str | Path, sweep: str | Path, workdir: str | Path = ".") -> RunPaths:
    """Write the sweep copy and the git state of this run into ``run_dir``.

    Stage records copy the commit from here; the package list (``capture_environment``)
    comes after, nobody waits for it.
    """
    paths = RunPaths(run_dir)
    paths.directory.mkdir(parents=True, exist_ok=True)
    sweep = Path(sweep)
    if sweep.is_file():
        shutil.copyfile(sweep, paths.sweep_copy(str(sweep)))
    overrides = (read_table(Path(workdir)) or {}).get("overrides")
    if overrides:
        write_json(paths.overrides, overrides)
    state = git_state(Path(workdir), paths)
    write_json(paths.git, state if state is not None else {"repository": None})
    return paths


def capture_environment(paths: RunPaths) -> None:
    """Python, platform and every installed package (0.2 s: reads each package's metadata)."""
    write_json(paths.environment, {"captured": time.time(), **environment()})

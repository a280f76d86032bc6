"""``code: snapshot``: the stages of a run start in a copy of the commit, not in the live tree.

At run start (the Snakefile's ``onstart``, in the process that submits every job) the
committed tree of the sweep's repository is extracted once per commit with ``git archive``
into ``<output>/.exptflow/code/<sha>/`` (``<sha>+<diff hash>`` with the uncommitted diff
applied, for ``snapshot+uncommitted``); a later run of the same commit reuses it. Every stage
then runs in the snapshot's copy of the sweep's directory, which the job wrapper reads from
``EXPTFLOW_CODE_DIR``: cluster jobs inherit it from the submitting process, so a stage that
starts an hour later on a node still runs the commit of the run's start.

The rendered commands do not change (no stage reruns for a new commit): their relative paths
reach the sweep's directory through links: the output root, and each entry of the sweep's
directory that git ignores (data), is a link to the original in the snapshot; any other path
of the original checkout is ``$EXPTFLOW_ROOT/...``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from exptflow.errors import UserInputError
from exptflow.layout.paths import OutputPaths
from exptflow.runtime.job import CODE_DIR, CODE_ID, ROOT


@dataclass(frozen=True)
class Snapshot:
    name: str  # <sha> or <sha>+<diff hash>
    root: Path  # the repository's copy
    workdir: Path  # the sweep directory's copy: where the stages start


def _git(workdir: Path, *args: str, binary: bool = False) -> str:
    result = subprocess.run(["git", *args], cwd=workdir, capture_output=True, check=False)
    if result.returncode != 0:
        raise UserInputError(
            f"code: snapshot: `git {' '.join(args)}` failed in {workdir.resolve()}: "
            f"{result.stderr.decode(errors='replace').strip()}; a snapshot run needs the "
            "sweep in a git repository with at least one commit (or remove `code: snapshot`)"
        )
    return result.stdout.decode("latin-1" if binary else "utf-8")


def check_repository(workdir: Path, output: str, source: str) -> None:
    """At compile time: a repository with a commit, and an output root the links can reach."""
    try:
        _git(workdir, "rev-parse", "--verify", "HEAD")
    except UserInputError as error:
        raise UserInputError(f"{source}: {error}") from None
    if not Path(output).is_absolute() and ".." in Path(output).parts:
        raise UserInputError(
            f"{source}: code: snapshot: output {output!r} is outside the sweep's directory, "
            "where a snapshot's stages can't reach it by the same relative path; give an "
            "output root inside it or an absolute path"
        )


def materialise(workdir: Path, output: str, uncommitted: bool) -> Snapshot:
    """The snapshot of the repository's HEAD (extracted unless a run made it before)."""
    commit = _git(workdir, "rev-parse", "HEAD").strip()
    prefix = _git(workdir, "rev-parse", "--show-prefix").strip()
    diff = _git(workdir, "diff", "--binary", "HEAD", binary=True) if uncommitted else ""
    name = commit
    if diff:
        name += "+" + hashlib.sha256(diff.encode("latin-1")).hexdigest()[:12]
    root = (workdir / OutputPaths(output).snapshot(name)).resolve()
    if not root.is_dir():
        _extract(workdir, commit, diff, root)
    snapshot = Snapshot(name, root, root / prefix)
    link_ignored(workdir.resolve(), snapshot.workdir, ignored_entries(workdir))
    _reach_output(workdir.resolve(), snapshot.workdir, output)
    return snapshot


def _extract(workdir: Path, commit: str, diff: str, root: Path) -> None:
    """``git archive`` into a temporary directory, then one rename: a run killed midway
    leaves no half snapshot, and two runs making the same one keep the first."""
    root.parent.mkdir(parents=True, exist_ok=True)
    temporary = root.with_name(f".{root.name}.{os.getpid()}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=workdir, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(temporary)], input=archive.stdout, check=True)
    if diff:  # the ceiling: in the repository's tree, git would apply to the repository
        outside = {**os.environ, "GIT_CEILING_DIRECTORIES": str(temporary.parent)}
        subprocess.run(
            ["git", "apply", "--binary", "-"],
            cwd=temporary,
            input=diff.encode("latin-1"),
            env=outside,
            check=True,
        )
    try:
        temporary.rename(root)
    except OSError:  # another run made it meanwhile
        shutil.rmtree(temporary, ignore_errors=True)


def ignored_entries(workdir: Path) -> set[str]:
    """The entries of the sweep's directory that git ignores: data, not code. (Untracked files
    git does not ignore are left out: they may be code the commit lacks.)"""
    listed = _git(workdir, "ls-files", "--others", "--ignored", "--exclude-standard", "--directory")
    return {line.split("/")[0] for line in listed.splitlines() if line and line != ".git/"}


def link_ignored(original: Path, copy: Path, names: set[str]) -> None:
    """Each of ``names`` that the snapshot lacks becomes a link to the original."""
    for name in sorted(names):
        target = copy / name
        if not os.path.lexists(target):
            target.symlink_to(original / name)


def _reach_output(original: Path, copy: Path, output: str) -> None:
    """The output root by the same relative path, even if git tracks a directory of it."""
    if Path(output).is_absolute():
        return
    parts = Path(output).parts
    for depth in range(1, len(parts) + 1):
        place = copy.joinpath(*parts[:depth])
        if place.is_symlink():
            return
        if not place.exists():
            place.symlink_to(original.joinpath(*parts[:depth]))
            return
    shutil.rmtree(place)  # the commit's copy of a tracked output root: the stages need the real one
    place.symlink_to(original.joinpath(*parts))


def use_snapshot(output: str, uncommitted: bool) -> Snapshot:
    """``onstart``: make (or reuse) the snapshot and tell every stage of this run about it."""
    workdir = Path.cwd()
    snapshot = materialise(workdir, output, uncommitted)
    os.environ[CODE_DIR] = str(snapshot.workdir)
    os.environ[CODE_ID] = snapshot.name
    os.environ[ROOT] = str(workdir)
    print(f"exptflow: stages run from the snapshot {snapshot.root}", flush=True)
    return snapshot

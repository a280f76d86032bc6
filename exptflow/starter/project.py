"""``exptflow init SCRIPT``: a starter sweep file from the script's argparse parser, and a
``.gitignore`` entry for the experiments root. Never overwrites a file.

The parser comes from running the script (the same Python, in a process of its own) up to its
``parse_args`` (``capture``): the script's own imports and parser code run, its training does
not.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from exptflow.errors import UserInputError
from exptflow.starter.sweep_text import Argument, plan, sweep_text

# What exptflow writes beside the sweep that does not belong in git: Snakemake's own state.
IGNORED_ALWAYS = (".snakemake/",)


@dataclass(frozen=True)
class Started:
    """What ``init`` wrote."""

    sweep: Path
    passed: int  # arguments the command passes
    left_out: list[str]  # options it does not, with why
    ignored: list[str]  # entries added to .gitignore


def init_project(
    script: str, out: Path, workdir: Path, output: str = "output", timeout: float = 60.0
) -> Started:
    target = workdir / out
    if target.exists():
        raise UserInputError(
            f"{out} exists; exptflow init never overwrites a file: write the starter "
            f"elsewhere with `exptflow init {shlex.quote(script)} --out other.yaml`"
        )
    if not (workdir / script).is_file():
        raise UserInputError(f"{script}: no such file; give the training script to read")
    params, left_out = plan(capture_arguments(script, workdir, timeout))
    write_new(target, sweep_text(shlex.quote(script), params, left_out))
    ignored = add_to_gitignore(workdir / ".gitignore", [f"{output.strip('/')}/", *IGNORED_ALWAYS])
    return Started(out, len(params), [f"{i.option}: {i.why}" for i in left_out], ignored)


def write_new(path: Path, text: str) -> None:
    try:
        with open(path, "x", encoding="utf-8") as handle:  # "x": a file made meanwhile stays
            handle.write(text)
    except FileExistsError:
        raise UserInputError(f"{path}: created meanwhile; left as it is") from None
    except OSError as error:
        raise UserInputError(f"{path}: can't be written ({error.strerror}); give --out") from None


def capture_arguments(script: str, workdir: Path, timeout: float) -> list[Argument]:
    """The script's parser, from running it up to ``parse_args``."""
    with tempfile.TemporaryDirectory(prefix="exptflow-init-") as scratch:
        described = Path(scratch) / "parser.json"
        command = [sys.executable, "-m", "exptflow.starter.capture", str(described), script]
        code, said = _run(command, workdir, timeout, script)
        if not described.exists():
            raise UserInputError(_no_parser(script, code, said))
        data = json.loads(described.read_text(encoding="utf-8"))
    return [Argument.from_json(action) for action in data["actions"]]


def _run(command: list[str], workdir: Path, timeout: float, script: str) -> tuple[int, str]:
    process = subprocess.Popen(
        command,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,  # so a timeout ends whatever the script started, too
    )
    try:
        said, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise UserInputError(
            f"{script}: ran {timeout:g} s without parsing its arguments; exptflow init reads "
            "the parser an argparse script builds before it trains (give it longer with "
            "--timeout SECONDS)"
        ) from None
    return process.returncode, said


def _no_parser(script: str, code: int, said: str) -> str:
    if code != 0:
        last = [line for line in said.strip().splitlines() if line.strip()][-1:]
        return (
            f"{script}: exited with code {code} before parsing its arguments"
            + (f" ({last[0].strip()})" if last else "")
            + "; fix the script so that `python "
            + f"{script} --help` works, then run exptflow init again"
        )
    return (
        f"{script}: ran to the end without calling argparse's parse_args; exptflow init reads "
        "the argparse parser of a script (write params.yaml by hand for other scripts)"
    )


def add_to_gitignore(path: Path, entries: list[str]) -> list[str]:
    """Append the entries ``path`` lacks (``output``, ``/output`` and ``output/`` are one)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    have = {line.strip().strip("/") for line in text.splitlines()}
    missing = [entry for entry in entries if entry.strip("/") not in have]
    if missing:
        before = "\n" if text and not text.endswith("\n") else ""
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(before + "".join(f"{entry}\n" for entry in missing))
    return missing

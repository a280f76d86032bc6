"""Param values reach the program literally, as one argument each, never executed."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest
import yaml

from conftest import exptflow, snakemake, write_sweep

pytestmark = pytest.mark.slow

HOSTILE = [
    "two words",
    "it's",
    'say "hi"',
    "x; touch INJECTED",
    "$(touch INJECTED)",
    "`touch INJECTED`",
    "a && touch INJECTED",
    "a | tee INJECTED",
    "$HOME",
    "-n",
    "*",
    "line\nbreak",
    "naïve ünïcode",
    "../../escape",
]


def test_hostile_values_arrive_literally(tmp_path: Path) -> None:
    show_argv = (
        f"{shlex.quote(sys.executable)} -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"
    )
    sweep = {
        "template": {"t": f"{show_argv} {{v}} [w] > {{_output}}/argv.json"},
        "default": {"w": "flag value"},
    }
    text = yaml.safe_dump(sweep) + "---\n" + yaml.safe_dump({"v": HOSTILE})
    write_sweep(tmp_path, text)
    exptflow(tmp_path, "compile")
    snakemake(tmp_path)
    received = sorted(
        json.loads(path.read_text())[0] for path in tmp_path.glob("output/*/argv.json")
    )
    assert received == sorted(HOSTILE)
    assert all(
        json.loads(path.read_text())[1:] == ["--w", "flag value"]
        for path in tmp_path.glob("output/*/argv.json")
    )
    assert not list(tmp_path.rglob("INJECTED"))
    directories = [
        p for p in (tmp_path / "output").iterdir() if p.is_dir() and p.name != ".exptflow"
    ]
    assert len(directories) == len(HOSTILE)
    assert all(p.resolve().parent == (tmp_path / "output").resolve() for p in directories)


def test_time_reaches_the_program_inside_single_quotes_too(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        "template:\n  t: echo 'started {_time}' \"and {_time}\" {_time} > {_output}/when\n"
        "---\na: 1\n",
    )
    exptflow(tmp_path, "run", "--cores", "1")
    words = (tmp_path / "output/a=1/when").read_text().split()
    assert words[0] == "started" and words[2] == "and"
    stamps = {words[1], words[3], words[4]}
    assert len(stamps) == 1 and re.fullmatch(r"\d{8}\.\d{6}.*", stamps.pop()), words

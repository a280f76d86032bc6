"""The wheel carries workflow/ and profiles/, and the job wrapper stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, write_sweep

pytestmark = pytest.mark.slow


def test_wheel_compiles_and_runs_a_sweep(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("exptflow-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    write_sweep(
        sweep,
        'template:\n  t: python -c "import exptflow; print(exptflow.__file__)"\n'
        "resource: [0]\n---\na: [1, 2]\n",
    )
    environment = {**os.environ, "PYTHONPATH": str(site)}
    for command in (["-m", "exptflow", "compile"], ["-m", "snakemake"]):
        subprocess.run(
            [sys.executable, *command], cwd=sweep, env=environment, check=True, capture_output=True
        )
    assert (sweep / "profiles/default/config.v8+.yaml").exists()
    logs = [p.read_text() for p in sweep.glob("output/*/log.t.*")]
    assert len(logs) == 2 and all(log.startswith(str(site)) for log in logs), logs


def test_job_wrapper_imports_no_heavy_module() -> None:
    probe = (
        "import sys, json, exptflow.job; "
        "print(json.dumps(sorted(m for m in ('yaml', 'pandas', 'snakemake', 'git', 'numpy') "
        "if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []

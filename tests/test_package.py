"""The wheel carries workflow/ and profiles/, and the job wrapper stays light."""

from __future__ import annotations

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


HEAVY = ("yaml", "pandas", "snakemake", "git", "numpy", "matplotlib")


@pytest.mark.parametrize("package", ["runtime", "layout"])
def test_the_job_side_imports_the_standard_library_only(package: str) -> None:
    # Every module of the package, imported with the heavy ones made unimportable: a module
    # that imports one at its top fails here (the wrapper runs thousands of times).
    modules = sorted(
        f"exptflow.{package}.{path.stem}"
        for path in (REPO / "exptflow" / package).glob("*.py")
        if path.stem != "__init__"
    )
    probe = (
        f"import sys; sys.modules.update(dict.fromkeys({HEAVY!r})); "
        f"import importlib; [importlib.import_module(m) for m in {modules!r}]; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout == "ok\n", result.stderr
    assert len(modules) >= 5

"""A full disk or a read-only output directory fails that experiment clearly and leaves the
other experiments' records intact (needs root to mount a small tmpfs; skipped otherwise)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import exptflow, snakemake, write_sweep

pytestmark = pytest.mark.slow


def mount(*arguments: str) -> None:
    result = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here: {result.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    output = tmp_path / "output"
    output.mkdir()
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(output))
    try:
        yield output
    finally:
        subprocess.run(["umount", "-l", str(output)], check=False)


def test_full_disk_fails_that_experiment_only(tmp_path: Path, small_disk: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          train: >
            head -c {size} /dev/zero > {_output}/checkpoint ||
            (rm -f {_output}/checkpoint; exit 1)
        ---
        size: [1000, 5000000]
        """,
    )
    exptflow(tmp_path, "compile")
    result = snakemake(tmp_path, "--cores", "1", check=False)  # one at a time: the disk is shared
    assert result.returncode != 0
    big, small = tmp_path / "output/size=5000000", tmp_path / "output/size=1000"
    failed = json.loads((big / ".exptflow/stage.train.json").read_text())
    assert failed["state"] == "failed" and failed["exit_code"] == 1
    assert (
        f"exptflow: stage train of output/size=5000000 exited with code 1; log: output/size=5000000/{failed['log']}"
        in (result.stderr)
    )
    assert json.loads((small / ".exptflow/stage.train.json").read_text())["state"] == "done"
    assert (small / "checkpoint").stat().st_size == 1000


def test_output_turning_read_only_during_a_stage_fails_clearly(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    mount("--bind", str(probe), str(probe))  # skips the test where mounting is not allowed
    subprocess.run(["umount", str(probe)], check=True)
    write_sweep(
        tmp_path,
        """
        template:
          train: >
            echo {a} > {_output}/result &&
            if [ {a} = 2 ]; then mount --bind {_output} {_output} &&
            mount -o remount,ro,bind {_output}; fi
        ---
        a: [1, 2]
        """,
    )
    exptflow(tmp_path, "compile")
    try:
        result = snakemake(tmp_path, check=False)
    finally:
        subprocess.run(["umount", "-l", str(tmp_path / "output/a=2")], check=False)
    assert result.returncode != 0
    assert "exptflow: stage train of output/a=2 failed: cannot write" in result.stderr
    assert "Read-only file system" in result.stderr
    assert "Traceback" not in result.stderr
    finished = json.loads((tmp_path / "output/a=1/.exptflow/stage.train.json").read_text())
    assert finished["state"] == "done"
    assert (tmp_path / "output/a=1/result").read_text() == "1\n"
    assert not (tmp_path / "output/a=2/.exptflow/train.done").exists()

"""`cache: true`: a stage's results go to Snakemake's between-workflow cache, and another sweep
that needs the same stage with the same command gets them without running it."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import (
    executions,
    exptflow,
    records,
    start,
    state_of,
    wait_for,
    write_sweep,
)

pytestmark = pytest.mark.slow

# prep counts its runs in a file both projects share (their parent directory).
SWEEP = """
template:
  prep:
    cmd: echo {data} >> ../prep-runs && mkdir -p {_output}/prep && echo prepared {data} > {_output}/prep/data.txt
    cache: true
  train:
    cmd: echo {data} >> ../train-runs && cat {_output}/prep/data.txt > {_output}/model.txt
    gpus: 0
---
data: [wmt, iwslt]
"""


def project(parent: Path, name: str, sweep: str = SWEEP) -> Path:
    directory = parent / name
    directory.mkdir()
    write_sweep(directory, sweep)
    return directory


def stored(output: str) -> list[str]:
    return [line for line in output.splitlines() if "to cache." in line]


def test_a_second_project_sharing_the_cache_runs_prep_0_times(
    tmp_path: Path, isolated_output_cache: Path
) -> None:
    first = exptflow(project(tmp_path, "first"), "run", "--verbose")  # Snakemake's output
    assert sorted(executions(tmp_path / "prep-runs")) == ["iwslt", "wmt"]
    assert "Moving output file output/data=wmt/prep to cache." in first.stderr

    second_dir = project(tmp_path, "second")
    second = exptflow(second_dir, "run", "--verbose")
    assert sorted(executions(tmp_path / "prep-runs")) == ["iwslt", "wmt"], "prep ran again"
    assert stored(second.stderr) == [], "a hit stores nothing"
    assert "Symlinking output file output/data=wmt/prep/data.txt from cache." in second.stderr
    assert len(executions(tmp_path / "train-runs")) == 4, "train is not cached: it runs"
    assert (second_dir / "output/data=wmt/model.txt").read_text() == "prepared wmt\n"
    # The record came with the results: prep is done here, made by the first project's run.
    prep = [r for r in records(second_dir) if r["stage"] == "prep"]
    assert [r["state"] for r in prep] == ["done", "done"]
    status = exptflow(second_dir, "status").stdout
    assert "2 experiments, 4 stages: 4 done" in status
    assert exptflow(second_dir, "run").stdout.count("0 new, 4 done, 0 outdated") == 1
    assert list(isolated_output_cache.glob("*_result")), "the cache holds the results"


def test_a_changed_command_misses_the_cache(tmp_path: Path) -> None:
    first_dir = project(tmp_path, "first")
    exptflow(first_dir, "run")
    changed = SWEEP.replace("echo prepared", "echo prepared-v2")
    second_dir = project(tmp_path, "second", changed)

    second = exptflow(second_dir, "run", "--verbose")
    assert sorted(executions(tmp_path / "prep-runs")) == ["iwslt", "iwslt", "wmt", "wmt"]
    assert "Moving output file output/data=wmt/prep to cache." in second.stderr
    assert (second_dir / "output/data=wmt/model.txt").read_text() == "prepared-v2 wmt\n"
    # The first project's cached results are untouched by the second's.
    assert (first_dir / "output/data=wmt/prep/data.txt").read_text() == "prepared wmt\n"


def test_an_edited_command_reruns_in_place_and_keeps_the_old_entry(tmp_path: Path) -> None:
    directory = project(tmp_path, "first")
    exptflow(directory, "run")
    write_sweep(directory, SWEEP.replace("echo prepared", "echo prepared-v2"))
    rerun = exptflow(directory, "run")
    assert "0 new, 0 done, 4 outdated" in rerun.stdout
    assert len(executions(tmp_path / "prep-runs")) == 4
    assert (directory / "output/data=wmt/model.txt").read_text() == "prepared-v2 wmt\n"
    # Back to the first command: its results are still in the cache.
    write_sweep(directory, SWEEP)
    exptflow(directory, "run")
    assert len(executions(tmp_path / "prep-runs")) == 4
    assert (directory / "output/data=wmt/model.txt").read_text() == "prepared wmt\n"


PACKED = SWEEP.replace("    cache: true\n", "    cache: true\n    pack: 2\n")


def test_a_packed_cached_stage_is_shared_too(tmp_path: Path) -> None:
    exptflow(project(tmp_path, "first", PACKED), "run")
    second_dir = project(tmp_path, "second", PACKED)
    exptflow(second_dir, "run")
    assert len(executions(tmp_path / "prep-runs")) == 2
    assert (second_dir / "output/data=iwslt/model.txt").read_text() == "prepared iwslt\n"


def test_the_profile_enables_the_cache_only_for_sweeps_that_cache(tmp_path: Path) -> None:
    cached = project(tmp_path, "cached")
    exptflow(cached, "compile")
    assert "\ncache: true\n" in (cached / "profiles/default/config.v8+.yaml").read_text()
    plain = project(tmp_path, "plain", SWEEP.replace("    cache: true\n", ""))
    exptflow(plain, "compile")
    assert "cache:" not in (plain / "profiles/default/config.v8+.yaml").read_text()


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        (
            "prep: {cmd: 'python prep.py --out {_output}', cache: true}",
            "params.yaml: template.prep.cache: a cached stage keeps its results in "
            "`{_output}/prep` (the directory the cache stores and restores); write them there, "
            "e.g. `--out {_output}/prep`",
        ),
        (
            "prep: {cmd: 'python prep.py --out {_output}/prep', cache: yes-please}",
            "params.yaml: template.prep.cache: 'yes-please' is not true or false; "
            "write `cache: true`",
        ),
    ],
)
def test_bad_cache_settings_are_refused(tmp_path: Path, stage: str, message: str) -> None:
    write_sweep(tmp_path, f"template:\n  {stage}\n---\na: 1\n")
    result = exptflow(tmp_path, "compile", check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "Snakefile").exists()


def test_the_cache_location_defaults_to_the_users_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exptflow.layout.paths import output_cache_dir

    monkeypatch.delenv("SNAKEMAKE_OUTPUT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert output_cache_dir() == tmp_path / "exptflow/snakemake-output-cache"
    monkeypatch.setenv("SNAKEMAKE_OUTPUT_CACHE", str(tmp_path / "mine"))
    assert output_cache_dir() == tmp_path / "mine"


# On SLURM, in-process and packed: tests/test_compose.py (a shared cached prep there).


def test_a_kill_after_a_cached_stage_finished_keeps_it(tmp_path: Path) -> None:
    # The wrapper records "done" and writes the .done file, Snakemake then stores the outputs
    # and unmarks them: a kill in between leaves the markers of all three outputs.
    sweep = SWEEP.replace("echo prepared", "until [ -e ../go ]; do sleep 0.05; done; echo prepared")
    directory = project(tmp_path, "first", sweep.replace("[wmt, iwslt]", "wmt"))
    exptflow(directory, "compile")
    run = start(directory, sys.executable, "-m", "snakemake")
    record_path = directory / "output/data=wmt/.exptflow/stage.prep.json"
    # Its first command has run (a record saying running comes before the command starts).
    wait_for(lambda: executions(tmp_path / "prep-runs") == ["wmt"], what="prep to run")
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    (tmp_path / "go").touch()
    (directory / "output/data=wmt/prep").mkdir(exist_ok=True)
    (directory / "output/data=wmt/prep/data.txt").write_text("prepared wmt\n")
    record = json.loads(record_path.read_text())
    record.update(state="done", exit_code=0, end=time.time())
    record_path.write_text(json.dumps(record))
    (directory / "output/data=wmt/.exptflow/prep.done").touch()

    resumed = exptflow(directory, "run")
    assert "kept 1 stage(s) that had finished before the crash" in resumed.stdout
    assert executions(tmp_path / "prep-runs") == ["wmt"], "prep ran once"
    assert state_of(directory, "data=wmt", "train") == "done"


@pytest.mark.parametrize("sweep", [SWEEP, PACKED], ids=["in-process", "packed"])
def test_turning_the_cache_on_reruns_nothing(tmp_path: Path, sweep: str) -> None:
    directory = project(tmp_path, "first", sweep.replace("    cache: true\n", ""))
    exptflow(directory, "run")
    write_sweep(directory, sweep)
    again = exptflow(directory, "run", "--verbose")
    assert "0 new, 4 done, 0 outdated" in again.stdout
    assert "Nothing to be done" in again.stderr
    assert len(executions(tmp_path / "prep-runs")) == 2

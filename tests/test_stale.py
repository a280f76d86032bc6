"""The sweep is what the table shows: experiments removed from the sweep leave status, show and
results.tsv (``--all`` shows them), ``exptflow clean`` archives them; one sweep per directory."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import pytest

import exptflow
from conftest import exptflow as exptflow_cli
from conftest import snakemake, write_sweep
from exptflow.layout.jsonfiles import write_json
from exptflow.layout.paths import ExperimentPaths

SWEEP = "template:\n  t: echo {a} > {_output}/out\n---\na: [%s]\n"
NOTHING = "Nothing to be done"


def compile_values(directory: Path, values: str, *flags: str, name: str = "params.yaml") -> None:
    write_sweep(directory, SWEEP % values, name)
    exptflow_cli(directory, "compile", *flags)


def results(directory: Path) -> list[str]:
    with open(directory / "output/results.tsv", newline="") as handle:
        return [row["experiment"] for row in csv.DictReader(handle, delimiter="\t")]


@pytest.fixture(scope="module")
def removed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """a=1..3 run, then a=3 removed from the sweep, recompiled, and plain snakemake run."""
    directory = tmp_path_factory.mktemp("removed")
    compile_values(directory, "1, 2, 3")
    snakemake(directory)
    assert results(directory) == ["a=1", "a=2", "a=3"]
    compile_values(directory, "1, 2")
    snakemake(directory)
    return directory


@pytest.mark.slow
def test_plain_snakemake_after_a_removal_recollects_without_the_row(removed: Path) -> None:
    assert results(removed) == ["a=1", "a=2"]
    assert (removed / "output/a=3/out").read_text() == "3\n", "its results stay on disk"


@pytest.mark.slow
def test_status_hides_a_removed_experiment_and_all_marks_it(removed: Path) -> None:
    lines = exptflow_cli(removed, "status").stdout.splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["a=1", "a=2"]
    assert lines[2:] == [
        "2 experiments, 2 stages: 2 done",
        "1 experiment(s) not in the sweep hidden: `exptflow status --all` shows them, "
        "`exptflow clean` archives them",
    ]
    shown = exptflow_cli(removed, "status", "--all").stdout.splitlines()
    assert shown[2].startswith("a=3  t done") and shown[2].endswith("  (not in the sweep)")
    assert shown[3] == "3 experiments, 3 stages: 3 done"


@pytest.mark.slow
def test_show_and_load_hide_a_removed_experiment_unless_all(removed: Path) -> None:
    table = exptflow_cli(removed, "show", "--format", "tsv").stdout.splitlines()
    assert [line.split("\t")[0] for line in table] == ["experiment", "a=1", "a=2"]
    table = exptflow_cli(removed, "show", "--all", "--format", "tsv").stdout.splitlines()
    assert [line.split("\t")[:2] for line in table] == [
        ["experiment", "in_sweep"],
        ["a=1", "True"],
        ["a=2", "True"],
        ["a=3", "False"],
    ]
    assert list(exptflow.load(removed / "output")["experiment"]) == ["a=1", "a=2"]
    frame = exptflow.load(removed / "output", all=True).set_index("experiment")
    assert list(frame["in_sweep"]) == [True, True, False]
    assert frame.loc["a=3", "t_state"] == "done"


@pytest.mark.slow
def test_identical_recompile_leaves_snakemake_nothing_to_do(removed: Path) -> None:
    compile_values(removed, "1, 2")
    dry = snakemake(removed, "-n")
    assert NOTHING in dry.stdout + dry.stderr


@pytest.mark.slow
def test_clean_lists_then_moves_to_the_archive_with_files_intact(tmp_path: Path) -> None:
    compile_values(tmp_path, "1, 2")
    snakemake(tmp_path)
    compile_values(tmp_path, "1")
    stale = tmp_path / "output/a=2"
    files = {p.relative_to(stale): p.read_bytes() for p in stale.rglob("*") if p.is_file()}

    listed = exptflow_cli(tmp_path, "clean")
    assert listed.stdout.splitlines() == [
        "1 experiment(s) under output not in params.yaml:",
        "  output/a=2",
        "nothing moved; to move them to output/.exptflow/archive/<time>/, run: "
        "exptflow clean --yes",
    ]
    assert stale.is_dir()

    moved = exptflow_cli(tmp_path, "clean", "--yes").stdout.splitlines()
    (archive,) = (tmp_path / "output/.exptflow/archive").iterdir()
    restore = "(move one back to restore it)"
    assert moved[-1] == f"moved 1 to output/.exptflow/archive/{archive.name} {restore}"
    assert not stale.exists()
    kept = archive / "a=2"
    assert {p.relative_to(kept): p.read_bytes() for p in kept.rglob("*") if p.is_file()} == files
    assert (tmp_path / "output/a=1/out").read_text() == "1\n", "the sweep's own are untouched"
    assert "a=2" not in exptflow_cli(tmp_path, "status", "--all").stdout
    again = exptflow_cli(tmp_path, "clean").stdout
    assert again == "every experiment under output is in params.yaml: nothing to clean\n"
    snakemake(tmp_path)  # the archive is no input of the workflow: only the table is re-collected
    assert results(tmp_path) == ["a=1"]
    assert NOTHING in snakemake(tmp_path, "-n").stdout


def test_clean_refuses_without_a_compiled_table(tmp_path: Path) -> None:
    (tmp_path / "output/a=1").mkdir(parents=True)
    refused = exptflow_cli(tmp_path, "clean", "--yes", check=False)
    assert refused.returncode == 2
    assert refused.stderr == (
        "error: experiments.json: not found: nothing is compiled here, so no experiment can be "
        "told apart from the sweep's; run `exptflow compile` first, then `exptflow clean`\n"
    )
    assert (tmp_path / "output/a=1").is_dir()
    assert not (tmp_path / "output/.exptflow").exists()


def test_clean_keeps_an_experiment_whose_stage_still_runs(tmp_path: Path) -> None:
    compile_values(tmp_path, "1")
    running = ExperimentPaths.of(tmp_path / "output", "a=9")
    record = {"state": "running", "host": os.uname().nodename, "pid": os.getpid()}
    write_json(running.record("t"), {**record, "start": time.time()})
    result = exptflow_cli(tmp_path, "clean", "--yes").stdout
    assert result == (
        "0 experiment(s) under output not in params.yaml:\n"
        "  output/a=9 (kept: a stage is running)\n"
    )
    assert running.directory.is_dir()


REFUSED = (
    "error: Snakefile and experiments.json were compiled from params.yaml, not other.yaml: "
    "one directory holds one sweep. To keep both, compile other.yaml in a directory of its "
    "own; to replace params.yaml's Snakefile and table, run `exptflow compile other.yaml "
    "--replace` (params.yaml's experiment directories are kept either way)\n"
)


@pytest.mark.parametrize("other_output", [None, "other-output"], ids=["same-root", "own-root"])
def test_second_sweep_is_refused_until_replace(tmp_path: Path, other_output: str | None) -> None:
    compile_values(tmp_path, "1")
    compile_values(tmp_path, "1")  # the same sweep file recompiles as before
    text = SWEEP % "7"
    write_sweep(tmp_path, f"output: {other_output}\n{text}" if other_output else text, "other.yaml")
    before = {name: (tmp_path / name).read_bytes() for name in ("Snakefile", "experiments.json")}

    verbs = (["compile", "other.yaml"], ["run", "--sweep", "other.yaml"], ["run", "other.yaml"])
    for verb in verbs:
        refused = exptflow_cli(tmp_path, *verb, check=False)
        assert (refused.returncode, refused.stderr) == (2, REFUSED)
    assert {name: (tmp_path / name).read_bytes() for name in before} == before

    exptflow_cli(tmp_path, "compile", "other.yaml", "--replace")
    assert "from other.yaml" in (tmp_path / "Snakefile").read_text().splitlines()[0]
    exptflow_cli(tmp_path, "compile", "other.yaml")  # now other.yaml is this directory's sweep


def test_second_sweep_is_refused_by_the_snakefile_alone(tmp_path: Path) -> None:
    compile_values(tmp_path, "1")
    (tmp_path / "experiments.json").unlink()
    write_sweep(tmp_path, SWEEP % "7", "other.yaml")
    refused = exptflow_cli(tmp_path, "compile", "other.yaml", check=False)
    assert (refused.returncode, refused.stderr) == (2, REFUSED)

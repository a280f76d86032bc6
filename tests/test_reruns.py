"""Edit the sweep, recompile, rerun: only what changed runs; finished results are never lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import executions, exptflow, snakemake, write_sweep

pytestmark = pytest.mark.slow

SWEEP = """
template:
  train: echo {{_name}}/train >> executions && echo trained > {{_output}}/model
  test: echo {{_name}}/test >> executions && cat {{_output}}/model
default:
  wd: {wd}
---
a: {values}
"""


def compile_and_run(directory: Path, values: str, wd: str = "0.0", *flags: str) -> str:
    write_sweep(directory, SWEEP.format(values=values, wd=wd))
    summary = exptflow(directory, "compile", *flags).stdout
    snakemake(directory)
    return summary


def ran(directory: Path, before: int) -> list[str]:
    return executions(directory / "executions")[before:]


def test_edit_then_rerun_runs_only_what_changed(tmp_path: Path) -> None:
    compile_and_run(tmp_path, "[1, 2]")
    assert sorted(ran(tmp_path, 0)) == ["a=1/test", "a=1/train", "a=2/test", "a=2/train"]

    summary = compile_and_run(tmp_path, "[1, 2, 3]")
    assert "3 experiments, 6 jobs: 2 new, 4 done, 0 outdated" in summary
    assert ran(tmp_path, 4) == ["a=3/train", "a=3/test"]

    compile_and_run(tmp_path, "[1, 2, 4]")
    assert ran(tmp_path, 6) == ["a=4/train", "a=4/test"]
    assert (tmp_path / "output/a=3/model").exists(), "a dropped experiment keeps its results"

    snakefile = (tmp_path / "Snakefile").read_bytes()
    summary = compile_and_run(tmp_path, "[1, 2, 4]")
    assert "0 new, 6 done, 0 outdated" in summary
    assert (tmp_path / "Snakefile").read_bytes() == snakefile
    assert ran(tmp_path, 8) == []
    assert "Nothing to be done" in snakemake(tmp_path).stdout + snakemake(tmp_path).stderr


def test_changed_template_reruns_that_stage_and_after(tmp_path: Path) -> None:
    compile_and_run(tmp_path, "[1, 2]")
    sweep = tmp_path / "params.yaml"
    sweep.write_text(sweep.read_text().replace("&& cat", "&& head -1"))
    summary = exptflow(tmp_path, "compile").stdout
    assert "2 experiments, 4 jobs: 0 new, 2 done, 2 outdated" in summary
    snakemake(tmp_path)
    assert sorted(ran(tmp_path, 4)) == ["a=1/test", "a=2/test"]


def test_changed_default_is_refused_until_renamed(tmp_path: Path) -> None:
    compile_and_run(tmp_path, "[1, 2]")
    write_sweep(tmp_path, SWEEP.format(values="[1, 2]", wd="0.5"))
    snakefile = (tmp_path / "Snakefile").read_text()
    refused = exptflow(tmp_path, "compile", check=False)
    assert refused.returncode == 2
    assert "2 experiment(s) would reuse a directory that holds other params" in refused.stderr
    assert "output/a=1: wd: 0.0 -> 0.5" in refused.stderr
    assert "exptflow compile --rename-changed" in refused.stderr
    assert (tmp_path / "Snakefile").read_text() == snakefile, "nothing written"

    exptflow(tmp_path, "compile", "--rename-changed")
    snakemake(tmp_path)
    renamed = sorted(p.name for p in (tmp_path / "output").iterdir() if "@" in p.name)
    assert len(renamed) == 2 and all(name.startswith(("a=1@", "a=2@")) for name in renamed)
    assert (tmp_path / "output/a=1/params.json").read_text().count('"wd": 0.0') == 1
    assert "0 new, 4 done" in exptflow(tmp_path, "compile").stdout, "the renaming sticks"


def test_dry_run_prints_each_command_and_writes_nothing(tmp_path: Path) -> None:
    write_sweep(tmp_path, SWEEP.format(values="[1]", wd="0.0"))
    lines = exptflow(tmp_path, "compile", "--dry-run").stdout.splitlines()
    assert lines == [
        "train\toutput/a=1\techo a=1/train >> executions && echo trained > output/a=1/model",
        "test\toutput/a=1\techo a=1/test >> executions && cat output/a=1/model",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_failed_stage_is_recorded_and_others_go_on(tmp_path: Path) -> None:
    write_sweep(
        tmp_path,
        """
        template:
          train: test {a} != 2
          test: echo ok
        ---
        a: [1, 2]
        """,
    )
    exptflow(tmp_path, "compile")
    result = snakemake(tmp_path, check=False)
    assert result.returncode != 0
    status = exptflow(tmp_path, "status").stdout
    assert "a=1  train done" in status and "test done" in status
    assert "a=2  train failed" in status and "test pending" in status
    assert status.splitlines()[-1] == "2 experiments, 4 stages: 2 done, 1 failed, 1 pending"


def test_rerun_after_a_failure_runs_the_failed_stage(tmp_path: Path) -> None:
    write_sweep(tmp_path, "template:\n  t: test ! -e fail-{a}\n---\na: [1, 2]\n")
    (tmp_path / "fail-2").touch()
    exptflow(tmp_path, "compile")
    assert snakemake(tmp_path, check=False).returncode != 0
    assert (tmp_path / "output/results.tsv").exists(), "the table is written after a failure"
    (tmp_path / "fail-2").unlink()
    snakemake(tmp_path)
    assert exptflow(tmp_path, "status").stdout.splitlines()[-1] == "2 experiments, 2 stages: 2 done"


@pytest.mark.parametrize("form", ["in-process", "packed"])
def test_a_rule_exptflow_writes_otherwise_reruns_nothing(tmp_path: Path, form: str) -> None:
    """A newer exptflow may write a stage's rule otherwise (an upgrade): finished stages stay
    done as long as their commands and params do."""
    pack = "\n    pack: 2" if form == "packed" else ""
    write_sweep(
        tmp_path, f"template:\n  train:\n    cmd: echo {{a}} >> executions{pack}\n---\na: [1, 2]\n"
    )
    exptflow(tmp_path, "compile")
    snakemake(tmp_path)
    snakefile = tmp_path / "Snakefile"
    text = snakefile.read_text()
    edited = (
        text.replace("--stage train", "--stage  train", 1)
        if pack
        else text.replace("run:\n", "run:\n        pass  # written otherwise\n", 1)
    )
    assert edited != text
    snakefile.write_text(edited)
    result = snakemake(tmp_path)
    assert "Nothing to be done" in result.stdout + result.stderr
    assert sorted(executions(tmp_path / "executions")) == ["1", "2"]

"""exptflow as a native Snakemake workflow: every generated Snakefile passes `snakemake --lint`,
each stage job prints its real command, and `exptflow report` wraps `snakemake --report`."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from conftest import exptflow, snakemake, write_sweep
from exptflow.compiler.compile import CompileOptions
from exptflow.search.tune import TuneOptions, prepare

VARIANTS = {
    "plain": "template:\n  train: echo {lr} > {_output}/out\n  test: cat {_output}/out\n",
    "gpu slots": (
        "template:\n  train: {cmd: 'echo {lr}', gpus: 1}\n  avg: {cmd: 'echo avg', gpus: 0}\n"
        'resource: [0, "1,2"]\n'
    ),
    "pack": (
        "template:\n  train: {cmd: 'echo {lr}', pack: 4}\n"
        "  test: {cmd: 'echo test', gpus: 0, pack: 2, resources: {runtime: 5m}}\n"
        "resource: [0, 1]\n"
    ),
    "cache": (
        "template:\n  train: {cmd: 'echo {lr} > {_output}/train/out', cache: true}\n"
        "  test: {cmd: 'echo > {_output}/test/out', cache: true, pack: 2}\n"
    ),
    "retries": "template:\n  train: {cmd: 'echo {lr}', retries: 2, resources: {runtime: 30m}}\n",
    "shared": (
        "template:\n  prep: {cmd: 'echo {lr}', shared: true, pack: 2}\n"
        "  train: echo {prep._output} {lr}\n"
        "  gather: {cmd: 'ls {train._output}', shared: true, per: [], gpus: 0}\n"
        "resource: [0, 1]\n"
    ),
    "tune": (
        "template:\n  train: echo {lr}\nsearch: {maximize: score, trials: 4}\n"
        "---\nlr: {loguniform: [1e-4, 1e-1]}\n"
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_generated_snakefile_is_lint_clean(tmp_path: Path, variant: str) -> None:
    if variant == "tune":
        write_sweep(tmp_path, VARIANTS[variant])
        prepare(TuneOptions(CompileOptions(workdir=str(tmp_path))))
    else:
        write_sweep(tmp_path, VARIANTS[variant] + "---\nlr: [0.1, 0.01]\n")
        exptflow(tmp_path, "compile")
    # Snakemake 9 lists each finding under "Lints for ..." and exits 1 when there is one.
    result = snakemake(tmp_path, "--lint", check=False)
    said = result.stdout + result.stderr
    assert "Lints for" not in said, said
    assert "Congratulations, your workflow is in a good condition!" in said
    assert result.returncode == 0


EIGHT = """
template:
  train: echo train {lr} {seed} > {_output}/out
  test: >
    python3 -c "import json, sys; json.dump({'acc': float(sys.argv[1]) + 0.5},
    open(sys.argv[2] + '/metrics.json', 'w'))" {lr} {_output}
---
lr: [0.125, 0.25]
seed: [0, 1, 2, 3]
"""


@pytest.mark.slow
def test_each_stage_job_prints_its_real_command_and_no_job_lists_its_inputs(
    tmp_path: Path,
) -> None:
    write_sweep(tmp_path, EIGHT)
    exptflow(tmp_path, "compile")
    said = snakemake(tmp_path).stderr
    assert (
        "Job " in said
        and ": train lr=0.125+seed=3: echo train 0.125 3 > output/lr=0.125+seed=3/out\n" in said
    )
    command = (
        "python3 -c \"import json, sys; json.dump({'acc': float(sys.argv[1]) + 0.5}, "
        "open(sys.argv[2] + '/metrics.json', 'w'))\" 0.25 output/lr=0.25+seed=0"
    )
    assert f": test lr=0.25+seed=0: {command}\n" in said
    assert ": the results table: output/results.tsv\n" in said
    assert ": every stage of the sweep, and the results table\n" in said
    assert "Shell command" not in said
    # Each .done path once in the collector's reason and once in the target's, never as an
    # `input:` line besides (8 experiments: lines of a kilobyte each).
    assert "    input:" not in said
    assert said.count("output/lr=0.125+seed=2/.exptflow/test.done") == 3  # its job, collect, all


REPORTED = """
template:
  train: >
    python3 -c "import json, sys; json.dump({'acc': float(sys.argv[1]) * 2},
    open(sys.argv[2] + '/metrics.json', 'w'))" {lr} {_output}
  test: echo tested {_name}
---
lr: [0.125, 0.375]
"""


def _embedded(report: str) -> dict[str, bytes]:
    """The files a self-contained Snakemake report embeds, by name (base64 data URIs)."""
    found = re.finditer(
        r"data:[^;]+;charset=[^;]*;filename=([^;]+);base64,([A-Za-z0-9+/=]+)", report
    )
    return {match[1]: base64.b64decode(match[2]) for match in found}


def _script_value(report: str, name: str) -> object:
    start = report.index(f"var {name} = ") + len(f"var {name} = ")
    return json.loads(report[start : report.index("\n", start)].rstrip(";"))


@pytest.mark.slow
def test_exptflow_report_holds_the_results_the_commands_runtimes_and_plots(
    tmp_path: Path,
) -> None:
    write_sweep(tmp_path, REPORTED)
    exptflow(tmp_path, "run")
    exptflow(tmp_path, "plot", "acc", "--x", "lr")
    result = exptflow(tmp_path, "report", "--out", "sweep.html")
    assert result.stdout.splitlines() == [
        "exptflow: output/.exptflow/report/pages: results.html, stages.html (2 experiments)",
        "exptflow: output/.exptflow/report/plots/acc.png",
        "wrote sweep.html",
    ]
    report = (tmp_path / "sweep.html").read_text()
    files = _embedded(report)
    assert set(files) >= {"results.html", "stages.html", "results.tsv", "acc.png"}
    results = files["results.html"].decode()
    assert "<td>lr=0.375</td><td>0.375</td><td>done</td>" in results
    assert "<td>0.75</td>" in results and "<td>0.25</td>" in results  # the metric, per row
    stages = files["stages.html"].decode()
    assert "<td>lr=0.125</td><td>test</td><td>done</td>" in stages
    assert "<td>echo tested lr=0.125</td>" in stages  # the real command of that experiment
    assert re.search(r"<td>train</td><td>done</td><td>\d+\.\d\d s</td>", stages)
    assert files["acc.png"].startswith(b"\x89PNG")
    runtimes = _script_value(report, "runtimes_spec")["data"]["values"]  # type: ignore[index]
    assert sorted({entry["rule"] for entry in runtimes}) == ["collect", "test", "train"]


def test_report_needs_a_compiled_sweep(tmp_path: Path) -> None:
    result = exptflow(tmp_path, "report", check=False)
    assert result.returncode == 2
    assert (
        result.stderr == "error: exptflow report: nothing compiled here; run `exptflow compile`\n"
    )


@pytest.mark.slow
@pytest.mark.parametrize(("resource", "cpu_sees"), [("resource: [0, 1]\n", ""), ("", None)])
def test_packed_stages_take_a_slot_or_none_as_stages_in_snakemake_do(
    tmp_path: Path, resource: str, cpu_sees: str | None
) -> None:
    write_sweep(
        tmp_path, VARIANTS["pack"].replace("resource: [0, 1]\n", resource) + "---\nlr: [0.1]\n"
    )
    exptflow(tmp_path, "run")
    train, test = (
        json.loads((tmp_path / f"output/lr=0.1/.exptflow/stage.{s}.json").read_text())
        for s in ("train", "test")
    )
    assert train["state"] == test["state"] == "done"
    assert train["cuda_visible_devices"] in (["0", "1"] if resource else [None])
    assert test["cuda_visible_devices"] == cpu_sees  # a CPU stage: no GPU when slots exist


@pytest.mark.slow
def test_a_report_after_a_failed_stage_shows_the_failure_and_what_is_left(tmp_path: Path) -> None:
    write_sweep(tmp_path, "template:\n  t: test ! -e fail-{a}\n  u: echo u {a}\n---\na: [1, 2]\n")
    (tmp_path / "fail-2").touch()
    exptflow(tmp_path, "run", check=False)
    exptflow(tmp_path, "report")
    stages = _embedded((tmp_path / "report.html").read_text())["stages.html"].decode()
    assert re.search(
        r"<tr><td>a=2</td><td>t</td><td>failed</td><td>\d+\.\d\d s</td><td>test ! -e fail-2</td>",
        stages,
    )
    assert "<tr><td>a=2</td><td>u</td><td>pending</td><td></td><td>echo u 2</td>" in stages

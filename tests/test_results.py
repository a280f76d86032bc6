"""Results: every metric source lands in one table; failures and corrupt files are reported,
never fatal; query, group-over, incremental re-collection, show formats and plots."""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path

import pytest

import exptflow
from conftest import exptflow as exptflow_cli
from conftest import snakemake, write_sweep
from exptflow.results import collect, plot, show
from exptflow.results import load as results
from exptflow.results.sources import _REGISTERED

pytestmark = pytest.mark.slow

TRAINER = """
import sys, exptflow
lr, seed = float(sys.argv[1]), int(sys.argv[2])
for step in range(1, 4):
    exptflow.log(step=step, loss=lr * seed / step)
exptflow.summary(best=lr + seed)
print(f"BLEU4 = {10 * lr + seed:.2f}")
print(f"BLEU4 = {lr:.2f}")
"""

PARSERS = """
def count_checkpoints(directory, record):
    return {"checkpoints": len(list(directory.glob("ckpt*"))), "lr_seen": record["params"]["lr"]}
"""

SWEEP = f"""
template:
  train: >
    test {{lr}} != 0.3 && touch {{_output}}/ckpt1 {{_output}}/ckpt2 &&
    {sys.executable} trainer.py {{lr}} {{seed}}
  test: >
    echo '{{"acc": {{lr}}}}' > {{_output}}/metrics.json
metrics:
  bleu: {{stage: train, regex: 'BLEU4 = ([0-9.]+)', reduce: max}}
parsers: [parsers:count_checkpoints]
---
lr: [0.1, 0.2, 0.3]
seed: [1, 2]
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("results")
    (directory / "trainer.py").write_text(TRAINER)
    (directory / "parsers.py").write_text(PARSERS)
    write_sweep(directory, SWEEP)
    exptflow_cli(directory, "compile")
    snakemake(directory, check=False)  # lr=0.3 fails; keep-going runs the rest
    return directory


def table(directory: Path) -> list[dict[str, str]]:
    with open(directory / "output/results.tsv", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_every_metric_source_lands_in_the_table(sweep: Path) -> None:
    rows = {row["experiment"]: row for row in table(sweep)}
    assert len(rows) == 6
    row = rows["lr=0.2+seed=2"]
    assert row["train_state"] == "done" and row["test_state"] == "done"
    assert float(row["acc"]) == 0.2  # metrics.json
    assert float(row["loss"]) == pytest.approx(0.2 * 2 / 3)  # last exptflow.log value
    assert float(row["best"]) == 2.2  # exptflow.summary
    assert float(row["bleu"]) == 4.0  # regex over the train log, max of 4.00 and 0.20
    assert row["checkpoints"] == "2" and row["lr_seen"] == "0.2"  # Python parser
    assert list(row)[:3] == ["experiment", "lr", "seed"]


def test_failed_experiment_is_reported_with_empty_metrics(sweep: Path) -> None:
    failed = [row for row in table(sweep) if row["lr"] == "0.3"]
    assert len(failed) == 2
    for row in failed:
        assert row["train_state"] == "failed" and row["test_state"] == "pending"
        assert row["acc"] == row["loss"] == row["bleu"] == ""


def test_query_and_group_over_give_the_right_numbers(sweep: Path) -> None:
    done = exptflow.load(sweep / "output", query="train_state == 'done' and lr <= 0.15")
    assert sorted(done["experiment"]) == ["lr=0.1+seed=1", "lr=0.1+seed=2"]
    grouped = exptflow.load(sweep / "output", query="test_state == 'done'", group_over=["seed"])
    assert list(grouped["lr"]) == [0.1, 0.2]
    second = grouped.set_index("lr").loc[0.2]
    losses = [0.2 * 1 / 3, 0.2 * 2 / 3]
    assert second["loss_mean"] == pytest.approx(statistics.fmean(losses))
    assert second["loss_std"] == pytest.approx(statistics.stdev(losses))
    assert second["loss_count"] == 2


def test_series_loads_one_metric_lazily(sweep: Path) -> None:
    points = exptflow.series(sweep / "output", "lr=0.1+seed=2", "loss")
    assert list(points["step"]) == [1, 2, 3]
    assert list(points["loss"]) == pytest.approx([0.2, 0.1, 0.2 / 3])


def test_corrupt_files_warn_and_the_rest_of_the_table_stays(
    sweep: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = sweep / "output" / "lr=0.1+seed=1"
    (broken / "metrics.json").write_text('{"acc": 0.1,\n "oops"}\n')
    with open(broken / "metrics.jsonl", "a") as handle:
        handle.write("{not json\n")
    frame = exptflow.load(sweep / "output")
    error = capsys.readouterr().err
    assert f"warning: {broken / 'metrics.json'}: line 2:" in error
    assert f"warning: {broken / 'metrics.jsonl'}: line 4:" in error
    assert len(frame) == 6
    row = frame.set_index("experiment").loc["lr=0.1+seed=1"]
    assert row["loss"] == pytest.approx(0.1 / 3), "the good lines of the series still count"
    assert frame.set_index("experiment").loc["lr=0.2+seed=1", "acc"] == 0.2


def test_recollect_reads_only_changed_directories(sweep: Path) -> None:
    sources = collect.sources_from_table(sweep)
    collect.collect(sources)
    unchanged = collect.collect(sources)
    assert (unchanged.read, unchanged.reused) == (0, 6)
    (sweep / "output/lr=0.2+seed=1/summary.json").write_text('{"best": 99}\n')
    changed = collect.collect(sources)
    assert (changed.read, changed.reused) == (1, 5)
    row = next(r for r in changed.rows if r["experiment"] == "lr=0.2+seed=1")
    assert row["best"] == 99


def test_registered_parser_applies_in_load(sweep: Path) -> None:
    @exptflow.register_parser
    def name_length(directory: Path, record: dict) -> dict:
        return {"name_length": len(directory.name)}

    try:
        frame = exptflow.load(sweep / "output")
    finally:
        _REGISTERED.remove(name_length)
    assert set(frame["name_length"]) == {len("lr=0.1+seed=1")}


@pytest.mark.parametrize(
    ("form", "first_line"),
    [
        pytest.param("table", "experiment", id="table"),
        pytest.param("tsv", "experiment\tlr", id="tsv"),
        pytest.param("csv", "experiment,lr", id="csv"),
        pytest.param("md", "| experiment | lr |", id="md"),
        pytest.param("latex", "\\begin{tabular}", id="latex"),
        pytest.param("json", "[", id="json"),
    ],
)
def test_show_formats(sweep: Path, form: str, first_line: str) -> None:
    result = exptflow_cli(sweep, "show", "--sort", "lr", "--desc", "--format", form)
    assert result.stdout.startswith(first_line)
    if form == "json":
        assert json.loads(result.stdout)[0]["lr"] == 0.3


def test_show_hides_constant_columns_and_sorts(sweep: Path) -> None:
    lines = exptflow_cli(
        sweep, "show", "--query", "test_state == 'done'", "--sort", "bleu", "--desc"
    ).stdout.splitlines()
    header = lines[0].split()
    assert "lr" in header and "test_state" not in header and "directory" not in header
    assert lines[1].startswith("lr=0.2+seed=2")


def test_metric_plot_has_a_line_per_hue_and_a_point_per_x(sweep: Path, tmp_path: Path) -> None:
    frame = results.load(sweep / "output", query="test_state == 'done'")
    figure = plot.metric_against_param(frame, "loss", x="seed", hue="lr")
    (axes,) = figure.axes
    assert len(axes.containers) == 2, "one error-bar line per lr"
    assert [len(bars.lines[0].get_xdata()) for bars in axes.containers] == [2, 2]
    assert [label.get_text() for label in axes.get_legend().get_texts()] == ["lr=0.1", "lr=0.2"]
    path = plot.save(figure, tmp_path / "loss.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curves_plot_and_cli(sweep: Path) -> None:
    frame = results.load(sweep / "output", query="train_state == 'done'")
    figure = plot.curves(frame, sweep / "output", "loss")
    assert len(figure.axes[0].lines) == 4
    assert all(len(line.get_xdata()) == 3 for line in figure.axes[0].lines)
    out = exptflow_cli(sweep, "plot", "acc", "--x", "lr", "--hue", "seed", "--out", "acc.png")
    assert out.stdout.strip() == "wrote acc.png"
    assert (sweep / "acc.png").read_bytes()[:4] == b"\x89PNG"


def test_show_format_helpers_escape() -> None:
    assert show._latex_escape("a_b&c") == "a\\_b\\&c"


def test_log_outside_exptflow_is_a_no_op_unless_initialised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXPTFLOW_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    exptflow.log(step=1, loss=1.0)
    assert list(tmp_path.iterdir()) == []
    try:
        exptflow.init(tmp_path / "by-hand")
        exptflow.log(step=1, loss=0.5)
        exptflow.summary(acc=0.9)
    finally:
        exptflow.init(None)
    assert json.loads((tmp_path / "by-hand/metrics.jsonl").read_text())["loss"] == 0.5
    assert json.loads((tmp_path / "by-hand/summary.json").read_text()) == {"acc": 0.9}

"""Export to MLflow and TensorBoard from a real sweep run, read back with MLflow's client (a
local SQLite store, no server) and TensorBoard's event reader; a re-export updates the runs
and event files, never duplicates them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import exptflow, write_sweep
from exptflow.export.to_tensorboard import EVENTS, domain_of

mlflow = pytest.importorskip("mlflow")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
from tensorboard.plugins.hparams import api_pb2, metadata  # noqa: E402

TRAINER = """
import json, os, sys
import exptflow
lr, seed = float(sys.argv[1]), int(sys.argv[2])
for step in range(1, 4):
    exptflow.log(step=step * 10, loss=lr * seed / step)
exptflow.summary(best=lr + seed)
exptflow.artifact("predictions", name="preds.txt")
print("trained", lr, seed)
if lr == 0.3:
    sys.exit(3)
"""

SWEEP = f"""
template:
  train: {sys.executable} trainer.py {{lr}} {{seed}}
  test: >
    {sys.executable} -c "import json, sys; json.dump({{'acc': 1 - float(sys.argv[1]),
    'note': 'ok', 'top@1': 0.5}}, open('{{_output}}/metrics.json', 'w'))" {{lr}}
---
lr: [0.1, 0.2, 0.3]
seed: [1]
---
lr: [0.1]
seed: [2]
"""

NAMES = ["lr=0.1+seed=1", "lr=0.2+seed=1", "lr=0.3+seed=1", "lr=0.1+seed=2"]


def run_sweep(directory: Path) -> Path:
    """A git repository with a committed sweep, run with `exptflow run` (lr=0.3 fails)."""
    directory.mkdir(exist_ok=True)
    (directory / "trainer.py").write_text(TRAINER)
    write_sweep(directory, SWEEP)
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "sweep"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *command],
            cwd=directory,
            check=True,
        )
    exptflow(directory, "run", check=False)  # keep-going: the failed stage ends the run with 1
    return directory


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_sweep(tmp_path_factory.mktemp("export") / "digits")


def head(directory: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One local store for the module (creating one takes MLflow 5-10 s of migrations); each
    test exports to an MLflow experiment of its own."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def runs_by_name(uri: str, experiment: str = "digits/params") -> dict[str, object]:
    client = mlflow.MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], max_results=1000)
    names = [run.info.run_name for run in runs]
    assert sorted(names) == sorted(set(names)), f"a run exported twice: {names}"
    return {run.info.run_name: run for run in runs}


def loss_history(uri: str, run: object) -> list[tuple[int, float]]:
    history = mlflow.MlflowClient(uri).get_metric_history(run.info.run_id, "loss")
    return sorted((metric.step, metric.value) for metric in history)


@pytest.mark.slow
def test_mlflow_run_per_experiment_reads_back(sweep: Path, store: str, tmp_path: Path) -> None:
    uri = store
    result = exptflow(sweep, "export", "mlflow", "--tracking-uri", uri)
    refused = (
        "warning: lr=0.2+seed=1: MLflow refuses the metric name 'top@1' (letters, digits, "
        "'_', '-', '.', ' ', ':' and '/' only); not exported"
    )
    assert refused in result.stderr.splitlines()
    assert result.stdout.strip() == (
        f"exptflow export mlflow: 4 runs in MLflow experiment 'digits/params' at {uri} "
        "(4 created, 0 updated; 19 metric values and 11 files logged)"
    )
    runs = runs_by_name(uri)
    assert sorted(runs) == sorted(NAMES)
    done = runs["lr=0.2+seed=1"]
    assert done.data.params == {"lr": "0.2", "seed": "1"}
    assert done.data.metrics == {
        "loss": pytest.approx(0.2 / 3),
        "best": pytest.approx(1.2),
        "acc": pytest.approx(0.8),
    }
    assert loss_history(uri, done) == [(10, 0.2), (20, 0.1), (30, pytest.approx(0.2 / 3))]
    tags = done.data.tags
    assert tags["mlflow.source.git.commit"] == head(sweep)
    assert tags["exptflow.stage.train.state"] == tags["exptflow.stage.test.state"] == "done"
    assert tags["exptflow.metric.note"] == "ok"
    assert tags["exptflow.root"] == str((sweep / "output").resolve())
    assert done.info.status == "FINISHED"
    assert done.info.end_time >= done.info.start_time > 0
    failed = runs["lr=0.3+seed=1"]
    assert failed.info.status == "FAILED"
    assert failed.data.tags["exptflow.stage.train.state"] == "failed"
    assert failed.data.tags["exptflow.stage.test.state"] == "pending"
    client = mlflow.MlflowClient(uri)
    logs = [info.path for info in client.list_artifacts(done.info.run_id, "logs")]
    assert sorted(Path(p).name.split(".")[1] for p in logs) == ["test", "train"]
    (train_log,) = [p for p in logs if Path(p).name.startswith("log.train.")]
    local = Path(client.download_artifacts(done.info.run_id, train_log, str(tmp_path)))
    assert "trained 0.2 1" in local.read_text()
    kept = client.list_artifacts(done.info.run_id, "artifacts")
    assert [info.path for info in kept] == ["artifacts/preds.txt"]


@pytest.mark.slow
def test_mlflow_reexport_updates_and_never_duplicates(store: str, tmp_path: Path) -> None:
    directory = run_sweep(tmp_path / "digits")
    uri = store
    export = ["export", "mlflow", "--tracking-uri", uri, "--experiment", "again"]
    exptflow(directory, *export)
    again = exptflow(directory, *export).stdout
    assert again.strip() == (
        f"exptflow export mlflow: 4 runs in MLflow experiment 'again' at {uri} "
        "(0 created, 4 updated; 0 metric values and 0 files logged)"
    )
    # The experiment goes on: one more point, a new final value.
    experiment = directory / "output" / "lr=0.1+seed=2"
    with open(experiment / "metrics.jsonl", "a") as series:
        series.write(json.dumps({"step": 40, "loss": 0.01, "time": 2e9}) + "\n")
    (experiment / "summary.json").write_text(json.dumps({"best": 0.5}))  # was 2.1
    updated = exptflow(directory, *export).stdout
    assert "(0 created, 4 updated; 2 metric values and 0 files logged)" in updated
    runs = runs_by_name(uri, "again")
    assert len(runs) == 4
    run = runs["lr=0.1+seed=2"]
    assert loss_history(uri, run) == [
        (10, 0.2),
        (20, 0.1),
        (30, pytest.approx(0.2 / 3)),
        (40, 0.01),
    ]
    assert run.data.metrics["loss"] == 0.01
    assert run.data.metrics["best"] == 0.5  # MLflow's latest value: the one logged last
    for other in set(NAMES) - {"lr=0.1+seed=2"}:
        assert len(loss_history(uri, runs[other])) == 3


@pytest.mark.slow
def test_mlflow_experiment_name_query_and_a_deleted_experiment(sweep: Path, store: str) -> None:
    exptflow(
        sweep,
        "export",
        "mlflow",
        "--tracking-uri",
        store,
        "--experiment",
        "mine",
        "-q",
        "seed == 2",
    )
    assert sorted(runs_by_name(store, "mine")) == ["lr=0.1+seed=2"]
    mine = mlflow.MlflowClient(store).get_experiment_by_name("mine").experiment_id
    mlflow.MlflowClient(store).delete_experiment(mine)
    refused = exptflow(
        sweep, "export", "mlflow", "--tracking-uri", store, "--experiment", "mine", check=False
    )
    assert (refused.returncode, refused.stderr) == (
        1,
        "error: MLflow experiment 'mine' is deleted: restore it "
        f"(`mlflow experiments restore --experiment-id {mine}`) "
        "or export to another with --experiment NAME\n",
    )


def accumulator(directory: Path) -> event_accumulator.EventAccumulator:
    loaded = event_accumulator.EventAccumulator(str(directory))
    loaded.Reload()
    return loaded


def scalars(loaded: event_accumulator.EventAccumulator, tag: str) -> tuple[list[int], list[float]]:
    """Steps and values (TensorBoard's scalars are 32-bit floats: compare them approximately)."""
    events = loaded.Scalars(tag)
    return [event.step for event in events], [event.value for event in events]


def hparams_content(loaded: event_accumulator.EventAccumulator) -> dict[str, bytes]:
    return loaded.PluginTagToContent(metadata.PLUGIN_NAME)


@pytest.mark.slow
def test_tensorboard_scalars_and_hparams_read_back(sweep: Path, tmp_path: Path) -> None:
    logdir = tmp_path / "tb"
    for _ in range(2):  # a re-export replaces the files: nothing twice
        said = exptflow(sweep, "export", "tensorboard", str(logdir)).stdout
    assert said.strip() == (
        f"exptflow export tensorboard: 4 runs, 22 scalars in {logdir} "
        f"(tensorboard --logdir {logdir})"
    )
    assert sorted(p.name for p in logdir.iterdir()) == sorted([EVENTS, *NAMES])
    run = accumulator(logdir / "lr=0.2+seed=1")
    assert scalars(run, "loss") == ([10, 20, 30], pytest.approx([0.2, 0.1, 0.2 / 3]))
    assert scalars(run, "best") == ([0], pytest.approx([1.2]))
    assert scalars(run, "acc") == ([0], pytest.approx([0.8]))
    content = hparams_content(run)
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    assert start.group_name == "lr=0.2+seed=1"
    assert {k: v.number_value for k, v in start.hparams.items()} == {"lr": 0.2, "seed": 1}
    end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
    assert end.status == api_pb2.STATUS_SUCCESS
    failed = hparams_content(accumulator(logdir / "lr=0.3+seed=1"))
    end = metadata.parse_session_end_info_plugin_data(failed[metadata.SESSION_END_INFO_TAG])
    assert end.status == api_pb2.STATUS_FAILURE
    config = metadata.parse_experiment_plugin_data(
        hparams_content(accumulator(logdir))[metadata.EXPERIMENT_TAG]
    )
    infos = {info.name: info for info in config.hparam_infos}
    assert [v.number_value for v in infos["lr"].domain_discrete.values] == [0.1, 0.2, 0.3]
    assert [v.number_value for v in infos["seed"].domain_discrete.values] == [1, 2]
    assert sorted(m.name.tag for m in config.metric_infos) == ["acc", "best", "loss", "top@1"]


def test_hparams_domains() -> None:
    assert domain_of([True, False]).values == [False, True]
    assert domain_of(["b", "a"]).values == ["a", "b"]
    assert domain_of([1, 0.5]).values == [0.5, 1.0]  # ints with floats: float values
    interval = domain_of([i / 100 for i in range(40)])
    assert (interval.min_value, interval.max_value) == (0.0, 0.39)
    assert domain_of([1, "a", [2]]).values == ["1", "[2]", "a"]  # mixed: as text


HIDDEN = "import sys; sys.modules[{module!r}] = None; from exptflow.cli.main import main; sys.exit(main({args!r}))"


@pytest.mark.parametrize(
    ("module", "target", "message"),
    [
        (
            "mlflow",
            ["mlflow"],
            "error: exptflow export mlflow needs MLflow: pip install 'exptflow[mlflow]'\n",
        ),
        (
            "tensorboard",
            ["tensorboard", "tb"],
            "error: exptflow export tensorboard needs TensorBoard: "
            "pip install 'exptflow[tensorboard]'\n",
        ),
    ],
)
@pytest.mark.slow
def test_missing_extra_says_what_to_install(
    sweep: Path, tmp_path: Path, module: str, target: list[str], message: str
) -> None:
    copy = tmp_path / "digits"
    shutil.copytree(sweep, copy, symlinks=True)
    code = HIDDEN.format(module=module, args=["export", *target])
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=copy, capture_output=True, text=True, timeout=300
    )
    assert (result.returncode, result.stderr) == (2, message)
    assert not (copy / "tb").exists() and not (copy / "mlflow.db").exists()


def test_nothing_to_export_is_an_error(tmp_path: Path) -> None:
    result = exptflow(tmp_path, "export", "tensorboard", "tb", check=False)
    assert (result.returncode, result.stderr) == (
        2,
        "error: exptflow export: no experiments in output; run the sweep first, "
        "or give its experiments root with -o DIR\n",
    )


@pytest.mark.slow
def test_tensorboard_exports_an_output_root_mlrunner_wrote(tmp_path: Path) -> None:
    pytest.importorskip("mlrunner")
    from test_mlrunner import SWEEP as MLRUNNER_SWEEP
    from test_mlrunner import TRAIN, mlrunner_run

    (tmp_path / "train.py").write_text(TRAIN)
    write_sweep(tmp_path, MLRUNNER_SWEEP)
    mlrunner_run(tmp_path)  # lr=0.9's train fails
    exptflow(tmp_path, "export", "tensorboard", "tb")
    content = hparams_content(accumulator(tmp_path / "tb" / "Lr_0.9"))
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    values = {name: value.WhichOneof("kind") for name, value in start.hparams.items()}
    assert values == {"data": "string_value", "early-stop": "bool_value", "lr": "number_value"}
    assert start.hparams["lr"].number_value == 0.9
    end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
    assert end.status == api_pb2.STATUS_FAILURE

"""``exptflow tune``: trials proposed by Optuna run as experiments of the compiled workflow,
told from their results; a killed search resumes from its files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import (
    executions,
    exptflow,
    processes_in,
    snakemake,
    start,
    wait_for,
    write_sweep,
)
from exptflow.layout.paths import StudyPaths

pytestmark = pytest.mark.slow

# A 2-param objective with its minimum at x=1, y=-0.5: each trial records its name, then
# (the sixth and later to record it, by their own line) waits for `go`, so that a test can
# kill the search at that point.
OBJECTIVE = """
template:
  train: >
    echo {_name} >> started &&
    if [ $(grep -n -x -F {_name} started | cut -d: -f1) -gt 5 ]; then
    until [ -e go ]; do sleep 0.05; done; fi &&
    python3 -c "import json, sys; x, y = map(float, sys.argv[1:3]);
    json.dump({'loss': (x - 1) ** 2 + (y + 0.5) ** 2}, open(sys.argv[3] + '/metrics.json', 'w'))"
    {x} {y} {_output}
search:
  minimize: loss
  trials: 12
  parallel: 2
---
x: {uniform: [-3, 3]}
y: {uniform: [-3, 3]}
"""


def study(directory: Path) -> StudyPaths:
    (root,) = (directory / "output/.exptflow/tune").iterdir()
    return StudyPaths(root)


def told(directory: Path) -> dict[int, dict]:
    paths = study(directory)
    return {
        number: json.loads(paths.told(number).read_text())
        for number in paths.numbers()
        if paths.told(number).exists()
    }


def test_killed_search_resumes_and_tells_every_trial_once(tmp_path: Path) -> None:
    write_sweep(tmp_path, OBJECTIVE)
    search = start(tmp_path, sys.executable, "-m", "exptflow.cli", "tune", "--cores", "2")

    def finished() -> set[str]:
        paths = (tmp_path / "output").glob("*/.exptflow/stage.train.json")
        return {p.parent.parent.name for p in paths if json.loads(p.read_text())["state"] == "done"}

    def five_finished_two_waiting() -> bool:
        return len(executions(tmp_path / "started")) == 7 and len(finished()) == 5

    wait_for(five_finished_two_waiting, what="five trials to finish, two to wait")
    os.kill(search.pid, signal.SIGKILL)  # the search alone: its Snakemake must stop by itself
    search.wait()
    wait_for(lambda: not processes_in(tmp_path), what="the killed search's Snakemake to stop")
    finished_before = finished()
    assert len(finished_before) == 5
    interrupted = set(executions(tmp_path / "started")) - finished_before

    (tmp_path / "go").touch()
    resumed = exptflow(tmp_path, "tune", "--cores", "2")

    trials, paths = told(tmp_path), study(tmp_path)
    assert sorted(trials) == list(range(12)), "12 trials told in all"
    assert {t["state"] for t in trials.values()} == {"complete"}
    starts = Counter(executions(tmp_path / "started"))
    assert all(starts[name] == 1 for name in finished_before), "no finished trial reruns"
    assert all(starts[name] == 2 for name in interrupted), "killed trials run again"
    assert sum(starts.values()) == 12 + len(interrupted)
    assert "trial 12/12" in resumed.stdout
    # `exptflow tune` proposed every batch; the Snakefile's jobs waited for it.
    logs = [paths.batch_log(2, batch).read_text() for batch in range(6)]
    assert all(log.count("proposed before this job") == 2 for log in logs), logs
    best = min(trials.values(), key=lambda t: t["value"])
    assert f"best: loss {best['value']:.6g}" in resumed.stdout
    shown = exptflow(tmp_path, "show").stdout.splitlines()
    assert shown[1].startswith(best["experiment"]), "show puts the best trial first"


def test_snakemake_alone_finishes_a_search_that_exptflow_tune_started(tmp_path: Path) -> None:
    write_sweep(tmp_path, OBJECTIVE)
    search = start(tmp_path, sys.executable, "-m", "exptflow.cli", "tune", "--cores", "2")
    wait_for(lambda: len(executions(tmp_path / "started")) == 7, what="seven trials to start")
    os.kill(search.pid, signal.SIGKILL)
    search.wait()
    wait_for(lambda: not processes_in(tmp_path), what="the killed search's Snakemake to stop")
    proposed_before = set(study(tmp_path).numbers())

    (tmp_path / "go").touch()
    snakemake(tmp_path, "--unlock")
    snakemake(tmp_path, "--cores", "2", "--rerun-incomplete")

    trials, paths = told(tmp_path), study(tmp_path)
    assert sorted(trials) == list(range(12)), "the Snakefile's own jobs told every trial"
    assert {t["state"] for t in trials.values()} == {"complete"}
    proposed_by_jobs = set(range(12)) - proposed_before
    assert proposed_by_jobs, "the jobs proposed the trials the killed search had not"
    for number in proposed_by_jobs:
        log = paths.batch_log(2, number // 2).read_text()
        assert f"trial {number + 1}: " in log and "trials and earlier experiments" in log, log
    assert len(paths.tune_log.read_text().splitlines()) == 12, "each trial told once"


QUICK = """
template:
  train: >
    echo {_name} >> started && python3 -c "import json, sys;
    json.dump({'loss': abs(float(sys.argv[1]))}, open(sys.argv[2] + '/metrics.json', 'w'))"
    {x} {_output}
search:
  minimize: loss
  trials: 3
  parallel: 2
---
x: {uniform: [-1, 1]}
"""


def test_a_raised_budget_goes_on_from_the_trials_told(tmp_path: Path) -> None:
    write_sweep(tmp_path, QUICK)
    exptflow(tmp_path, "tune", "--cores", "2")  # the last batch half full
    first = set(executions(tmp_path / "started"))
    result = exptflow(tmp_path, "tune", "--cores", "2", "--trials", "6")
    assert sorted(told(tmp_path)) == list(range(6))
    assert "6 of 6 trials told (6 complete, 0 failed)" in result.stdout
    starts = Counter(executions(tmp_path / "started"))
    assert len(first) == 3 and all(starts[name] == 1 for name in starts), starts


COMPOSED = """
template:
  train: >
    python3 -c "import json, sys; json.dump({'loss': abs(float(sys.argv[1]))},
    open(sys.argv[3] + '/metrics.json', 'w'))" {x} {seed} {_output}
  report: echo never > {_output}/report.txt
search:
  minimize: loss
  trials: 2
---
_title: space
_cmd: [train]
x: {uniform: [-1, 1]}
seed: 0
"""


def test_overrides_title_and_cmd_shape_the_trials(tmp_path: Path) -> None:
    write_sweep(tmp_path, COMPOSED)
    exptflow(tmp_path, "tune", "--title", "space", "-S", "seed=5", "--cores", "1")
    trials = told(tmp_path)
    assert sorted(trials) == [0, 1] and {t["state"] for t in trials.values()} == {"complete"}
    for trial in trials.values():
        directory = tmp_path / "output" / trial["experiment"]
        assert json.loads((directory / "params.json").read_text())["seed"] == 5
        assert "seed=5" in trial["experiment"].split("+"), "the override names the trial"
        assert not (directory / "report.txt").exists(), "`_cmd` keeps the trial to its stages"


FAILING = """
template:
  train: >
    python3 -c "import json, sys; x = float(sys.argv[1]); assert x < 0, 'diverged';
    json.dump({'score': -x * x}, open(sys.argv[2] + '/metrics.json', 'w'))" {x} {_output}
search:
  maximize: score
  trials: 6
  sampler: random
---
x: {uniform: [-2, 2]}
seed: 0
"""


def test_failed_trials_are_told_as_failed_and_the_search_goes_on(tmp_path: Path) -> None:
    write_sweep(tmp_path, FAILING)
    result = exptflow(tmp_path, "tune", "--cores", "1")
    trials = told(tmp_path)
    assert sorted(trials) == list(range(6))
    paths = study(tmp_path)
    for number, trial in trials.items():
        x = json.loads(paths.proposal(number).read_text())["values"]["x"]
        assert trial["state"] == ("fail" if x >= 0 else "complete"), trial
    failed = [t for t in trials.values() if t["state"] == "fail"]
    assert failed, "the seed gives failing trials"
    assert failed[0]["reason"].startswith("stage train failed (log: output/")
    assert f"({6 - len(failed)} complete, {len(failed)} failed)" in result.stdout
    lint = snakemake(tmp_path, "--lint")
    assert "Congratulations" in lint.stdout + lint.stderr, "the search's Snakefile is lint-clean"


GRID_THEN_SEARCH = """
template:
  train: >
    echo {_name} >> started && python3 -c "import json, sys;
    json.dump({'loss': abs(float(sys.argv[1]) - 2)}, open(sys.argv[2] + '/metrics.json', 'w'))"
    {x} {_output}
search:
  minimize: loss
  trials: 3
---
_title: grid
x: [1, 2]
---
_title: search
x: {int: [0, 4]}
"""


def test_earlier_experiments_seed_the_search_and_are_not_rerun(tmp_path: Path) -> None:
    write_sweep(tmp_path, GRID_THEN_SEARCH)
    grid = exptflow(tmp_path, "run", "--title", "grid", "--cores", "1")
    assert "params.yaml: document 3: a search space, left to `exptflow tune`" in grid.stdout
    result = exptflow(tmp_path, "tune", "--title", "search", "--cores", "1")
    assert "2 earlier experiments of this space seed the optimizer" in result.stdout
    starts = Counter(executions(tmp_path / "started"))
    assert starts["x=1"] == starts["x=2"] == 1, "a trial that is an earlier experiment is reused"

    # An edited rule (here: forced) reruns the proposing jobs: never with other values.
    proposed = {n: study(tmp_path).proposal(n).read_text() for n in study(tmp_path).numbers()}
    snakemake(tmp_path, "--cores", "1", "--forcerun", "suggest")
    again = {n: study(tmp_path).proposal(n).read_text() for n in study(tmp_path).numbers()}
    assert again == proposed
    assert Counter(executions(tmp_path / "started")) == starts


def test_same_history_same_proposal_in_every_process(tmp_path: Path) -> None:
    script = """
import sys
from exptflow.search.space import space_of
from exptflow.search.study import Past, propose
from exptflow.sweep.spec import Sweep
import yaml
documents = list(yaml.safe_load_all(open(sys.argv[1])))
space = space_of(Sweep.from_documents(documents, "params.yaml"), None, "output")
history = [Past({"x": 0.5, "y": 0.1}, "complete", 1.0), Past({"x": 2.0, "y": -1.0}, "fail")]
print(propose(space, history, 7))
"""
    sweep = write_sweep(tmp_path, OBJECTIVE)
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, str(sweep)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in (1, 2)
    ]
    assert runs[0] == runs[1] and "'x':" in runs[0]


NO_METRIC = """
template:
  train: >
    python3 -c "import json, sys; json.dump({'other': 1}, open(sys.argv[1] + '/metrics.json', 'w'))"
    {_output}
search:
  maximize: score
  trials: 2
---
x: [1, 2]
"""


def test_a_trial_without_its_metric_is_told_and_shown_as_failed(tmp_path: Path) -> None:
    write_sweep(tmp_path, NO_METRIC)
    result = exptflow(tmp_path, "tune", "--cores", "1", check=False)
    trials = told(tmp_path)
    assert sorted(trials) == [0, 1] and {t["state"] for t in trials.values()} == {"fail"}
    reason = "no finite `score` in its results (metrics found: other)"
    assert all(t["reason"] == reason for t in trials.values())
    assert result.stdout.count(f"failed: {reason}") == 2, result.stdout

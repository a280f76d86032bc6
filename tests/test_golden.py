"""The generated Snakefile and profile, compared with reviewed golden files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import exptflow, git, records, snakemake, write_sweep
from exptflow.compiler.compile import CompileOptions, compile_sweep

GOLDEN = Path(__file__).parent / "golden"
REFRESH = "EXPTFLOW_REFRESH_GOLDEN"

SWEEP = """
template:
  train: {cmd: 'python train.py --lr {lr} --out {_output}', gpus: 1, retries: 2,
          resources: {mem_mb: 8000, runtime: 120}}
  avg-ckpt: {cmd: 'python avg.py {_output}', gpus: 0}
  test: {cmd: 'python test.py {_output} [beam]', pack: 20}
default: {beam: 5}
resource: [0, "1,2"]
---
lr: [0.1, 0.01]
"""


# Shared stages: before the experiments' own (prep) and after them, gathering (aggregate).
SHARED_SWEEP = """
template:
  prep: {cmd: 'python prep.py --data {data} --out {_output}', shared: true, gpus: 0}
  train: 'python train.py --data {prep._output} --seed {seed} --out {_output}'
  aggregate: {cmd: 'python aggregate.py {train._output}', shared: true, over: [seed], pack: 5}
resource: [0, 1]
---
data: [wmt, iwslt]
seed: [0, 1]
"""


def check_golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get(REFRESH) == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; create it with {REFRESH}=1 pytest {__file__}"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{name} differs from {golden}. If the change is intended, review the diff and refresh "
        f"with: {REFRESH}=1 pytest {__file__}"
    )


@pytest.fixture
def compiled(tmp_path: Path) -> Path:
    write_sweep(tmp_path, SWEEP)
    compile_sweep(CompileOptions(workdir=str(tmp_path)))
    return tmp_path


def test_snakefile_matches_golden(compiled: Path) -> None:
    check_golden("Snakefile", (compiled / "Snakefile").read_text())


def test_snakefile_of_shared_stages_matches_golden(tmp_path: Path) -> None:
    write_sweep(tmp_path, SHARED_SWEEP)
    compile_sweep(CompileOptions(workdir=str(tmp_path)))
    check_golden("Snakefile-shared", (tmp_path / "Snakefile").read_text())


def test_default_profile_matches_golden(compiled: Path) -> None:
    check_golden(
        "profile-default.yaml", (compiled / "profiles/default/config.v8+.yaml").read_text()
    )


def test_slurm_profile_matches_golden(compiled: Path) -> None:
    check_golden("profile-slurm.yaml", (compiled / "profiles/slurm/config.v8+.yaml").read_text())


def test_kubernetes_profile_matches_golden(compiled: Path) -> None:
    text = (compiled / "profiles/kubernetes/config.v8+.yaml").read_text()
    check_golden("profile-kubernetes.yaml", text)


def test_recompile_is_byte_identical_and_keeps_edited_profile(compiled: Path) -> None:
    files = ["Snakefile", "experiments.json", "profiles/default/config.v8+.yaml"]
    before = {name: (compiled / name).read_bytes() for name in files}
    profile = compiled / "profiles/default/config.v8+.yaml"
    profile.write_text(profile.read_text() + "jobs: 3\n")
    _, written = compile_sweep(CompileOptions(workdir=str(compiled)))
    assert not any(item.changed for item in written)
    assert [item.kept_edit for item in written] == [False, False, True, False, False]
    for name in files[:2]:
        assert (compiled / name).read_bytes() == before[name]
    assert profile.read_text().endswith("jobs: 3\n")


def test_edited_profile_without_threads_is_warned_about_and_still_runs(tmp_path: Path) -> None:
    write_sweep(tmp_path, "template:\n  t: echo ran-{a} > {_output}/out\n---\na: 1\n")
    exptflow(tmp_path, "compile")
    profile = tmp_path / "profiles/default/config.v8+.yaml"
    profile.write_text(profile.read_text().replace("force-use-threads: true\n", ""))
    result = exptflow(tmp_path, "compile")
    assert result.stderr == (
        f"warning: {Path('profiles/default/config.v8+.yaml')}: add "
        "`force-use-threads: true` (your edited profile lacks it): without it Snakemake starts "
        "a whole Snakemake for every stage\n"
    )
    snakemake(tmp_path)  # each stage in a Snakemake subprocess: slower, same result
    assert (tmp_path / "output/a=1/out").read_text() == "ran-1\n"
    assert {r["state"] for r in records(tmp_path)} == {"done"}


@pytest.mark.slow
def test_each_stage_s_log_directive_points_at_its_latest_log(tmp_path: Path) -> None:
    write_sweep(tmp_path, "template:\n  train: echo run {a}\n---\na: [1]\n")
    exptflow(tmp_path, "run")
    write_sweep(tmp_path, "template:\n  train: echo rerun {a}\n---\na: [1]\n")
    exptflow(tmp_path, "run")

    latest = tmp_path / "output/a=1/.exptflow/train.log"
    assert latest.is_symlink() and latest.read_text() == "rerun 1\n"
    assert len(list((tmp_path / "output/a=1").glob("log.train.*"))) == 2
    said = (tmp_path / "output/.exptflow/collect.log").read_text()
    assert said == "exptflow: output/results.tsv: 1 experiments (1 read, 0 unchanged)\n"


CACHED_SNAPSHOT_SWEEP = """
code: snapshot
template:
  prep: {cmd: 'python prep.py --data {data} --out {_output}/prep', cache: true}
  train: {cmd: 'python train.py {_output}/prep --out {_output}', gpus: 0}
  test: {cmd: 'python test.py {_output}/test', cache: true, pack: 4}
---
data: [wmt, iwslt]
"""


def test_cached_stages_and_a_snapshot_match_golden(tmp_path: Path) -> None:
    write_sweep(tmp_path, CACHED_SNAPSHOT_SWEEP)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "sweep")
    compile_sweep(CompileOptions(workdir=str(tmp_path)))
    check_golden("Snakefile-cache-snapshot", (tmp_path / "Snakefile").read_text())
    default = (tmp_path / "profiles/default/config.v8+.yaml").read_text()
    check_golden("profile-default-cache.yaml", default)

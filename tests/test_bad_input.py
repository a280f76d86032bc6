"""Bad sweep files: exit code 2, a message naming the file, the YAML path and the fix,
no traceback, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import exptflow, write_sweep
from exptflow.cli.main import main

GOOD_CONFIG = "template:\n  train: python train.py --lr {lr}\nresource: [0, 1]\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "template: [unclosed\n",
            "params.yaml: line 2, column 1: invalid YAML",
            id="malformed-yaml",
        ),
        pytest.param(
            "template:\n  train: python train.py --lr {lr} --wd {wd}\n---\nlr: [0.1]\n",
            "params.yaml: template.train: unknown placeholder {wd}; "
            "give `wd` a value in `default` or in a grid document",
            id="unknown-placeholder",
        ),
        pytest.param(
            "template:\n  train: run {flag}\n---\nflag: [true, false]\n",
            "params.yaml: document 2.flag: a boolean is used as {flag} in template.train; "
            "write [flag] for a --flag flag, or quote the value",
            id="boolean-in-braces",
        ),
        pytest.param(
            GOOD_CONFIG + "templat: {}\n---\nlr: [1]\n",
            "params.yaml: templat: unknown key `templat`; did you mean `template`? "
            "valid keys: alias, default, metrics, output, parsers, resource, template",
            id="unknown-top-level-key",
        ),
        pytest.param(
            GOOD_CONFIG + "---\nlr: []\n",
            "params.yaml: document 2.lr: empty list; give at least one value or remove the param",
            id="empty-grid-list",
        ),
        pytest.param(
            GOOD_CONFIG + "---\n{}\n",
            "params.yaml: document 2: the grid is empty; list params to sweep",
            id="empty-grid-document",
        ),
        pytest.param(
            "template:\n  train: run {lr}\nresource: 0,1\n---\nlr: [1]\n",
            "params.yaml: resource: a str; give a list of GPU ids, e.g. `[0, 1]`, "
            'or of id groups, e.g. `["0,1", "2,3"]`',
            id="resource-wrong-type",
        ),
        pytest.param(
            "template:\n  train: run {lr}\nresource: [0, '']\n---\nlr: [1]\n",
            "params.yaml: resource[1]: '' is not a GPU id list",
            id="resource-empty-entry",
        ),
        pytest.param(
            GOOD_CONFIG + "---\nlr: [1]\n_cmd: [trian]\n",
            "params.yaml: document 2._cmd: unknown stage `trian`; did you mean `train`?",
            id="cmd-unknown-stage",
        ),
        pytest.param(
            "template:\n  train: {cmd: 'run {lr}', gpus: -1}\n---\nlr: [1]\n",
            "params.yaml: template.train.gpus: -1 is not a whole number >= 0; write e.g. `1`",
            id="negative-gpus",
        ),
        pytest.param(
            GOOD_CONFIG + "---\nlr: [1]\n_output: x\n",
            "params.yaml: document 2._output: `_output` is reserved; exptflow sets it, "
            "rename your param",
            id="reserved-param-name",
        ),
        pytest.param(
            GOOD_CONFIG + "---\nlr: [1]\nlr: [2]\n",
            "params.yaml: line 6, column 1: duplicate key 'lr' (first at line 5); keep one of them",
            id="duplicate-key",
        ),
        pytest.param(
            GOOD_CONFIG + "---\nlr: !!python/object:os.system [echo]\n",
            "unsupported YAML tag",
            id="python-tag",
        ),
        pytest.param(
            "",
            "params.yaml: the file is empty; start with a document holding `template`",
            id="empty-file",
        ),
        pytest.param(
            "default: {lr: 1}\n---\nlr: [1]\n",
            "params.yaml: template: missing; add `template:` with one shell command per stage",
            id="no-template",
        ),
        pytest.param(
            "template:\n  train: ''\n---\nlr: [1]\n",
            "params.yaml: template.train: the stage command is empty; write a command",
            id="empty-stage-command",
        ),
        pytest.param(
            GOOD_CONFIG + "---\nlr: [[1, 2]]\n",
            "params.yaml: document 2.lr[0]: a list where a single value is needed",
            id="list-value",
        ),
    ],
)
def test_bad_sweep_is_refused_with_a_clear_message(
    chdir_tmp: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    write_sweep(chdir_tmp, text) if text else (chdir_tmp / "params.yaml").write_text("")
    code = main(["compile"])
    error = capsys.readouterr().err
    assert code == 2
    assert expected in error
    assert "Traceback" not in error
    assert sorted(p.name for p in chdir_tmp.iterdir()) == ["params.yaml"]


def test_every_problem_is_reported_at_once(
    chdir_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sweep(chdir_tmp, "template:\n  train: run {a} {b}\nresorce: [0]\n---\nc: []\n")
    assert main(["compile"]) == 2
    error = capsys.readouterr().err
    assert error.count("params.yaml:") == 4, error


def test_cli_prints_no_traceback_and_exits_2(tmp_path: Path) -> None:
    write_sweep(tmp_path, "template:\n  train: run {nope}\n---\nlr: [1]\n")
    result = exptflow(tmp_path, "compile", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: params.yaml: template.train: unknown placeholder")
    assert "Traceback" not in result.stderr


def test_debug_variable_shows_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_sweep(tmp_path, "template:\n  train: run {nope}\n---\nlr: [1]\n")
    monkeypatch.setenv("EXPTFLOW_DEBUG", "1")
    result = exptflow(tmp_path, "compile", check=False)
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_missing_sweep_file(chdir_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", "sweep.yaml"]) == 2
    assert "sweep.yaml: no such file" in capsys.readouterr().err

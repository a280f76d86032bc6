"""Bad sweep files and flags: exit code 2, a message naming the file, the YAML path and the
fix, no traceback, and nothing written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import exptflow, write_sweep
from exptflow.cli.main import main

CONFIG = "template:\n  train: python train.py --lr {lr}\nresource: [0, 1]\n"
GOOD = CONFIG + "---\nlr: [0.1, 0.2]\n"
BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{b}: &{b} [*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)

CASES = [
    # (id, sweep text, extra arguments, expected part of the message)
    (
        "not-yaml-mapping",
        "just some words\n",
        [],
        "params.yaml: document 1: a str; the first document is a mapping",
    ),
    (
        "yaml-syntax-error",
        "template: [unclosed\n",
        [],
        "params.yaml: line 2, column 1: invalid YAML",
    ),
    (
        "tab-indentation",
        "template:\n\ttrain: x\n",
        [],
        "params.yaml: line 2, column 1: invalid YAML",
    ),
    (
        "empty-file",
        "",
        [],
        "params.yaml: the file is empty; start with a document holding `template`",
    ),
    (
        "no-template",
        "default: {lr: 1}\n---\nlr: [1]\n",
        [],
        "params.yaml: template: missing; add `template:` with one shell command per stage",
    ),
    (
        "template-not-mapping",
        "template: [a, b]\n---\nlr: [1]\n",
        [],
        "params.yaml: template: a list; give a mapping `stage: command`",
    ),
    ("template-empty", "template: {}\n---\nlr: [1]\n", [], "params.yaml: template: empty;"),
    (
        "empty-stage-command",
        "template:\n  train: ''\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train: the stage command is empty; write a command",
    ),
    (
        "stage-command-number",
        "template:\n  train: 5\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train: a int; give a shell command or a mapping with `cmd`",
    ),
    (
        "long-form-without-cmd",
        "template:\n  train: {gpus: 1}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train.cmd: the stage command is empty; write a command",
    ),
    (
        "bad-stage-name",
        "template:\n  'my stage': run\n---\nlr: [1]\n",
        [],
        "params.yaml: template.my stage: stage names start with a letter",
    ),
    (
        "unknown-stage-key",
        "template:\n  train: {cmd: run, gpu: 1}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train.gpu: unknown key `gpu`; did you mean `gpus`? "
        "valid keys: cmd, gpus, pack, resources, retries",
    ),
    (
        "unknown-placeholder",
        "template:\n  train: run {lr} {wd}\n---\nlr: [0.1]\n",
        [],
        "params.yaml: template.train: unknown placeholder {wd}; "
        "give `wd` a value in `default` or in a grid document",
    ),
    (
        "placeholder-typo",
        "template:\n  train: run {lrr}\n---\nlr: [0.1]\n",
        [],
        "unknown placeholder {lrr}; did you mean `lr`?",
    ),
    (
        "placeholder-in-both-forms",
        "template:\n  train: run {lr} [lr]\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train: `lr` is used as both {lr} and [lr]; use one form",
    ),
    (
        "reserved-in-brackets",
        "template:\n  train: run [_output]\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train: [_output]: reserved names only work in braces",
    ),
    (
        "missing-in-one-document",
        "template:\n  train: run {lr} {wd}\n---\nlr: [1]\nwd: [1]\n---\nlr: [2]\n",
        [],
        "params.yaml: document 3: template.train uses `wd` but this document gives it no value",
    ),
    (
        "boolean-in-braces",
        "template:\n  train: run {flag}\n---\nflag: [true, false]\n",
        [],
        "params.yaml: document 2.flag: a boolean is used as {flag} in template.train; "
        "write [flag] for a --flag flag, or quote the value",
    ),
    (
        "boolean-default-in-braces",
        "template:\n  train: run {flag}\ndefault: {flag: yes}\n---\na: [1]\n",
        [],
        "params.yaml: default.flag: a boolean is used as {flag} in template.train",
    ),
    (
        "list-value-in-grid",
        CONFIG + "---\nlr: [[1, 2]]\n",
        [],
        "params.yaml: document 2.lr[0]: a list where a single value is needed",
    ),
    (
        "mapping-value-in-default",
        CONFIG + "default: {lr: {a: 1}}\n---\nlr: [1]\n",
        [],
        "params.yaml: default.lr: a mapping where a single value is needed",
    ),
    (
        "null-value",
        CONFIG + "---\nlr: [~]\n",
        [],
        "params.yaml: document 2.lr[0]: null where a single value is needed; quote it",
    ),
    (
        "nul-character",
        CONFIG + '---\nlr: ["a\\0b"]\n',
        [],
        "params.yaml: document 2.lr[0]: a NUL character can't be passed to a program",
    ),
    (
        "unknown-top-level-key",
        CONFIG + "templat: {}\n---\nlr: [1]\n",
        [],
        "params.yaml: templat: unknown key `templat`; did you mean `template`? "
        "valid keys: alias, default, metrics, output, parsers, resource, template",
    ),
    (
        "default-not-mapping",
        CONFIG + "default: [1]\n---\nlr: [1]\n",
        [],
        "params.yaml: default: a list; give a mapping `param: value`",
    ),
    (
        "no-grid-documents",
        CONFIG,
        [],
        "params.yaml: no grid documents; add a `---` document listing params to sweep",
    ),
    (
        "empty-grid-document",
        CONFIG + "---\n{}\n",
        [],
        "params.yaml: document 2: the grid is empty; list params to sweep",
    ),
    (
        "grid-only-title",
        CONFIG + "---\n_title: x\n",
        [],
        "params.yaml: document 2: the grid lists no params; add at least one",
    ),
    (
        "empty-grid-list",
        CONFIG + "---\nlr: []\n",
        [],
        "params.yaml: document 2.lr: empty list; give at least one value or remove the param",
    ),
    (
        "repeated-grid-value",
        CONFIG + "---\nlr: [1, 1]\n",
        [],
        "params.yaml: document 2.lr: a value is listed twice; list each value once",
    ),
    (
        "duplicate-key",
        CONFIG + "---\nlr: [1]\nlr: [2]\n",
        [],
        "params.yaml: line 6, column 1: duplicate key 'lr' (first at line 5); keep one of them",
    ),
    (
        "unknown-underscore-key",
        CONFIG + "---\nlr: [1]\n_tilte: x\n",
        [],
        "params.yaml: document 2._tilte: unknown key `_tilte`; valid keys starting with `_`: _cmd, _title",
    ),
    (
        "reserved-param-name",
        CONFIG + "---\nlr: [1]\n_output: x\n",
        [],
        "params.yaml: document 2._output: `_output` is reserved; exptflow sets it, rename your param",
    ),
    (
        "invalid-param-name",
        CONFIG + "---\nlr: [1]\n'learning rate': [1]\n",
        [],
        "params.yaml: document 2.learning rate: param name 'learning rate' is not valid",
    ),
    (
        "numeric-param-name",
        CONFIG + "---\nlr: [1]\n3: [1]\n",
        [],
        "params.yaml: document 2.3: param name 3 is not valid",
    ),
    (
        "alias-unknown-value",
        "template:\n  t: run [x]\nalias: {arch: {pre: {x: 1}}}\n---\narch: [post]\n",
        [],
        "params.yaml: document 2.arch: 'post' is not a value of alias `arch`; use one of: pre",
    ),
    (
        "alias-inconsistent-targets",
        "template:\n  t: run [x] [y]\nalias: {arch: {pre: {x: 1}, post: {y: 1}}}\n---\narch: [pre]\n",
        [],
        "params.yaml: alias.arch.post: sets ['y'] but the first entry sets ['x']",
    ),
    (
        "alias-in-template",
        "template:\n  t: run [arch]\nalias: {arch: {pre: {x: 1}}}\n---\narch: [pre]\n",
        [],
        "params.yaml: template.t: [arch] is an alias; use the params it sets (x)",
    ),
    (
        "alias-and-target-together",
        "template:\n  t: run [x]\nalias: {arch: {pre: {x: 1}}}\n---\narch: [pre]\nx: [2]\n",
        [],
        "params.yaml: document 2.x: also set by alias `arch`; set `x` or `arch` here, not both",
    ),
    (
        "title-not-found",
        CONFIG + "---\n_title: big\nlr: [1]\n",
        ["--title", "small"],
        "params.yaml: no document has `_title: small`; titles: big",
    ),
    (
        "cmd-unknown-stage",
        CONFIG + "---\nlr: [1]\n_cmd: [trian]\n",
        [],
        "params.yaml: document 2._cmd: unknown stage `trian`; did you mean `train`?",
    ),
    (
        "cmd-not-a-list",
        CONFIG + "---\nlr: [1]\n_cmd: 5\n",
        [],
        "params.yaml: document 2._cmd: give the stages to run as a list, e.g. `[train, test]`",
    ),
    (
        "resource-wrong-type",
        "template:\n  train: run {lr}\nresource: 0,1\n---\nlr: [1]\n",
        [],
        "params.yaml: resource: a str; give a list of GPU ids, e.g. `[0, 1]`, "
        'or of id groups, e.g. `["0,1", "2,3"]`',
    ),
    (
        "resource-empty-list",
        "template:\n  train: run {lr}\nresource: []\n---\nlr: [1]\n",
        [],
        "params.yaml: resource: empty list; give a list of GPU ids",
    ),
    (
        "resource-empty-entry",
        "template:\n  train: run {lr}\nresource: [0, '']\n---\nlr: [1]\n",
        [],
        "params.yaml: resource[1]: '' is not a GPU id list",
    ),
    (
        "negative-gpus",
        "template:\n  train: {cmd: 'run {lr}', gpus: -1}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train.gpus: -1 is not a whole number >= 0; write e.g. `1`",
    ),
    (
        "fractional-gpus",
        "template:\n  train: {cmd: 'run {lr}', gpus: 0.5}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train.gpus: 0.5 is not a whole number >= 0",
    ),
    (
        "unknown-resource-key",
        "template:\n  train: {cmd: 'run {lr}', resources: {memory: 8}}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train.resources.memory: unknown key `memory`",
    ),
    (
        "resource-value-type",
        "template:\n  train: {cmd: 'run {lr}', resources: {mem_mb: lots}}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train.resources.mem_mb: 'lots' should be a int",
    ),
    (
        "metric-for-unknown-stage",
        CONFIG + "metrics: {bleu: {stage: tset, regex: 'B = (.+)'}}\n---\nlr: [1]\n",
        [],
        "params.yaml: metrics.bleu.stage: unknown stage `tset`",
    ),
    (
        "metric-regex-without-group",
        CONFIG + "metrics: {bleu: {stage: train, regex: 'B = .+'}}\n---\nlr: [1]\n",
        [],
        "params.yaml: metrics.bleu.regex: has 0 groups; use exactly one group around the number",
    ),
    (
        "metric-bad-reduce",
        CONFIG + "metrics: {bleu: {stage: train, regex: '(.+)', reduce: median}}\n---\nlr: [1]\n",
        [],
        "params.yaml: metrics.bleu.reduce: 'median'; use one of: last, first, max, min, mean",
    ),
    (
        "parser-bad-form",
        CONFIG + "parsers: [my_parser]\n---\nlr: [1]\n",
        [],
        "params.yaml: parsers[0]: 'my_parser'; write `module:function`",
    ),
    (
        "sample-larger-than-grid",
        GOOD,
        ["--sample", "3"],
        "params.yaml: --sample 3: choose between 1 and 2, the number of experiments in the sweep",
    ),
    (
        "sample-negative",
        GOOD,
        ["--sample", "-1"],
        "params.yaml: --sample -1: choose between 1 and 2",
    ),
    (
        "names-differ-only-in-case",
        CONFIG + "---\nlr: [Adam, adam]\n",
        [],
        "would share a directory (names may differ only in letter case)",
    ),
    (
        "ten-million-experiments",
        CONFIG
        + "---\nlr: "
        + str(list(range(100)))
        + "\na: "
        + str(list(range(100)))
        + "\nb: "
        + str(list(range(1000)))
        + "\n",
        [],
        "params.yaml: the grid documents expand to 10,000,000 experiments; "
        "check the lists for a typo, or pass --yes to compile them all",
    ),
    (
        "billion-laughs",
        CONFIG + "---\nlr: [1]\n" + BOMB,
        [],
        "params.yaml: document 2: YAML anchors/aliases expand to more than 200000 nodes",
    ),
    (
        "python-tag",
        CONFIG + "---\nlr: !!python/object/apply:os.system [echo]\n",
        [],
        "unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    ("unknown-argument", GOOD, ["--smaple", "1"], "exptflow compile: unknown arguments: --smaple"),
]


@pytest.mark.parametrize(
    ("text", "arguments", "expected"),
    [pytest.param(text, arguments, expected, id=name) for name, text, arguments, expected in CASES],
)
def test_bad_sweep_is_refused_with_a_clear_message(
    chdir_tmp: Path, capsys: pytest.CaptureFixture[str], text: str, arguments: list, expected: str
) -> None:
    (chdir_tmp / "params.yaml").write_text(text, encoding="utf-8")
    started = time.perf_counter()
    code = main(["compile", *arguments])
    error = capsys.readouterr().err
    assert time.perf_counter() - started < 10, "refused quickly"
    assert code == 2
    assert expected in error
    assert error.startswith("error: ") and "Traceback" not in error
    assert sorted(p.name for p in chdir_tmp.iterdir()) == ["params.yaml"], "nothing written"


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def test_non_utf8_file(chdir_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (chdir_tmp / "params.yaml").write_bytes(b"template:\n  t: run \xff\xfe\n---\na: [1]\n")
    assert main(["compile"]) == 2
    assert "params.yaml: not UTF-8 text (bad byte at offset 19); save the file as UTF-8" in (
        capsys.readouterr().err
    )


def test_output_directory_that_is_a_file(
    chdir_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sweep(chdir_tmp, GOOD)
    (chdir_tmp / "output").write_text("not a directory")
    assert main(["compile"]) == 2
    assert capsys.readouterr().err == (
        "error: output directory output is a file; remove it or choose another with -o DIR\n"
    )


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

"""Bad sweep files and flags: exit code 2, a message naming the file, the YAML path and the
fix, no traceback, and nothing written."""

from __future__ import annotations

import json
import time
import tracemalloc
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

SHARED = (
    "template:\n"
    "  prep: {cmd: 'prep {data}', shared: true}\n"
    "  train: 'train {prep._output} {seed}'\n"
    "  test: t\n"
    "default: {seed: 0}\n"
    "---\n"
    "data: [a, b]\n"
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
        "valid keys: cache, cmd, gpus, over, pack, per, resources, retries, shared",
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
        "params.yaml: template.train: unknown placeholder {lrr}; did you mean `lr`?",
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
        "valid keys: alias, code, default, metrics, output, parsers, resource, search, template",
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
        "params.yaml: document 2._tilte: unknown key `_tilte`; valid keys starting with `_`: _cmd, _exclude, _rows, _samples, _seed, _tags, _title, _when, _zip",
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
        "misspelled-grid-param",
        "template:\n  train: run --hidden {hidden}\ndefault: {hidden: 32}\n---\nhiden: [16, 64]\n",
        [],
        "params.yaml: document 2.hiden: no template uses `hiden` and `default` has none, so it "
        "would only name experiments; did you mean `hidden`? If `hiden` only names them, "
        "declare it: `_tags: [hiden]`",
    ),
    (
        "misspelled-grid-param-in-zip",
        CONFIG + "---\n_zip: {lr: [1, 2], lrr: [3, 4]}\n",
        [],
        "params.yaml: document 2._zip: no template uses `lrr` and `default` has none, so it "
        "would only name experiments; did you mean `lr`?",
    ),
    (
        "misspelled-grid-param-by-override",
        "template:\n  train: run --hidden {hidden}\ndefault: {hidden: 32}\n---\nseed: [0]\n"
        "_tags: [seed]\n",
        ["-S", "hiden=16,64"],
        "params.yaml: document 2.hiden: no template uses `hiden` and `default` has none",
    ),
    (
        "tag-a-template-uses",
        CONFIG + "---\nlr: [1]\n_tags: [lr]\n",
        [],
        "params.yaml: document 2._tags: a template uses `lr`; `_tags` is for params no "
        "template uses",
    ),
    (
        "tag-not-in-the-document",
        CONFIG + "---\nlr: [1]\n_tags: [seed]\n",
        [],
        "params.yaml: document 2._tags: `seed` is not a param of this document; list params "
        "it sets",
    ),
    (
        "tags-not-a-list",
        CONFIG + "---\nlr: [1]\n_tags: {seed: 1}\n",
        [],
        "params.yaml: document 2._tags: give the naming-only params as a list, e.g. `[seed]`",
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
        "runtime-not-a-duration",
        "template:\n  train: {cmd: 'run {lr}', resources: {runtime: soon}}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train.resources.runtime: 'soon' is not a duration; "
        "write minutes (`120`) or e.g. `90s`, `2h`",
    ),
    (
        "runtime-negative",
        "template:\n  train: {cmd: 'run {lr}', resources: {runtime: -5}}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train.resources.runtime: -5 is not a duration",
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
        "params.yaml: document 2 and document 2: experiments `lr=Adam` and `lr=adam` would share "
        "a directory (names may differ only in letter case)",
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
        "params.yaml: the grid documents expand to 10,000,000 experiments, more than exptflow "
        "can compile (at most 5,000,000, even with --yes)",
    ),
    (
        "two-million-experiments",
        CONFIG + f"---\nlr: {list(range(100))}\na: {list(range(100))}\nb: {list(range(200))}\n",
        [],
        "params.yaml: the grid documents expand to 2,000,000 experiments; "
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
        "params.yaml: line 5, column 5: unsupported YAML tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    ("unknown-argument", GOOD, ["--smaple", "1"], "exptflow compile: unknown arguments: --smaple"),
    # --- zipped params ---------------------------------------------------------------------
    (
        "zip-unequal-lengths",
        CONFIG + "---\n_zip: {lr: [0.1, 0.2], wd: [1, 2, 3]}\n",
        [],
        "params.yaml: document 2._zip: lists of different lengths (lr: 2, wd: 3); "
        "give each the same number",
    ),
    (
        "zip-one-param",
        CONFIG + "---\n_zip: {lr: [0.1, 0.2]}\n",
        [],
        "params.yaml: document 2._zip: 1 param(s): zipped params vary together, so give two or more",
    ),
    (
        "zip-not-a-mapping",
        CONFIG + "---\n_zip: [[0.1, 0.2]]\n",
        [],
        "params.yaml: document 2._zip[0]: a list: zipped params vary together, so give two or more",
    ),
    (
        "zip-a-scalar-column",
        CONFIG + "---\n_zip: {lr: 0.1, wd: [1]}\n",
        [],
        "params.yaml: document 2._zip.lr: a float; give params with lists of equal length",
    ),
    (
        "zip-and-list-set-the-same-param",
        CONFIG + "---\nlr: [0.3]\n_zip: {lr: [0.1, 0.2], wd: [1, 2]}\n",
        [],
        "params.yaml: document 2.lr: set twice in this document (a list and `_zip`, or two "
        "`_zip` groups); keep it in one place",
    ),
    (
        "zip-combination-twice",
        CONFIG + "---\n_zip: {lr: [0.1, 0.1], wd: [1, 1]}\n",
        [],
        "params.yaml: document 2._zip: a combination is listed twice; list each once",
    ),
    # --- explicit rows and exclusions -------------------------------------------------------
    (
        "rows-not-a-list",
        CONFIG + "---\n_rows: {lr: 0.1}\n",
        [],
        "params.yaml: document 2._rows: a mapping; give a list of whole configurations",
    ),
    (
        "rows-with-different-params",
        CONFIG + "---\n_rows: [{lr: 0.1, wd: 1}, {lr: 0.2}]\n",
        [],
        "params.yaml: document 2._rows[1]: sets lr, but row 0 sets lr, wd; give every row the "
        "same params (move a shared value to `default`)",
    ),
    (
        "rows-value-not-a-scalar",
        CONFIG + "---\n_rows: [{lr: 0.1}, {lr: [1]}]\n",
        [],
        "params.yaml: document 2._rows[1].lr: a list where a single value is needed; give a "
        "string, number or boolean",
    ),
    (
        "rows-twice",
        CONFIG + "---\n_rows: [{lr: 0.1}, {lr: 0.1}]\n",
        [],
        "params.yaml: document 2._rows: a combination is listed twice; list each once",
    ),
    (
        "exclude-unknown-param",
        GOOD + "_exclude: [{wd: 1}]\n",
        [],
        "params.yaml: document 2._exclude[0].wd: this document does not sweep `wd`; it sweeps lr",
    ),
    (
        "exclude-value-not-swept",
        GOOD + "_exclude: [{lr: 0.3}]\n",
        [],
        "params.yaml: document 2._exclude[0].lr: 0.3 is not among the values here (0.1, 0.2); "
        "check for a typo",
    ),
    (
        "exclude-everything",
        GOOD + "_exclude: [{lr: 0.1}, {lr: 0.2}]\n",
        [],
        "params.yaml: document 2._exclude: excludes every combination; remove a rule",
    ),
    # --- distributions -----------------------------------------------------------------------
    (
        "distribution-without-samples",
        CONFIG + "---\nlr: {loguniform: [1e-5, 1e-1]}\n",
        [],
        "params.yaml: document 2.lr: a distribution needs `_samples: N` in its document",
    ),
    (
        "distribution-unknown",
        CONFIG + "---\nlr: {normal: [0, 1]}\n_samples: 2\n",
        [],
        "params.yaml: document 2.lr: not a distribution; give one of {choice: [...]}, {int: "
        "[...]}, {loguniform: [...]}, {uniform: [...]}",
    ),
    (
        "loguniform-from-zero",
        CONFIG + "---\nlr: {loguniform: [0, 1]}\n_samples: 2\n",
        [],
        "params.yaml: document 2.lr: loguniform: LOW must be above 0 (a logarithm's range), not 0",
    ),
    (
        "uniform-reversed",
        CONFIG + "---\nlr: {uniform: [1, 0]}\n_samples: 2\n",
        [],
        "params.yaml: document 2.lr: uniform: LOW (1) must be below HIGH (0)",
    ),
    (
        "int-of-floats",
        CONFIG + "---\nlr: {int: [1.5, 3]}\n_samples: 2\n",
        [],
        "params.yaml: document 2.lr: int: give two whole numbers, e.g. `{int: [2, 8]}`",
    ),
    (
        "samples-without-distribution",
        GOOD + "_samples: 3\n",
        [],
        "params.yaml: document 2._samples: no param of this document has a distribution",
    ),
    (
        "samples-zero",
        CONFIG + "---\nlr: {uniform: [0, 1]}\n_samples: 0\n",
        [],
        "params.yaml: document 2._samples: give at least 1",
    ),
    (
        "seed-not-a-number",
        CONFIG + "---\nlr: {uniform: [0, 1]}\n_samples: 2\n_seed: x\n",
        [],
        "params.yaml: document 2._seed: a str; give a whole number",
    ),
    # --- command-line overrides (-S) ---------------------------------------------------------
    ("override-without-value", GOOD, ["-S", "lr="], "-S lr=: write PARAM=V1,V2 (a grid's values)"),
    ("override-without-equals", GOOD, ["-S", "lr"], "-S lr: write PARAM=V1,V2"),
    ("override-bad-name", GOOD, ["-S", "../x=1"], "-S ../x=1: `../x` is not a param name"),
    (
        "override-default-list",
        GOOD,
        ["-S", "default.lr=1,2"],
        "-S default.lr=1,2: a default is one value; sweep several with PARAM=V1,V2",
    ),
    (
        "override-empty-range",
        GOOD,
        ["-S", "lr=3:1"],
        "-S lr=3:1: the range 3:1 is empty; STOP is excluded, e.g. 0:3 is 0, 1, 2",
    ),
    ("override-nested", GOOD, ["-S", "lr=[1, [2]]"], "-S lr=[1, [2]]: give plain values"),
    (
        "override-zipped-param",
        CONFIG + "---\n_zip: {lr: [0.1, 0.2], wd: [1, 2]}\n",
        ["-S", "lr=1"],
        "-S lr=1: `lr` is zipped with other params in document 2; edit the sweep file to change "
        "it there",
    ),
    (
        "override-rows-param",
        CONFIG + "---\n_rows: [{lr: 0.1}, {lr: 0.2}]\n",
        ["-S", "lr=1"],
        "-S lr=1: `lr` is listed in `_rows` in document 2; edit the sweep file to change it there",
    ),
    (
        "override-distribution",
        CONFIG + "---\nlr: {uniform: [0, 1]}\n_samples: 2\n",
        ["-S", "lr=1"],
        "-S lr=1: `lr` is drawn from a distribution in document 2; edit the sweep file to "
        "change it there",
    ),
    (
        "override-excluded-param",
        GOOD + "_exclude: [{lr: 0.1}]\n",
        ["-S", "lr=1"],
        "-S lr=1: `lr` is named in `_exclude` in document 2; edit the sweep file to change it "
        "there",
    ),
    (
        "override-unreadable-yaml",
        GOOD,
        ["-S", "lr=!!bool maybe"],
        "-S lr=!!bool maybe: cannot read '!!bool maybe'; quote a value holding a comma",
    ),
    (
        "override-huge-range",
        GOOD,
        ["-S", "lr=0:10000000000"],
        "-S lr=0:10000000000: 10,000,000,000 values; a sweep takes at most 5,000,000",
    ),
    (
        "samples-too-many",
        CONFIG + "---\nlr: {uniform: [0, 1]}\n_samples: 1000000000\n",
        [],
        "params.yaml: document 2._samples: at most 5,000,000; check for a typo",
    ),
    (
        "uniform-infinite",
        CONFIG + "---\nlr: {uniform: [0, .inf]}\n_samples: 2\n",
        [],
        "params.yaml: document 2.lr: uniform: give [LOW, HIGH], two finite numbers",
    ),
    (
        "override-checked-as-the-file",
        GOOD,
        ["-S", "lr=a,a"],
        "params.yaml: document 2.lr: a value is listed twice; list each value once",
    ),
    # --- conditional params (`_when`) --------------------------------------------------------
    (
        "when-not-a-list",
        GOOD + "_when: {lr: 0.1}\n",
        [],
        "params.yaml: document 2._when: a mapping; give a list of blocks, each an `_if` and the "
        "params it sweeps, e.g. `_when: [{_if: {optimizer: sgd}, momentum: [0.9, 0.99]}]`",
    ),
    (
        "when-without-if",
        GOOD + "_when: [{momentum: [0.9]}]\n",
        [],
        "params.yaml: document 2._when[0]._if: missing; give a list of blocks",
    ),
    (
        "when-on-a-param-not-swept",
        GOOD + "_when: [{_if: {optimizer: sgd}, momentum: [0.9]}]\n",
        [],
        "params.yaml: document 2._when[0]._if.optimizer: this document does not sweep "
        "`optimizer`; it sweeps lr",
    ),
    (
        "when-on-a-value-not-swept",
        GOOD + "_when: [{_if: {lr: 0.3}, momentum: [0.9]}]\n",
        [],
        "params.yaml: document 2._when[0]._if.lr: 0.3 is not among the values here (0.1, 0.2); "
        "check for a typo",
    ),
    (
        "when-sets-a-param-of-the-document",
        GOOD + "bs: [1, 2]\n_when: [{_if: {lr: 0.1}, bs: [3]}]\n",
        [],
        "params.yaml: document 2._when[0].bs: set outside this block too; keep it in one place",
    ),
    (
        "when-blocks-overlap",
        GOOD + "_when: [{_if: {lr: 0.1}, m: [1]}, {_if: {lr: [0.1, 0.2]}, m: [2]}]\n",
        [],
        "params.yaml: document 2._when.m: set by two `_when` blocks whose `_if`s can both hold; "
        "make the `_if`s exclusive or set it in one block",
    ),
    (
        "when-param-used-but-not-always-set",
        "template:\n  train: run --m {m}\n---\nlr: [0.1, 0.2]\n_when: [{_if: {lr: 0.1}, m: [1]}]\n",
        [],
        "params.yaml: document 2: template.train uses `m` but this document (some `_when` block "
        "of it) gives it no value and `default` has none; add `m` to `default` or to this "
        "document",
    ),
    (
        "override-conditional-param",
        GOOD + "_when: [{_if: {lr: 0.1}, m: [1]}]\n",
        ["-S", "m=2"],
        "-S m=2: `m` is set in a `_when` block in document 2; edit the sweep file to change it "
        "there",
    ),
    # --- search (`exptflow tune`) -----------------------------------------------------------
    (
        "search-without-goal",
        CONFIG + "search: {trials: 3}\n---\nlr: [0.1]\n",
        [],
        "params.yaml: search: no goal; name the metric once, e.g. "
        "`search: {maximize: test_accuracy, trials: 40}`",
    ),
    (
        "search-unknown-key",
        CONFIG + "search: {minimize: loss, trials: 3, trails: 4}\n---\nlr: [0.1]\n",
        [],
        "params.yaml: search.trails: unknown key `trails`; did you mean `trials`? valid keys: "
        "maximize, minimize, parallel, sampler, seed, trials",
    ),
    (
        "search-unknown-sampler",
        CONFIG + "search: {minimize: loss, trials: 3, sampler: cmaes}\n---\nlr: [0.1]\n",
        [],
        "params.yaml: search.sampler: 'cmaes'; use one of: tpe, random, grid",
    ),
    (
        "search-without-budget",
        CONFIG + "search: {minimize: loss}\n---\nlr: [0.1]\n",
        [],
        "params.yaml: search.trials: give a whole number from 1 to 100,000: the budget of "
        "trials, e.g. `trials: 40`",
    ),
    (
        "compile-a-search-space",
        CONFIG + "search: {minimize: loss, trials: 3}\n---\nlr: {uniform: [0, 1]}\n",
        [],
        "params.yaml: document 2: a search space (distributions without `_samples`); run "
        "`exptflow tune` to search it, or add `_samples: N` (or pass --sample N) to draw N "
        "at random",
    ),
    # Shared stages (`shared: true`, `per`, `over`, `{stage._output}`).
    (
        "shared-per-unknown-param",
        SHARED.replace("shared: true", "shared: true, per: [dta]"),
        [],
        "params.yaml: template.prep.per[0]: unknown param `dta`; did you mean `data`? name a "
        "param of `default` or of a grid document",
    ),
    (
        "shared-over-unknown-param",
        SHARED.replace("shared: true", "shared: true, over: [sed]"),
        [],
        "params.yaml: template.prep.over[0]: unknown param `sed`; did you mean `seed`?",
    ),
    (
        "shared-per-an-alias",
        SHARED.replace("shared: true", "shared: true, per: [data, size]").replace(
            "default:", "alias: {size: {big: {seed: 1}}}\ndefault:"
        ),
        [],
        "params.yaml: template.prep.per[1]: `size` is an alias; name the params it sets (seed)",
    ),
    (
        "shared-per-not-a-list",
        SHARED.replace("shared: true", "shared: true, per: data"),
        [],
        "params.yaml: template.prep.per: a str; give a list of params, e.g. `[data, vocab]`",
    ),
    (
        "shared-not-a-boolean",
        SHARED.replace("shared: true", "shared: yes please"),
        [],
        "params.yaml: template.prep.shared: 'yes please' is not true or false; write "
        "`shared: true`",
    ),
    (
        "per-without-shared",
        SHARED.replace("shared: true", "per: [data]"),
        [],
        "params.yaml: template.prep.per: only a shared stage has a key; add `shared: true`",
    ),
    (
        "shared-per-and-over",
        SHARED.replace("shared: true", "shared: true, per: [data], over: [seed]"),
        [],
        "params.yaml: template.prep.over: give `per` (the params the stage is keyed on) or "
        "`over` (those it gathers), not both",
    ),
    (
        "shared-uses-a-param-outside-its-key",
        SHARED.replace("shared: true", "shared: true, per: [seed]"),
        [],
        "params.yaml: template.prep: uses `data`, which is not in the shared stage's key; add "
        "it to `per`",
    ),
    (
        "shared-over-a-param-it-uses",
        SHARED.replace("shared: true", "shared: true, over: [data]"),
        [],
        "params.yaml: template.prep: uses `data`, which is not in the shared stage's key; "
        "remove it from `over`",
    ),
    (
        "shared-with-an-empty-key",
        SHARED.replace("prep {data}", "prep"),
        [],
        "params.yaml: template.prep: a shared stage keyed on no param would run once for the "
        "whole sweep; name its key with `per: [PARAM, ...]`, or write `per: []` to run it once",
    ),
    (
        "output-of-a-stage-that-is-not-shared",
        SHARED.replace("{prep._output}", "{train._output}").replace(
            "test: t", "test: t {train._output}"
        ),
        [],
        "params.yaml: template.test: {train._output}: `train` is not shared: it writes this "
        "experiment's directory; write {_output} (or `shared: true` on `train`)",
    ),
    (
        "output-of-an-unknown-stage",
        SHARED.replace("test: t", "test: t {later._output}"),
        [],
        "params.yaml: template.test: {later._output}: unknown stage `later`; stages: prep, "
        "train, test",
    ),
    (
        "output-of-a-stage-that-comes-later",
        SHARED.replace("prep {data}", "prep {data} {train._output}"),
        [],
        "params.yaml: template.prep: {train._output}: `train` does not come before `prep`; a "
        "stage reads earlier stages",
    ),
    (
        "output-of-a-shared-stage-with-a-wider-key",
        SHARED.replace("test: t", "test: {cmd: 't {prep._output}', shared: true, per: [seed]}"),
        [],
        "params.yaml: template.test: {prep._output}: `prep` is keyed on `data`, which this "
        "stage's key lacks; add it to `per`",
    ),
    (
        "cmd-runs-a-stage-without-the-shared-one-it-reads",
        SHARED + "_cmd: [train]\n",
        [],
        "params.yaml: document 2._cmd: runs `train`, which reads {prep._output}, without "
        "`prep`; add `prep`",
    ),
    (
        "shared-and-cached-elsewhere",
        SHARED.replace("shared: true", "shared: true, cache: true"),
        [],
        "params.yaml: template.prep.cache: a cached stage keeps its results in `{_output}/prep` "
        "(the directory the cache stores and restores); write them there, e.g. "
        "`--out {_output}/prep`",
    ),
    (
        "shared-stage-in-a-search",
        SHARED.replace("default:", "search: {minimize: loss, trials: 3}\ndefault:"),
        [],
        "params.yaml: template.prep: `exptflow tune` runs no shared stages; remove `shared` or "
        "`search`",
    ),
]


def _stage(extra: str) -> str:
    """A sweep whose one stage has the long form with ``extra`` keys."""
    return "template:\n  train: {cmd: 'run {lr}', " + extra + "}\n---\nlr: [1]\n"


def _grid(lines: str) -> str:
    return CONFIG + "---\nlr: [1]\n" + lines


NESTED_ANCHORS = "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 40))
TEN_BILLION = CONFIG + "---\n" + "".join(f"p{i}: {list(range(10))}\n" for i in range(9))
TEN_BILLION += f"lr: {list(range(10))}\n"
TEN_DOCUMENTS = CONFIG + "".join(
    "---\n" + "".join(f"p{i}: {list(range(d, d + 10))}\n" for i in range(7)) + "lr: [1]\n"
    for d in range(10)
)
WRONG_NAME = "param name {} is not valid; start with a letter and use letters, digits, _ and -"
ALIAS_CHAIN = "sets `b`, which is an alias too; aliases don't chain: list the params `b` sets"
MAX_EXPERIMENTS = (
    "more than exptflow can compile (at most 5,000,000, even with --yes); check the lists for "
    "a typo, or split the sweep into documents with `_title` and compile one `--title` at a time"
)
NOT_TEXT = "not a text file (NUL byte at offset {}); save the sweep file as UTF-8 text"

HOSTILE = [
    # --- reading the file ------------------------------------------------------------------
    pytest.param(
        CONFIG + "---\nlr: " + "[" * 100_000 + "\n",
        [],
        "params.yaml: line 5, column 36: nested more than 32 levels deep; "
        "a sweep file needs a few levels, flatten it",
        id="deep-brackets",
    ),
    pytest.param(
        "{a: " * 100_000 + "\n",
        [],
        "params.yaml: line 1, column 126: nested more than 32 levels deep",
        id="deep-braces",
    ),
    pytest.param(
        CONFIG + "---\nlr:\n" + "- " * 50_000 + "x\n",
        [],
        "params.yaml: line 6, column 63: nested more than 32 levels deep",
        id="deep-block-sequence",
    ),
    pytest.param(
        _grid("x: &a [1, *a]\n"),
        [],
        "params.yaml: document 2: a YAML alias refers to the value that holds it; "
        "write the values out instead",
        id="recursive-alias",
    ),
    pytest.param(
        _grid(NESTED_ANCHORS),
        [],
        "params.yaml: document 2: YAML anchors/aliases nest more than 32 levels deep; "
        "write the values out instead",
        id="anchors-nesting-deep",
    ),
    pytest.param(
        "x: &a [1, *a]\n" + CONFIG + "---\nlr: [1]\n",
        [],
        "params.yaml: document 1: a YAML alias refers to the value that holds it",
        id="recursive-alias-in-settings",
    ),
    pytest.param(
        b"template:\n  t: run\x00\n---\na: [1]\n",
        [],
        "params.yaml: " + NOT_TEXT.format(18),
        id="nul-byte",
    ),
    pytest.param(bytes(range(256)) * 4, [], "params.yaml: " + NOT_TEXT.format(0), id="binary"),
    pytest.param(
        (CONFIG + "---\nlr: [1]\n").encode("utf-16"),
        [],
        "params.yaml: UTF-16 text (it starts with a byte order mark); save the file as UTF-8",
        id="utf-16-bom",
    ),
    pytest.param(
        (CONFIG + "---\nlr: [1]\n").encode("utf-16-be"),
        [],
        "params.yaml: " + NOT_TEXT.format(0),
        id="utf-16-without-bom",
    ),
    pytest.param(
        b"template:\n  t: run \x07\n---\na: [1]\n",
        [],
        "params.yaml: line 2, column 10: character U+0007 is not allowed in a YAML file; remove it",
        id="control-character",
    ),
    pytest.param(
        b"template:\n  t: run \xc3\n",
        [],
        "params.yaml: not UTF-8 text (bad byte at offset 19); save the file as UTF-8",
        id="truncated-utf-8",
    ),
    pytest.param(
        GOOD, ["."], ".: is a directory, not a sweep file; pass the sweep file as", id="dir"
    ),
    pytest.param(
        GOOD,
        ["missing.yaml"],
        "missing.yaml: no such file; pass the sweep file as `exptflow compile FILE`",
        id="missing-file",
    ),
    pytest.param(
        GOOD,
        ["/dev/zero"],
        "/dev/zero: not a regular file; pass the sweep file as `exptflow compile FILE`",
        id="device-file",
    ),
    pytest.param(
        GOOD,
        ["bad\0name.yaml"],
        "bad\\x00name.yaml: the file name holds a control character; rename the file",
        id="nul-in-file-name",
    ),
    pytest.param(
        CONFIG + "---\nlr: [1" + "0" * 5000 + "]\n",
        [],
        "params.yaml: line 5, column 6: can't read `10000000000000000000000000000000…` as int; "
        "quote it to keep it as text",
        id="int-too-long",
    ),
    pytest.param(
        CONFIG + "---\nlr: [0x" + "f" * 5000 + "]\n",
        [],
        "params.yaml: document 2.lr[0]: a whole number beyond 64 bits; quote it to keep it as text",
        id="hex-int-too-big",
    ),
    pytest.param(
        _grid("d: [2001-13-45]\n"),
        [],
        "params.yaml: line 6, column 5: can't read `2001-13-45` as timestamp; quote it",
        id="impossible-date",
    ),
    pytest.param(
        _grid("d: [!!bool maybe]\n"),
        [],
        "params.yaml: line 6, column 5: can't read `maybe` as bool; quote it",
        id="tagged-bool",
    ),
    pytest.param(
        _grid("d: [!!timestamp nope]\n"),
        [],
        "params.yaml: line 6, column 5: can't read `nope` as timestamp",
        id="tagged-timestamp",
    ),
    pytest.param(
        _grid("d: [!!float abc]\n"),
        [],
        "params.yaml: line 6, column 5: can't read `abc` as float",
        id="tagged-float",
    ),
    pytest.param(
        _grid("[a]: [1]\n"),
        [],
        "params.yaml: line 6, column 1: a list or mapping as a key; keys are plain names",
        id="list-as-key",
    ),
    pytest.param(
        _grid("{a: 1}: [1]\n"),
        [],
        "params.yaml: line 6, column 1: a list or mapping as a key",
        id="mapping-as-key",
    ),
    # --- every top-level key of a wrong type ------------------------------------------------
    pytest.param(
        "template: 5\n---\nlr: [1]\n",
        [],
        "params.yaml: template: a int; give a mapping `stage: command`",
        id="template-int",
    ),
    pytest.param(
        "template: run it\n---\nlr: [1]\n",
        [],
        "params.yaml: template: a str; give a mapping `stage: command`",
        id="template-str",
    ),
    pytest.param(
        "template:\n  train: [a]\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train: a list; give a shell command or a mapping with `cmd`",
        id="stage-list",
    ),
    pytest.param(
        "template:\n  train: {cmd: [a]}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train.cmd: the stage command is a list; write a command",
        id="stage-cmd-list",
    ),
    pytest.param(
        'template:\n  train: "run \\0"\n---\nlr: [1]\n',
        [],
        "params.yaml: template.train: a NUL character can't be passed to a program; remove it",
        id="stage-cmd-nul",
    ),
    pytest.param(
        CONFIG + "default: abc\n---\nlr: [1]\n",
        [],
        "params.yaml: default: a str; give a mapping `param: value`",
        id="default-str",
    ),
    pytest.param(
        "template:\n  train: run {lr}\nresource: {a: 1}\n---\nlr: [1]\n",
        [],
        "params.yaml: resource: a mapping; give a list of GPU ids",
        id="resource-mapping",
    ),
    pytest.param(
        "template:\n  train: run {lr}\nresource: [[[0]]]\n---\nlr: [1]\n",
        [],
        "params.yaml: resource[0]: [[0]] is not a GPU id list",
        id="resource-nested-lists",
    ),
    pytest.param(
        "template:\n  train: run {lr}\nresource: ['../../x']\n---\nlr: [1]\n",
        [],
        "params.yaml: resource[0]: '../../x' is not a GPU id list",
        id="resource-path",
    ),
    pytest.param(
        "template:\n  train: run {lr}\nresource: [true]\n---\nlr: [1]\n",
        [],
        "params.yaml: resource[0]: true is not a GPU id list",
        id="resource-boolean",
    ),
    pytest.param(
        CONFIG + "alias: 5\n---\nlr: [1]\n",
        [],
        "params.yaml: alias: a int; give a mapping `name: {value: {param: value}}`",
        id="alias-int",
    ),
    pytest.param(
        CONFIG + "alias: {arch: 5}\n---\nlr: [1]\n",
        [],
        "params.yaml: alias.arch: give a mapping `value: {param: value, ...}` or a list of params",
        id="alias-entry-int",
    ),
    pytest.param(
        CONFIG + "output: [a]\n---\nlr: [1]\n",
        [],
        "params.yaml: output: a list; give the experiments directory, e.g. `output`",
        id="output-list",
    ),
    pytest.param(
        CONFIG + 'output: "a\\0b"\n---\nlr: [1]\n',
        [],
        "params.yaml: output: the path holds a control character; remove it",
        id="output-nul",
    ),
    pytest.param(
        CONFIG + 'output: "a\\nb"\n---\nlr: [1]\n',
        [],
        "params.yaml: output: the path holds a control character; remove it",
        id="output-newline",
    ),
    pytest.param(
        CONFIG + f"output: {'o' * 300}\n---\nlr: [1]\n",
        [],
        "params.yaml: output: a path part is longer than 255 bytes; shorten it",
        id="output-too-long",
    ),
    pytest.param(
        GOOD,
        ["-o", "a\0b"],
        "-o: the path holds a control character; remove it",
        id="output-flag-nul",
    ),
    pytest.param(
        CONFIG + "metrics: [a]\n---\nlr: [1]\n",
        [],
        "params.yaml: metrics: a list; give a mapping `name: {stage, regex, reduce}`",
        id="metrics-list",
    ),
    pytest.param(
        CONFIG + "parsers: {a: b}\n---\nlr: [1]\n",
        [],
        "params.yaml: parsers: a mapping; give a list of `module:function` names",
        id="parsers-mapping",
    ),
    pytest.param(
        _grid("_title: [a]\n"),
        [],
        "params.yaml: document 2._title: a list; give a name",
        id="title-list",
    ),
    pytest.param(
        _grid("_title: true\n"),
        [],
        "params.yaml: document 2._title: a boolean; give a name",
        id="title-boolean",
    ),
    pytest.param(
        _grid("_cmd: {a: 1}\n"),
        [],
        "params.yaml: document 2._cmd: give the stages to run as a list, e.g. `[train, test]`",
        id="cmd-mapping",
    ),
    pytest.param(
        CONFIG + "---\n- lr\n", [], "params.yaml: document 2: the grid is a list", id="grid-list"
    ),
    # --- grids -----------------------------------------------------------------------------
    pytest.param(
        CONFIG + "---\nlr: null\n",
        [],
        "params.yaml: document 2.lr: null where a single value is needed; quote it",
        id="grid-null",
    ),
    pytest.param(
        CONFIG + "---\nlr: [1, null]\n",
        [],
        "params.yaml: document 2.lr[1]: null where a single value is needed; quote it",
        id="grid-list-with-null",
    ),
    pytest.param(
        TEN_BILLION,
        [],
        "params.yaml: the grid documents expand to 10,000,000,000 experiments, " + MAX_EXPERIMENTS,
        id="ten-billion",
    ),
    pytest.param(
        TEN_BILLION,
        ["--yes"],
        "params.yaml: the grid documents expand to 10,000,000,000 experiments, " + MAX_EXPERIMENTS,
        id="ten-billion-yes",
    ),
    pytest.param(
        TEN_DOCUMENTS,
        ["--yes", "--dry-run"],
        "params.yaml: the grid documents expand to 100,000,000 experiments, " + MAX_EXPERIMENTS,
        id="ten-documents-yes",
    ),
    # --- stage long form -------------------------------------------------------------------
    pytest.param(
        _stage("gpus: true"),
        [],
        "params.yaml: template.train.gpus: true is not a whole number >= 0; write e.g. `1`",
        id="gpus-boolean",
    ),
    pytest.param(
        _stage("retries: -1"),
        [],
        "params.yaml: template.train.retries: -1 is not a whole number >= 0",
        id="retries-negative",
    ),
    pytest.param(
        _stage("retries: 1.5"),
        [],
        "params.yaml: template.train.retries: 1.5 is not a whole number >= 0",
        id="retries-fraction",
    ),
    pytest.param(
        _stage("pack: -3"),
        [],
        "params.yaml: template.train.pack: -3 is not a whole number >= 0",
        id="pack-negative",
    ),
    pytest.param(
        _stage("pack: yes"),
        [],
        "params.yaml: template.train.pack: true is not a whole number >= 0",
        id="pack-boolean",
    ),
    pytest.param(
        _stage("pack: 0"),
        [],
        "params.yaml: template.train.pack: 0 jobs per submission; write e.g. `pack: 20`",
        id="pack-zero",
    ),
    pytest.param(
        _stage("retries: 0x" + "f" * 5000),
        [],
        "params.yaml: template.train.retries: a whole number beyond 64 bits",
        id="retries-huge",
    ),
    pytest.param(
        _stage("resources: {mem_mb: 0x" + "f" * 5000 + "}"),
        [],
        "params.yaml: template.train.resources.mem_mb: a whole number beyond 64 bits",
        id="resources-huge",
    ),
    pytest.param(
        _stage("resources: [a]"),
        [],
        "params.yaml: template.train.resources: a list; give a mapping such as "
        "`{mem_mb: 8000, runtime: 120}`",
        id="resources-list",
    ),
    pytest.param(
        _stage("resources: {mem_mb: -5}"),
        [],
        "params.yaml: template.train.resources.mem_mb: -5 should be a whole number >= 0",
        id="resources-negative",
    ),
    pytest.param(
        _stage("resources: {slurm_extra: 5}"),
        [],
        "params.yaml: template.train.resources.slurm_extra: 5 should be a str",
        id="resources-int-for-str",
    ),
    pytest.param(
        _stage('resources: {slurm_extra: "a\\nb"}'),
        [],
        "params.yaml: template.train.resources.slurm_extra: a control character can't reach "
        "the scheduler; remove it",
        id="resources-newline",
    ),
    pytest.param(
        _stage("resources: {1: 2}"),
        [],
        "params.yaml: template.train.resources.1: unknown key `1`; valid keys: constraint,",
        id="resources-int-key",
    ),
    # --- placeholders and stage names -------------------------------------------------------
    pytest.param(
        "template:\n  train: run --lr {lr --wd 1\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train: unterminated placeholder `{lr`; write {lr}",
        id="unterminated-brace",
    ),
    pytest.param(
        "template:\n  train: run [lr\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train: unterminated placeholder `[lr`; write [lr]",
        id="unterminated-bracket",
    ),
    pytest.param(
        "template:\n  train: run {_output] {lr}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.train: unterminated placeholder `{_output`; write {_output}",
        id="mismatched-brackets",
    ),
    pytest.param(
        '"train\\n": run {lr}\n'.join(["template:\n  ", "---\nlr: [1]\n"]),
        [],
        'params.yaml: template."train\\n": stage names start with a letter',
        id="stage-name-newline",
    ),
    pytest.param(
        "template:\n  a-b: run {lr}\n  a_b: run\n---\nlr: [1]\n",
        [],
        "params.yaml: template.a_b: stages `a-b` and `a_b` would both be rule `a_b`; rename one",
        id="stage-rule-clash",
    ),
    pytest.param(
        "template:\n  all: run {lr}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.all: `all` is a rule exptflow adds to the Snakefile; "
        "rename the stage",
        id="stage-named-all",
    ),
    pytest.param(
        "template:\n  if: run {lr}\n---\nlr: [1]\n",
        [],
        "params.yaml: template.if: `if` is a Python keyword; rename the stage",
        id="stage-named-keyword",
    ),
    # --- reserved names ---------------------------------------------------------------------
    pytest.param(
        _grid("_name: [a]\n"),
        [],
        "params.yaml: document 2._name: `_name` is reserved; exptflow sets it, rename your param",
        id="reserved-name",
    ),
    pytest.param(
        _grid("_time: [a]\n"),
        [],
        "params.yaml: document 2._time: `_time` is reserved",
        id="reserved-time",
    ),
    pytest.param(
        CONFIG + "default: {_output: x}\n---\nlr: [1]\n",
        [],
        "params.yaml: default._output: `_output` is reserved",
        id="reserved-in-default",
    ),
    pytest.param(
        CONFIG + "default: {_seed: 1}\n---\nlr: [1]\n",
        [],
        "params.yaml: default._seed: names starting with `_` belong to exptflow; rename your param",
        id="underscore-in-default",
    ),
    pytest.param(
        CONFIG + "alias: {_arch: [x]}\n---\nlr: [1]\n",
        [],
        "params.yaml: alias._arch: names starting with `_` belong to exptflow",
        id="underscore-alias",
    ),
    pytest.param(
        CONFIG + "alias: {dim: [x, _output]}\n---\nlr: [1]\n",
        [],
        "params.yaml: alias.dim[1]: `_output` is reserved",
        id="reserved-alias-target",
    ),
    pytest.param(
        CONFIG + "alias: {arch: {pre: {_name: 1}}}\n---\nlr: [1]\n",
        [],
        "params.yaml: alias.arch.pre._name: `_name` is reserved",
        id="reserved-alias-mapping-target",
    ),
    # --- alias cycles and clashes -----------------------------------------------------------
    pytest.param(
        CONFIG + "alias: {a: [b], b: [x]}\n---\nlr: [1]\n",
        [],
        "params.yaml: alias.a: " + ALIAS_CHAIN,
        id="alias-chain",
    ),
    pytest.param(
        CONFIG + "alias: {a: [b], b: [a]}\n---\nlr: [1]\n",
        [],
        "params.yaml: alias.b: sets `a`, which is an alias too",
        id="alias-cycle",
    ),
    pytest.param(
        CONFIG + "alias: {a: [a]}\n---\nlr: [1]\n",
        [],
        "params.yaml: alias.a: sets `a`, which is an alias too",
        id="alias-of-itself",
    ),
    pytest.param(
        CONFIG + "alias: {a: {p: {b: 1}}, b: {q: {x: 1}}}\n---\nlr: [1]\n",
        [],
        "params.yaml: alias.a: " + ALIAS_CHAIN,
        id="alias-mapping-chain",
    ),
    pytest.param(
        "template:\n  t: run [x]\nalias: {a: [x], b: [x]}\n---\na: [1]\nb: [2]\n",
        [],
        "params.yaml: document 2.b: sets `x` as alias `a` does; set `x` through one of them",
        id="two-aliases-one-target",
    ),
    pytest.param(
        "template:\n  t: run [x]\nalias: {a: [x]}\ndefault: {x: 1, a: 2}\n---\nlr: [1]\n",
        [],
        "params.yaml: default.x: also set by alias `a`; set `x` or `a` here, not both",
        id="alias-and-target-in-default",
    ),
    # --- metrics and parsers ----------------------------------------------------------------
    pytest.param(
        CONFIG + "metrics: {bleu: {stage: train, regex: '('}}\n---\nlr: [1]\n",
        [],
        "params.yaml: metrics.bleu.regex: invalid regular expression: missing ), unterminated "
        "subpattern at position 0",
        id="regex-unbalanced",
    ),
    pytest.param(
        CONFIG + "metrics: {bleu: {stage: train, regex: '(a{99999999999})'}}\n---\nlr: [1]\n",
        [],
        "params.yaml: metrics.bleu.regex: invalid regular expression: the repetition number "
        "is too large",
        id="regex-overflow",
    ),
    pytest.param(
        CONFIG
        + "metrics: {bleu: {stage: train, regex: '"
        + "(" * 5000
        + ")" * 5000
        + "'}}\n---\nlr: [1]\n",
        [],
        "params.yaml: metrics.bleu.regex: invalid regular expression: nested too deeply",
        id="regex-too-deep",
    ),
    pytest.param(
        CONFIG + 'metrics: {"a\\tb": {stage: train, regex: "(.+)"}}\n---\nlr: [1]\n',
        [],
        'params.yaml: metrics."a\\tb": a metric name is one line of printable text; rename it',
        id="metric-name-control",
    ),
    pytest.param(
        CONFIG + "parsers: ['nosuchmodule:parse']\n---\nlr: [1]\n",
        [],
        "params.yaml: parsers[0]: no module `nosuchmodule` (no nosuchmodule.py beside the "
        "Snakefile, none installed); fix the name",
        id="parser-missing-module",
    ),
    # --- param names ------------------------------------------------------------------------
    *(
        pytest.param(
            _grid(f"{key}: [1]\n"),
            [],
            f"params.yaml: document 2.{shown}: " + WRONG_NAME.format(name),
            id=f"param-name-{label}",
        )
        for label, key, shown, name in [
            ("slash", "a/b", "a/b", "'a/b'"),
            ("dots", "'..'", "..", "'..'"),
            ("equals", "'a=b'", "a=b", "'a=b'"),
            ("plus", "'a+b'", "a+b", "'a+b'"),
            ("space", "'a b'", "a b", "'a b'"),
            ("nul", '"a\\0b"', '"a\\u0000b"', "'a\\x00b'"),
            ("newline", '"lr\\n"', '"lr\\n"', "'lr\\n'"),
            ("null", "null", "null", "null"),
            ("boolean", "true", "true", "true"),
            ("float", "1.5", "1.5", "1.5"),
        ]
    ),
    pytest.param(
        CONFIG + "default: {a/b: 1}\n---\nlr: [1]\n",
        [],
        "params.yaml: default.a/b: " + WRONG_NAME.format("'a/b'"),
        id="default-name-slash",
    ),
    pytest.param(
        CONFIG + "alias: {dim: [x, ../y]}\n---\nlr: [1]\n",
        [],
        "params.yaml: alias.dim[1]: " + WRONG_NAME.format("'../y'"),
        id="alias-list-target-name",
    ),
    pytest.param(
        CONFIG + 'alias: {arch: {pre: {"a\\nb": 1}}}\n---\nlr: [1]\n',
        [],
        'params.yaml: alias.arch.pre."a\\nb": ' + WRONG_NAME.format("'a\\nb'"),
        id="alias-mapping-target-name",
    ),
    pytest.param(
        CONFIG + "alias: {a+b: [x]}\n---\nlr: [1]\n",
        [],
        "params.yaml: alias.a+b: " + WRONG_NAME.format("'a+b'"),
        id="alias-name-plus",
    ),
    pytest.param(
        "1: x\n" + GOOD,
        [],
        "params.yaml: 1: unknown key `1`; valid keys: alias, code, default,",
        id="top-level-int-key",
    ),
    pytest.param(
        "null: x\n" + GOOD,
        [],
        "params.yaml: null: unknown key `null`; valid keys: alias, code, default,",
        id="top-level-null-key",
    ),
    pytest.param(
        "template:\n  null: run\n---\nlr: [1]\n",
        [],
        "params.yaml: template.null: stage names start with a letter",
        id="stage-null-key",
    ),
    pytest.param(
        CONFIG + f"---\nlr: [1]\n? {'x' * 10_000}/\n: [1]\n",
        [],
        "params.yaml: document 2.xxxxxxxxxxxxxxxx",
        id="very-long-key",
    ),
]


def _files(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*"))


def _refuse(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI in-process; check exit code 2, one line per problem, no traceback."""
    started = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - started
    error = capsys.readouterr().err
    assert code == 2, error
    assert elapsed < 1, f"refused in {elapsed:.2f} s"
    assert error.startswith("error: ") and "Traceback" not in error
    return error


def _check_lines(error: str, expected: str) -> None:
    """Every problem is one short line naming the file (or the flag) it is about."""
    source = expected.split(": ")[0]
    for line in error.removeprefix("error: ").splitlines():
        assert line.startswith(f"{source}: "), line
        assert len(line) < 400, line


ALL_CASES = [
    pytest.param(text, arguments, expected, id=name) for name, text, arguments, expected in CASES
] + HOSTILE


@pytest.mark.parametrize(("text", "arguments", "expected"), ALL_CASES)
def test_bad_sweep_is_refused_with_a_clear_message(
    chdir_tmp: Path,
    capsys: pytest.CaptureFixture[str],
    text: str | bytes,
    arguments: list,
    expected: str,
) -> None:
    sweep = chdir_tmp / "params.yaml"
    sweep.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    error = _refuse(capsys, ["compile", *arguments])
    assert expected in error
    _check_lines(error, expected)
    assert _files(chdir_tmp) == ["params.yaml"], "nothing written"


SEARCH = CONFIG + "search: {minimize: loss, trials: 3}\n"
TUNE_CASES = [
    (
        "no-search-block",
        GOOD,
        [],
        "params.yaml: no `search:` block; add one to the first document, e.g. "
        "`search: {maximize: test_accuracy, trials: 40}`",
    ),
    (
        "grid-sampler-over-a-range",
        SEARCH.replace("trials: 3", "trials: 3, sampler: grid") + "---\nlr: {uniform: [0, 1]}\n",
        [],
        "params.yaml: document 2.lr: `sampler: grid` searches lists; give a list of values (or "
        "`choice`), or use `sampler: tpe`",
    ),
    (
        "zip-in-the-searched-document",
        SEARCH + "---\nlr: {uniform: [0, 1]}\n_zip: {a: [1, 2], b: [3, 4]}\n",
        [],
        "params.yaml: document 2: tune searches distributions and lists, not `_zip` and "
        "`_rows`; move them to a document of their own and run it with `exptflow run`",
    ),
    (
        "when-in-the-searched-document",
        SEARCH + "---\nlr: [0.1, 0.2]\n_when: [{_if: {lr: 0.1}, m: [1, 2]}]\n",
        [],
        "params.yaml: document 2: tune searches distributions and lists, not `_when`; move "
        "them to a document of their own and run it with `exptflow run`",
    ),
    (
        "two-documents-no-title",
        SEARCH + "---\nlr: [0.1, 0.2]\n---\nlr: [0.3, 0.4]\n",
        [],
        "params.yaml: document 2, document 3: tune searches one document; pick it with "
        "--title (give it a `_title`)",
    ),
    (
        "nothing-to-search",
        SEARCH + "---\nlr: 0.1\n",
        [],
        "params.yaml: document 2: nothing to search; give a param a distribution "
        "(`lr: {loguniform: [1e-5, 1e-1]}`) or a list of values",
    ),
    (
        "no-trials",
        SEARCH + "---\nlr: [0.1, 0.2]\n",
        ["--trials", "0"],
        "--trials 0: give a whole number of at least 1",
    ),
]


@pytest.mark.parametrize(
    ("text", "arguments", "expected"),
    [
        pytest.param(text, arguments, expected, id=name)
        for name, text, arguments, expected in TUNE_CASES
    ],
)
def test_bad_search_is_refused_by_tune(
    chdir_tmp: Path, capsys: pytest.CaptureFixture[str], text: str, arguments: list, expected: str
) -> None:
    (chdir_tmp / "params.yaml").write_text(text, encoding="utf-8")
    error = _refuse(capsys, ["tune", *arguments])
    assert expected in error
    assert _files(chdir_tmp) == ["params.yaml"], "nothing written"


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


@pytest.mark.parametrize(
    ("text", "arguments"),
    [
        pytest.param(CONFIG + "---\nlr: [1]\n" + BOMB, [], id="billion-laughs"),
        pytest.param(CONFIG + "---\nlr: " + "[" * 100_000 + "\n", [], id="deep-brackets"),
        pytest.param(_grid(NESTED_ANCHORS), [], id="anchors-nesting-deep"),
        pytest.param(TEN_BILLION, ["--yes"], id="ten-billion-yes"),
        pytest.param(TEN_DOCUMENTS, ["--yes"], id="ten-documents-yes"),
    ],
)
def test_hostile_input_is_refused_in_bounded_memory(
    chdir_tmp: Path, capsys: pytest.CaptureFixture[str], text: str, arguments: list
) -> None:
    (chdir_tmp / "params.yaml").write_text(text, encoding="utf-8")
    tracemalloc.start()
    try:
        assert main(["compile", *arguments]) == 2
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert "Traceback" not in capsys.readouterr().err


def test_unsafe_values_and_names_stay_one_directory_under_the_output(chdir_tmp: Path) -> None:
    """Values with `/`, `..`, newlines and names of many bytes give single, short directory
    names: nothing nests or escapes the output root."""
    long_name = "a" + "名" * 200
    write_sweep(
        chdir_tmp,
        "template:\n  t: echo {v} {"
        + long_name
        + "} > {_output}/x\n---\n"
        + 'v: ["../../x", "a/b", "..", "a\\nb", "/etc/passwd", "'
        + "y" * 400
        + '"]\n'
        + f"{long_name}: [1]\n",
    )
    assert main(["compile"]) == 0
    table = json.loads((chdir_tmp / "experiments.json").read_text())["experiments"]
    assert len(table) == 6
    for name in table:
        assert "/" not in name and "\n" not in name and name not in (".", "..")
        assert len(name.encode("utf-8")) <= 255, name
    assert sorted(p.name for p in chdir_tmp.iterdir()) == [
        "Snakefile",
        "experiments.json",
        "params.yaml",
        "profiles",
    ]


def test_shell_braces_that_are_not_placeholders_still_compile(
    chdir_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A UTF-8 byte order mark, shell braces and globs, and a merge key are all fine.
    text = (
        "\ufefftemplate:\n  t: &t {cmd: \"awk '{print $1}' {a,b} [ -f x ] ${lr} --lr {lr}\"}\n"
        "  u:\n    <<: *t\n    retries: 1\n---\nlr: [1]\n"
    )
    (chdir_tmp / "params.yaml").write_text(text, encoding="utf-8")
    assert main(["compile", "--dry-run"]) == 0
    assert "awk '{print $1}' {a,b} [ -f x ] ${lr} --lr 1" in capsys.readouterr().out


def test_bad_sweep_for_run_writes_nothing(
    chdir_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (chdir_tmp / "params.yaml").write_text(TEN_BILLION, encoding="utf-8")
    error = _refuse(capsys, ["run", "--yes"])
    assert "even with --yes" in error
    assert _files(chdir_tmp) == ["params.yaml"]


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != "params.yaml"
    }


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("template:\n  train: echo {lr} {wd}\n---\nlr: [1]\n", id="unknown-param"),
        pytest.param("template:\n  train: echo {lr}\n---\nlr: [" * 1000, id="deep"),
        pytest.param(
            "template:\n  train: echo {lr}\noutput: ../../x\n---\n'../lr': [1]\n", id="bad-name"
        ),
    ],
)
def test_invalid_edit_after_a_run_leaves_every_file_as_it_was(tmp_path: Path, bad: str) -> None:
    write_sweep(tmp_path, "template:\n  train: echo {lr} > {_output}/out\n---\nlr: [1, 2]\n")
    exptflow(tmp_path, "run", "--cores", "1")
    before = _snapshot(tmp_path)
    assert any(name.endswith("/out") for name in before)
    write_sweep(tmp_path, bad)
    for verb in ("compile", "run"):
        result = exptflow(tmp_path, verb, check=False)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
    assert _snapshot(tmp_path) == before


ORPHAN_WARNING = (
    "warning: params.yaml: params no template uses, which only name experiments (declare one "
    "so with `_tags: [dummy]` in its document): dummy\n"
)


@pytest.mark.parametrize("arguments", [["--dry-run"], []], ids=["dry-run", "compile"])
def test_orphan_warning_names_only_params_no_template_uses(
    chdir_tmp: Path, capsys: pytest.CaptureFixture[str], arguments: list[str]
) -> None:
    write_sweep(
        chdir_tmp,
        """
        template: {dtype: 'echo [bool]', replace: 'echo [flag]'}
        default: {bool: False, flag: False}
        ---
        {_cmd: dtype, dummy: a, bool: True}
        """,
    )
    assert main(["compile", *arguments]) == 0
    captured = capsys.readouterr()
    assert captured.err == ORPHAN_WARNING
    if arguments:
        assert captured.out == "dtype\toutput/bool=True+dummy=a\techo --bool\n"


def test_tagged_params_compile_without_a_warning(
    chdir_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sweep(chdir_tmp, CONFIG + "---\nlr: [1]\nhiden: [16, 64]\n_tags: [hiden]\n")
    assert main(["compile", "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "output/hiden=16+lr=1" in captured.out

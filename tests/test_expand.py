"""Expansion is a pure function: sweep documents in, experiments out (a table of cases)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from exptflow.errors import SweepFileError
from exptflow.sweep import spec
from exptflow.sweep.expand import expand, orphans
from exptflow.sweep.naming import MAX_NAME_LENGTH, experiment_name
from exptflow.sweep.render import render
from exptflow.sweep.spec import Sweep

SEED_EXAMPLE = """
template:
  train: python train.py data-bin/{data} --save-dir {_output} --norm {norm} [moment] [early-stop]
  avg: python checkpoint_avg.py --inputs {_output} --num 5 --output {_output}/avg.pt
  test: python generate.py data-bin/{data} --beam 5 --path {_output}/avg.pt
default: {data: iwslt14, norm: batch, moment: 0.1, early-stop: False}
resource: [0, 1, 2, 3]
---
norm: [new, batch]
moment: [0.1, 0.05]
---
norm: [batch]
early-stop: [True, False]
"""


def sweep_of(text: str) -> Sweep:
    return Sweep.from_documents(list(yaml.safe_load_all(text)), "sweep.yaml")


def names(text: str, **options: object) -> list[str]:
    return [experiment.name for experiment in expand(sweep_of(text), **options)]


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        pytest.param(
            SEED_EXAMPLE,
            {},
            [
                "moment=0.1+norm=new",
                "moment=0.05+norm=new",
                "moment=0.1+norm=batch",
                "moment=0.05+norm=batch",
                "early-stop=True+norm=batch",
            ],
            id="seed-example-dedups-early-stop-false",
        ),
        pytest.param(
            "template: {t: 'run {a} {b}'}\n---\nb: [1, 2]\na: x\n",
            {},
            ["a=x+b=1", "a=x+b=2"],
            id="scalar-is-one-value-list-and-keys-sorted",
        ),
        pytest.param(
            "template: {t: 'run {a}'}\n---\na: [1, 2]\n---\n_title: more\na: [3]\n",
            {"title": "more"},
            ["a=3"],
            id="title-selects-documents",
        ),
        pytest.param(
            "template: {t: 'run {a}'}\n---\na: [1, 2, 3, 4, 5, 6]\n",
            {"count": 3, "seed": 7},
            ["a=2", "a=3", "a=4"],
            id="sample-is-reproducible-and-in-order",
        ),
        pytest.param(
            "template: {t: 'run [x] [y]'}\n"
            "alias: {arch: {pre: {x: 1, y: 1}, post: {x: 2, y: 2}}}\n"
            "---\narch: [pre, post]\n---\nx: 1\ny: 1\n",
            {},
            ["arch=pre", "arch=post"],
            id="alias-expands-and-dedups-with-explicit-targets",
        ),
        pytest.param(
            "template: {t: 'run {a} {b}'}\n---\nb: [1]\na: [x]\n---\na: [x]\nb: [1]\n",
            {},
            ["a=x+b=1"],
            id="yaml-key-order-does-not-matter",
        ),
    ],
)
def test_expansion_names(text: str, options: dict, expected: list[str]) -> None:
    assert names(text, **options) == expected


def test_seed_example_has_five_experiments_and_fifteen_jobs() -> None:
    experiments = expand(sweep_of(SEED_EXAMPLE))
    assert len(experiments) == 5
    assert sum(len(e.stages) for e in experiments) == 15
    merged = next(e for e in experiments if e.name == "moment=0.1+norm=batch")
    assert dict(merged.params) == {
        "data": "iwslt14",
        "early-stop": False,
        "moment": 0.1,
        "norm": "batch",
    }


def test_cmd_limits_stages_and_duplicates_union_them() -> None:
    text = (
        "template: {train: 't {a}', avg: 'v {a}', test: 'e {a}'}\n"
        "---\na: [1, 2]\n_cmd: [train]\n---\na: [2]\n_cmd: [test]\n"
    )
    stages = {e.name: e.stages for e in expand(sweep_of(text))}
    assert stages == {"a=1": ("train",), "a=2": ("train", "test")}


def test_alias_list_form_copies_the_value() -> None:
    text = "template: {t: 'run {enc} {dec}'}\nalias: {dim: [enc, dec]}\n---\ndim: [8]\n"
    (experiment,) = expand(sweep_of(text))
    assert dict(experiment.params) == {"dec": 8, "enc": 8}


def test_orphans_are_params_no_template_uses() -> None:
    text = "template: {t: 'run {a}'}\ndefault: {unused: 1}\n---\na: [1]\nseed: [1, 2]\n"
    sweep = sweep_of(text)
    assert orphans(sweep, expand(sweep)) == ["seed", "unused"]


# As mlrunner's own example params.yaml: each document runs one stage (`_cmd`), and `dummy`
# only names experiments. A param is an orphan only if no template at all uses it, not if
# the stages of one of its experiments don't.
STAGE_PER_DOCUMENT = """
template:
  dtype: echo [str] [bool]
  replace: echo [flag] {value}
  alias: echo {one} {two}
alias: {pair: {a: {one: 1, two: 2}}}
default: {str: s, bool: False, flag: False, value: 2, one: 0, two: 0}
---
_cmd: [dtype]
dummy: [dtype]
bool: [True]
---
_cmd: [alias]
dummy: [alias]
pair: [a]
"""


def test_orphans_are_not_params_of_the_stages_an_experiment_skips() -> None:
    sweep = sweep_of(STAGE_PER_DOCUMENT)
    assert orphans(sweep, expand(sweep)) == ["dummy"]


def test_tags_declare_naming_only_params() -> None:
    text = "template: {t: 'run {hidden}'}\ndefault: {hidden: 8}\n---\nhiden: [1, 2]\n_tags: hiden\n"
    sweep = sweep_of(text)
    experiments = expand(sweep)
    assert [e.name for e in experiments] == ["hiden=1", "hiden=2"]
    assert orphans(sweep, experiments) == []


@pytest.mark.parametrize(
    ("swept", "expected"),
    [
        pytest.param({"lr": 0.1, "norm": "new"}, "lr=0.1+norm=new", id="plain"),
        pytest.param({"b": 1, "a": True}, "a=True+b=1", id="sorted-keys"),
        pytest.param({"lr": 1e-05}, "lr=1e-05", id="float-round-trips"),
        pytest.param({}, "defaults", id="nothing-swept"),
    ],
)
def test_readable_names(swept: dict, expected: str) -> None:
    assert experiment_name(swept) == expected


@pytest.mark.parametrize(
    "swept",
    [
        pytest.param({"data": "../../etc"}, id="path-traversal"),
        pytest.param({"data": "/abs/path"}, id="absolute-path"),
        pytest.param({"data": "a b;c"}, id="spaces-and-semicolon"),
        pytest.param({"a": "1"}, id="string-that-reads-as-a-number"),
        pytest.param({"a": "x" * 300}, id="too-long"),
    ],
)
def test_unsafe_names_are_safe_bounded_and_hashed(swept: dict) -> None:
    name = experiment_name(swept)
    assert "/" not in name and not name.startswith(".") and "\0" not in name
    assert len(name) <= MAX_NAME_LENGTH
    assert "~" in name


def test_string_and_number_get_different_names() -> None:
    assert experiment_name({"a": "1"}) != experiment_name({"a": 1})


@pytest.mark.parametrize(
    ("template", "params", "expected"),
    [
        pytest.param("run {a}", {"a": "x y"}, "run 'x y'", id="value-is-quoted"),
        pytest.param("run [a]", {"a": 3}, "run --a 3", id="flag-with-value"),
        pytest.param("run [a]", {"a": True}, "run --a", id="true-flag"),
        pytest.param("run [a]", {"a": False}, "run ", id="false-flag"),
        pytest.param("run {_output} {_name}", {}, "run 'out/a b' 'a b'", id="reserved"),
        pytest.param("run {_time}", {}, 'run "$EXPTFLOW_TIME"', id="time-at-job-start"),
        pytest.param("echo ${HOME} [0-9]", {}, "echo ${HOME} [0-9]", id="shell-syntax-kept"),
    ],
)
def test_render(template: str, params: dict, expected: str) -> None:
    from exptflow.sweep.render import parse

    assert render(parse(template), params, "out/a b", "a b") == expected


def test_multiline_command_is_folded() -> None:
    sweep = sweep_of("template:\n  t: |\n    run\n      --a {a}\n---\na: 1\n")
    assert sweep.stages[0].command == "run --a {a}"


@pytest.mark.parametrize(
    ("runtime", "minutes", "limit"),
    [
        pytest.param(120, 120, 7200.0, id="whole-minutes"),
        pytest.param("90s", 2, 90.0, id="seconds-round-up-for-the-cluster"),
        pytest.param("1.5h", 90, 5400.0, id="hours"),
        pytest.param("1s", 1, 1.0, id="at-least-one-minute-for-the-cluster"),
    ],
)
def test_runtime_gives_cluster_minutes_and_an_exact_local_limit(
    tmp_path: Path, runtime: object, minutes: int, limit: float
) -> None:
    sweep = tmp_path / "params.yaml"
    sweep.write_text(
        f"template:\n  train: {{cmd: run, resources: {{runtime: {runtime}}}}}\n---\na: [1]\n"
    )
    stage = spec.load(sweep).stages[0]
    assert (stage.resources["runtime"], stage.time_limit) == (minutes, limit)


ZIPPED = """
template: {t: 'run {lr} {warmup} {seed}'}
default: {seed: 0, warmup: 10}
---
seed: [0, 1]
_zip: {lr: [0.1, 0.01], warmup: [100, 1000]}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            ZIPPED,
            [
                "lr=0.1+seed=0+warmup=100",
                "lr=0.01+seed=0+warmup=1000",
                "lr=0.1+seed=1+warmup=100",
                "lr=0.01+seed=1+warmup=1000",
            ],
            id="zip-varies-together-times-the-other-axes",
        ),
        pytest.param(
            "template: {t: 'run {a} {b} {c} {d}'}\n---\n"
            "_zip: [{a: [1, 2], b: [x, y]}, {c: [3, 4], d: [z, w]}]\n",
            ["a=1+b=x+c=3+d=z", "a=1+b=x+c=4+d=w", "a=2+b=y+c=3+d=z", "a=2+b=y+c=4+d=w"],
            id="two-zip-groups-multiply",
        ),
        pytest.param(
            "template: {t: 'run {a} {b}'}\n---\n_zip: {a: [1, 1], b: [x, y]}\n---\na: [1]\nb: [x]\n",
            ["a=1+b=x", "a=1+b=y"],
            id="a-zipped-column-may-repeat-and-dedups-with-another-document",
        ),
    ],
)
def test_zipped_params(text: str, expected: list[str]) -> None:
    assert names(text) == expected


def overridden(text: str, *overrides: str) -> list[str]:
    from exptflow.sweep.overrides import apply

    documents = apply(list(yaml.safe_load_all(text)), overrides)
    return [e.name for e in expand(Sweep.from_documents(documents, "sweep.yaml"))]


GRIDS = "template: {t: 'run {lr} {data} {seed}'}\ndefault: {data: wmt, seed: 0}\n---\nlr: [0.1]\n---\nlr: [0.2]\nseed: [5]\n"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param((), ["lr=0.1", "lr=0.2+seed=5"], id="none"),
        pytest.param(
            ("lr=1e-3,1e-2",),
            ["lr=1e-3", "lr=1e-2", "lr=1e-3+seed=5", "lr=1e-2+seed=5"],
            id="replaces-in-every-document",
        ),
        pytest.param(
            ("seed=0:2",),
            ["lr=0.1+seed=0", "lr=0.1+seed=1", "lr=0.2+seed=0", "lr=0.2+seed=1"],
            id="range-adds-or-replaces-an-axis",
        ),
        pytest.param(
            ("seed=0:6:3",),
            ["lr=0.1+seed=0", "lr=0.1+seed=3", "lr=0.2+seed=0", "lr=0.2+seed=3"],
            id="range-with-a-step",
        ),
        pytest.param(
            ("default.data=iwslt",), ["lr=0.1", "lr=0.2+seed=5"], id="a-default-is-not-swept"
        ),
        pytest.param(
            ("lr=1,2.5",), ["lr=1", "lr=2.5", "lr=1+seed=5", "lr=2.5+seed=5"], id="yaml-numbers"
        ),
    ],
)
def test_overrides_edit_the_sweep_as_the_file_would(
    overrides: tuple[str, ...], expected: list[str]
) -> None:
    assert overridden(GRIDS, *overrides) == expected


@pytest.mark.parametrize(
    ("override", "in_the_file"),
    [
        pytest.param("lr=1e-3,1e-2", "[1e-3, 1e-2]", id="text-that-looks-like-numbers"),
        pytest.param("lr=[0.5, 'a,b']", "[0.5, 'a,b']", id="a-yaml-list-with-a-quoted-comma"),
        pytest.param("lr=0.5,'x y'", "[0.5, 'x y']", id="a-quoted-value-with-a-space"),
    ],
)
def test_an_override_names_experiments_exactly_as_the_file_would(
    override: str, in_the_file: str
) -> None:
    edited = GRIDS.replace("lr: [0.1]", f"lr: {in_the_file}").replace(
        "lr: [0.2]", f"lr: {in_the_file}"
    )
    assert overridden(GRIDS, override) == names(edited)


def test_a_default_override_reaches_the_commands() -> None:
    from exptflow.sweep.overrides import apply

    documents = apply(list(yaml.safe_load_all(GRIDS)), ("default.data=iwslt",))
    experiments = expand(Sweep.from_documents(documents, "sweep.yaml"))
    assert {e.params["data"] for e in experiments} == {"iwslt"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "template: {t: 'run {lr} {bs} {seed}'}\n---\nseed: [0, 1]\n"
            "_rows: [{lr: 0.1, bs: 32}, {lr: 0.01, bs: 64}]\n",
            [
                "bs=32+lr=0.1+seed=0",
                "bs=64+lr=0.01+seed=0",
                "bs=32+lr=0.1+seed=1",
                "bs=64+lr=0.01+seed=1",
            ],
            id="rows-are-whole-configurations-times-the-other-axes",
        ),
        pytest.param(
            "template: {t: 'run {lr}'}\n---\n_rows: [{lr: 0.1}, {lr: 0.2}]\n",
            ["lr=0.1", "lr=0.2"],
            id="rows-of-one-param",
        ),
        pytest.param(
            "template: {t: 'run {norm} {moment}'}\n---\nnorm: [new, batch]\nmoment: [0.1, 0.05]\n"
            "_exclude: [{norm: new, moment: 0.05}]\n",
            ["moment=0.1+norm=new", "moment=0.1+norm=batch", "moment=0.05+norm=batch"],
            id="exclude-removes-matching-combinations",
        ),
        pytest.param(
            "template: {t: 'run {norm} {moment}'}\n---\nnorm: [new, batch]\nmoment: [0.1, 0.05]\n"
            "_exclude: [{norm: new}]\n",
            ["moment=0.1+norm=batch", "moment=0.05+norm=batch"],
            id="exclude-a-partial-configuration",
        ),
        pytest.param(
            "template: {t: 'run {a} {b}'}\n---\na: [1, 2]\n_zip: {b: [x, y], c: [1, 2]}\n"
            "_exclude: [{a: 1, b: y}]\n",
            ["a=1+b=x+c=1", "a=2+b=x+c=1", "a=2+b=y+c=2"],
            id="exclude-zipped-values",
        ),
        pytest.param(
            "template: {t: 'run [a]'}\n---\na: [1, true]\n_exclude: [{a: true}]\n",
            ["a=1"],
            id="exclude-tells-true-from-1",
        ),
    ],
)
def test_rows_and_exclusions(text: str, expected: list[str]) -> None:
    assert names(text) == expected


SAMPLED = """
template: {t: 'run {lr} {drop} {layers} {act} {seed}'}
---
seed: [0, 1]
lr: {loguniform: [1e-5, 1e-1]}
drop: {uniform: [0.0, 0.5]}
layers: {int: [2, 8]}
act: {choice: [relu, gelu]}
_samples: 30
"""


def sampled(text: str = SAMPLED) -> list:
    return expand(sweep_of(text))


def test_samples_are_drawn_from_their_distributions() -> None:
    experiments = sampled()
    assert len(experiments) == 60  # 30 samples x 2 seeds
    values = {key: {e.params[key] for e in experiments} for key in ("lr", "drop", "layers", "act")}
    assert all(1e-5 <= lr <= 1e-1 for lr in values["lr"]) and len(values["lr"]) == 30
    assert all(0.0 <= drop <= 0.5 for drop in values["drop"])
    assert values["layers"] <= set(range(2, 9)) and all(
        isinstance(n, int) for n in values["layers"]
    )
    assert values["act"] == {"relu", "gelu"}
    small = [lr for lr in values["lr"] if lr < 1e-3]
    assert len(small) > 10, "log-uniform: as many draws per decade, so most fall below 1e-3"


def test_more_samples_keep_the_first_ones() -> None:
    first = [e.name for e in sampled(SAMPLED.replace("_samples: 30", "_samples: 5"))]
    more = [e.name for e in sampled(SAMPLED.replace("_samples: 30", "_samples: 10"))]
    assert set(first) < set(more) and len(more) == 20


SPACE = SAMPLED.replace("_samples: 30\n", "")  # distributions without `_samples`


def test_sample_draws_from_a_space_as_samples_would() -> None:
    names_of = [e.name for e in expand(sweep_of(SPACE), count=30, seed=0)]
    assert names_of == [e.name for e in sampled()], "--sample 30 --seed 0 is `_samples: 30`"
    seeded = [e.name for e in expand(sweep_of(SPACE), count=5, seed=3)]
    assert seeded == [e.name for e in sampled(SAMPLED.replace("30", "5") + "_seed: 3\n")]
    more = {e.name for e in expand(sweep_of(SPACE), count=10, seed=3)}
    assert set(seeded) < more, "more samples keep the first ones"


def test_a_space_without_samples_or_search_block_is_refused() -> None:
    with pytest.raises(SweepFileError) as error:
        expand(sweep_of(SPACE))
    assert str(error.value).splitlines()[0] == (
        "sweep.yaml: document 2.lr: a distribution needs `_samples: N` in its document (or --sample "
        "N, or a `search:` block, for `exptflow tune` to choose the values)"
    )


def test_the_seed_decides_the_samples() -> None:
    again = [e.name for e in sampled()]
    assert again == [e.name for e in sampled()]
    other = [e.name for e in sampled(SAMPLED + "_seed: 1\n")]
    assert set(other).isdisjoint(again)


def test_samples_are_the_same_in_every_process() -> None:
    import os
    import subprocess
    import sys

    probe = (
        "import yaml, sys; from exptflow.sweep.spec import Sweep; "
        "from exptflow.sweep.expand import expand; "
        "print([e.name for e in expand(Sweep.from_documents(list(yaml.safe_load_all(sys.stdin.read())), 's'))])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", probe],
            input=SAMPLED,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {f"{[e.name for e in sampled()]}\n"}


def test_a_default_override_fills_an_empty_default_section() -> None:
    assert overridden("template: {t: 'run {a} {b}'}\ndefault:\n---\na: [1]\n", "default.b=5") == [
        "a=1"
    ]


def test_repeated_draws_run_once_and_1_is_not_true() -> None:
    text = "template: {t: 'run [x]'}\n---\nx: {choice: [1, true]}\n_samples: 20\n"
    assert sorted(names(text)) == ["x=1", "x=True"]


WHEN = "template: {t: 'run --opt {optimizer} {_name}'}\n---\noptimizer: [sgd, adam]\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            WHEN + "_when: [{_if: {optimizer: sgd}, momentum: [0.9, 0.99]}]\n",
            ["momentum=0.9+optimizer=sgd", "momentum=0.99+optimizer=sgd", "optimizer=adam"],
            id="a-param-only-for-sgd",
        ),
        pytest.param(
            WHEN
            + "lr: [1, 2]\n_when:\n  - {_if: {optimizer: sgd}, momentum: 0.9}\n"
            + "  - {_if: {optimizer: adam, lr: 2}, beta2: [0.9, 0.99]}\n",
            [
                "lr=1+momentum=0.9+optimizer=sgd",
                "lr=2+momentum=0.9+optimizer=sgd",
                "lr=1+optimizer=adam",
                "beta2=0.9+lr=2+optimizer=adam",
                "beta2=0.99+lr=2+optimizer=adam",
            ],
            id="two-blocks-and-a-two-param-condition",
        ),
        pytest.param(
            WHEN + "_when: [{_if: {optimizer: [sgd, adam]}, wd: [0, 1]}]\n",
            [
                "optimizer=sgd+wd=0",
                "optimizer=sgd+wd=1",
                "optimizer=adam+wd=0",
                "optimizer=adam+wd=1",
            ],
            id="a-condition-with-any-of-two-values",
        ),
        pytest.param(
            WHEN
            + "_when:\n  - {_if: {optimizer: sgd}, sched: [a, b]}\n"
            + "  - {_if: {optimizer: adam}, sched: c}\n",
            ["optimizer=sgd+sched=a", "optimizer=sgd+sched=b", "optimizer=adam+sched=c"],
            id="one-param-in-exclusive-blocks",
        ),
        pytest.param(
            WHEN
            + "_when: [{_if: {optimizer: sgd}, momentum: [0.9, 0.99]}]\n"
            + "_exclude: [{momentum: 0.99}]\n",
            ["momentum=0.9+optimizer=sgd", "optimizer=adam"],
            id="exclude-a-conditional-value",
        ),
    ],
)
def test_conditional_params(text: str, expected: list[str]) -> None:
    assert names(text) == expected

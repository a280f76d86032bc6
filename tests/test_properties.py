"""Property tests for naming and expansion: names are unique, stable, safe and bounded, and
deduplication never merges two different resolved param sets."""

from __future__ import annotations

import itertools
import random

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from exptflow.sweep.expand import expand
from exptflow.sweep.naming import MAX_NAME_LENGTH, experiment_name
from exptflow.sweep.spec import Sweep

keys = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}", fullmatch=True)
values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=40
    ),
)
swept = st.dictionaries(keys, values, max_size=6)


@given(swept)
def test_names_are_safe_and_bounded(params: dict) -> None:
    name = experiment_name(params)
    assert 0 < len(name) <= MAX_NAME_LENGTH
    assert "/" not in name and "\0" not in name and not name.startswith(".")
    assert name not in (".", "..")


@given(swept, st.randoms())
def test_names_are_stable_under_key_order(params: dict, shuffler: random.Random) -> None:
    items = list(params.items())
    shuffler.shuffle(items)
    assert experiment_name(dict(items)) == experiment_name(params)


@given(swept, swept)
def test_different_params_get_different_names(first: dict, second: dict) -> None:
    def typed(params: dict) -> set:
        return {(key, type(value), value) for key, value in params.items()}

    if typed(first) != typed(second):
        assert experiment_name(first) != experiment_name(second)


grid_values = st.lists(
    st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "1", "x y"]), st.booleans()),
    min_size=1,
    max_size=3,
    unique_by=lambda value: (type(value), value),
)
grids = st.lists(
    st.dictionaries(st.sampled_from(["p", "q", "r"]), grid_values, min_size=1, max_size=3),
    min_size=1,
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(grids, st.dictionaries(st.sampled_from(["p", "q", "r"]), st.integers(-3, 3)))
def test_dedup_never_merges_different_params_and_keeps_every_one(
    docs: list, defaults: dict
) -> None:
    template = {"t": "run [p] [q] [r]"}
    all_defaults = {"p": 0, "q": 0, "r": 0, **defaults}
    text = yaml.safe_dump({"template": template, "default": all_defaults})
    text += "".join("---\n" + yaml.safe_dump(doc) for doc in docs)
    experiments = expand(Sweep.from_documents(list(yaml.safe_load_all(text)), "sweep.yaml"))

    def identity(params: dict) -> tuple:
        return tuple(sorted((k, type(v).__name__, repr(v)) for k, v in params.items()))

    found = [identity(e.params) for e in experiments]
    assert len(found) == len(set(found)), "an experiment appears twice"
    expected = set()
    for doc in docs:
        for combination in itertools.product(*doc.values()):
            expected.add(identity({**all_defaults, **dict(zip(doc, combination, strict=True))}))
    assert set(found) == expected
    names = [e.name for e in experiments]
    assert len(names) == len(set(names))

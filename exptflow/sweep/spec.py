"""The sweep file model: one frozen dataclass per YAML concept, each built by ``from_mapping``.

Every builder collects all problems it finds (naming the file and the YAML path) into an
``Issues`` list instead of stopping at the first, so a user fixes a file in one pass.
"""

from __future__ import annotations

import difflib
import importlib.util
import itertools
import json
import keyword
import math
import re
import reprlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from exptflow.errors import SweepFileError, problem
from exptflow.sweep import render
from exptflow.sweep.distributions import Distribution, draw, parse
from exptflow.sweep.render import RESERVED, Scalar, Token
from exptflow.sweep.search import Search
from exptflow.sweep.yamlfile import load_documents

# ``\Z``, not ``$``: ``$`` also matches before a final newline, which a name must not hold.
PARAM_NAME = re.compile(r"[A-Za-z][\w\-]*\Z")
STAGE_NAME = re.compile(r"[A-Za-z][\w\-]*\Z")
# A GPU id or UUID; it becomes part of a lock file's name, so never a `/`.
GPU_ID = re.compile(r"[A-Za-z0-9_.:\-]+\Z")
# Rules the generated Snakefile has besides one per stage.
OWN_RULES = ("all", "collect")
# Beyond 64 bits a number is an id, not a quantity; Python refuses to print one of 4,300 digits.
MAX_INT = 2**64
CONFIG_KEYS = (
    "alias",
    "code",
    "default",
    "metrics",
    "output",
    "parsers",
    "resource",
    "search",
    "template",
)
METRIC_KEYS = ("reduce", "regex", "stage")
REDUCERS = ("last", "first", "max", "min", "mean")
PARSER_FORM = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
STAGE_KEYS = ("cache", "cmd", "gpus", "over", "pack", "per", "resources", "retries", "shared")
# `code`: where stages run from: the live working tree, or a snapshot of the commit.
CODE_MODES = ("live", "snapshot", "snapshot+uncommitted")
GRID_KEYS = (
    "_cmd",
    "_exclude",
    "_rows",
    "_samples",
    "_seed",
    "_tags",
    "_title",
    "_when",
    "_zip",
)
# Rule resources Snakemake and its executor plugins understand, with the type each takes.
RESOURCE_TYPES: dict[str, type] = {
    "mem_mb": int,
    "disk_mb": int,
    "runtime": int,  # minutes, or a duration such as "90s" or "2h" (see _runtime)
    "cpus_per_task": int,
    "slurm_partition": str,
    "slurm_account": str,
    "slurm_extra": str,
    "gpu_model": str,
    "constraint": str,
    "nodes": int,
    "tasks": int,
}


class Issues:
    """Problems found while reading one sweep file, each already naming file and YAML path."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.problems.append(problem(self.source, where, what))

    def raise_if_any(self) -> None:
        if self.problems:
            raise SweepFileError(self.problems)


def key_text(key: object) -> str:
    """A key as a YAML path shows it: on one short line, whatever the key holds."""
    if key is None or isinstance(key, bool):
        return shown(key)
    text = str(key)
    if not text.isprintable():
        text = json.dumps(text, ensure_ascii=False)
    return text if len(text) <= 60 else text[:60] + "…"


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60


def shown(value: object) -> str:
    """A value in a message: YAML's spelling of null and booleans, and never a long line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= MAX_INT:
        return hex(value)[:20] + "…"  # repr() of a huge int is slow or refused
    return _REPR.repr(value)


def join(where: str, key: object) -> str:
    if key == "":
        return where
    return f"{where}.{key_text(key)}" if where else key_text(key)


def kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def unknown_key(key: object, valid: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), valid, n=1)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return f"unknown key `{key_text(key)}`; {hint}valid keys: {', '.join(valid)}"


def check_keys(data: Mapping, valid: tuple[str, ...], where: str, issues: Issues) -> None:
    """Report every key of ``data`` that is not one of ``valid``, listing the valid ones."""
    for key in data:
        if key not in valid:
            issues.add(join(where, key), unknown_key(key, valid))


def is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


NUL_IN_COMMAND = "a NUL character can't be passed to a program; remove it"
TOO_BIG = "a whole number beyond 64 bits; quote it to keep it as text"
TOO_MANY = "a whole number beyond 64 bits; write a smaller one"


def check_scalar(value: object, where: str, issues: Issues) -> bool:
    if isinstance(value, str) and "\0" in value:
        issues.add(where, NUL_IN_COMMAND)
        return False
    if isinstance(value, int) and abs(value) >= MAX_INT:
        issues.add(where, TOO_BIG)
        return False
    if is_scalar(value):
        return True
    fix = "quote it" if value is None else "give a string, number or boolean"
    issues.add(where, f"{kind(value)} where a single value is needed; {fix}")
    return False


@dataclass(frozen=True)
class SharedKey:
    """What a shared stage (``shared: true``) is keyed on: one job per distinct value of it.

    ``per``: these params; ``over``: every param but these (an aggregate over seeds); neither:
    the params its command uses, and the keys of the shared stages whose directories it reads.
    """

    per: tuple[str, ...] | None = None
    over: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Stage:
    """One ``template`` entry: a shell command and how to run it."""

    name: str
    command: str
    tokens: tuple[Token, ...]
    gpus: int | None = None  # None: one slot when the sweep has a ``resource`` list
    resources: Mapping[str, int | str] = field(default_factory=dict)
    retries: int = 0
    pack: int | None = None  # on a cluster: this many of the stage's jobs per submission
    time_limit: float | None = None  # seconds: `resources.runtime`, enforced by the wrapper
    cache: bool = False  # its directory `{_output}/<stage>` goes to Snakemake's output cache
    shared: SharedKey | None = None  # one job per key instead of one per experiment

    @property
    def uses_gpu(self) -> bool:
        return self.gpus is None or self.gpus > 0

    @classmethod
    def from_mapping(cls, name: str, data: object, where: str, issues: Issues) -> Stage | None:
        if not isinstance(name, str) or not STAGE_NAME.match(name):
            issues.add(where, "stage names start with a letter and use letters, digits, _ and -")
            return None
        if isinstance(data, str):
            return cls._from_command(name, data, where, issues)
        if not isinstance(data, dict):
            issues.add(where, f"{kind(data)}; give a shell command or a mapping with `cmd`")
            return None
        check_keys(data, STAGE_KEYS, where, issues)
        stage = cls._from_command(name, data.get("cmd"), join(where, "cmd"), issues)
        gpus = _non_negative_int(data.get("gpus"), join(where, "gpus"), issues)
        retries = _non_negative_int(data.get("retries", 0), join(where, "retries"), issues)
        resources = _resources(data.get("resources", {}), join(where, "resources"), issues)
        pack = _non_negative_int(data.get("pack"), join(where, "pack"), issues)
        if pack == 0:
            issues.add(join(where, "pack"), "0 jobs per submission; write e.g. `pack: 20`")
        cache = _cache(data.get("cache", False), stage, join(where, "cache"), issues)
        shared = _shared_key(data, where, issues)
        if stage is None:
            return None
        limit = duration_seconds(data.get("resources", {}).get("runtime")) if resources else None
        return cls(
            name,
            stage.command,
            stage.tokens,
            gpus,
            resources,
            retries or 0,
            pack or None,
            limit,
            cache=cache,
            shared=shared,
        )

    @classmethod
    def _from_command(cls, name: str, command: object, where: str, issues: Issues) -> Stage | None:
        if not isinstance(command, str) or not command.strip():
            issues.add(where, f"the stage command is {_describe_empty(command)}; write a command")
            return None
        if "\0" in command:
            issues.add(where, NUL_IN_COMMAND)
            return None
        folded = render.fold(command)
        return cls(name, folded, render.parse(folded))


def _cache(value: object, stage: Stage | None, where: str, issues: Issues) -> bool:
    if not isinstance(value, bool):
        issues.add(where, f"{shown(value)} is not true or false; write `cache: true`")
        return False
    if value and stage is not None and not writes_own_directory(stage.tokens, stage.name):
        issues.add(
            where,
            f"a cached stage keeps its results in `{{_output}}/{stage.name}` (the directory the "
            f"cache stores and restores); write them there, e.g. `--out {{_output}}/{stage.name}`",
        )
    return value


def writes_own_directory(tokens: tuple[Token, ...], stage: str) -> bool:
    """Whether a command names ``{_output}/<stage>`` (the directory of a cached stage)."""
    own = re.compile(rf"/{re.escape(stage)}(?![\w.\-])")
    return any(
        isinstance(token, render.Placeholder)
        and token.param == "_output"
        and isinstance(following, str)
        and own.match(following)
        for token, following in itertools.pairwise(tokens)
    )


def _shared_key(data: Mapping, where: str, issues: Issues) -> SharedKey | None:
    flag = data.get("shared", False)
    if not isinstance(flag, bool):
        what = f"{shown(flag)} is not true or false; write `shared: true`"
        issues.add(join(where, "shared"), what)
        return None
    per, over = (_param_names(data.get(key), join(where, key), issues) for key in ("per", "over"))
    if not flag:
        for key in ("per", "over"):
            if key in data:
                issues.add(join(where, key), "only a shared stage has a key; add `shared: true`")
        return None
    if per is not None and over is not None:
        issues.add(
            join(where, "over"),
            "give `per` (the params the stage is keyed on) or `over` (those it gathers), not both",
        )
    return SharedKey(per, over)


def _param_names(data: object, where: str, issues: Issues) -> tuple[str, ...] | None:
    if data is None:
        return None
    if not isinstance(data, list):
        issues.add(where, f"{kind(data)}; give a list of params, e.g. `[data, vocab]`")
        return None
    valid = [check_param_name(name, f"{where}[{i}]", issues) for i, name in enumerate(data)]
    return tuple(data) if all(valid) else None


def _describe_empty(value: object) -> str:
    return "empty" if value is None or value == "" or isinstance(value, str) else kind(value)


def _non_negative_int(value: object, where: str, issues: Issues) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        issues.add(where, f"{shown(value)} is not a whole number >= 0; write e.g. `1`")
        return None
    if value >= MAX_INT:
        issues.add(where, TOO_MANY)
        return None
    return value


def _resources(data: object, where: str, issues: Issues) -> dict[str, int | str]:
    if not isinstance(data, dict):
        issues.add(where, f"{kind(data)}; give a mapping such as `{{mem_mb: 8000, runtime: 120}}`")
        return {}
    valid = tuple(sorted(RESOURCE_TYPES))
    result: dict[str, int | str] = {}
    for key, value in data.items():
        expected = RESOURCE_TYPES.get(key)
        if key == "runtime":
            minutes = _runtime_minutes(value, join(where, key), issues)
            if minutes is not None:
                result[key] = minutes
        elif expected is None:
            issues.add(join(where, key), unknown_key(key, valid))
        elif isinstance(value, bool) or not isinstance(value, expected):
            issues.add(join(where, key), f"{shown(value)} should be {kind(expected())}")
        elif isinstance(value, int) and value < 0:
            issues.add(join(where, key), f"{value} should be a whole number >= 0")
        elif isinstance(value, int) and value >= MAX_INT:
            issues.add(join(where, key), TOO_MANY)
        elif isinstance(value, str) and not value.isprintable():
            issues.add(join(where, key), "a control character can't reach the scheduler; remove it")
        else:
            result[key] = cast("int | str", value)  # checked against RESOURCE_TYPES
    return result


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value: object) -> float | None:
    """``runtime``: whole minutes, or a number with a unit (``90s``, ``2h``); None if neither."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value * 60.0
    match = DURATION.match(value) if isinstance(value, str) else None
    if match is None or float(match[1]) <= 0:
        return None
    return float(match[1]) * SECONDS_PER_UNIT[match[2]]


def _runtime_minutes(value: object, where: str, issues: Issues) -> int | None:
    """Snakemake (and SLURM) take whole minutes; the stage's exact limit is ``Stage.time_limit``."""
    seconds = duration_seconds(value)
    if seconds is None:
        fix = "write minutes (`120`) or e.g. `90s`, `2h`"
        issues.add(where, f"{shown(value)} is not a duration; {fix}")
        return None
    return max(1, math.ceil(seconds / 60))


def rule_name(stage: str) -> str:
    """The Snakefile rule of a stage: a Python identifier."""
    return stage.replace("-", "_")


def _check_rule_names(stages: tuple[Stage, ...], issues: Issues) -> None:
    """Two stages never become one rule, nor a rule exptflow adds, nor a Python keyword."""
    seen: dict[str, str] = {}
    for stage in stages:
        rule, where = rule_name(stage.name), join("template", stage.name)
        if rule in OWN_RULES:
            issues.add(
                where, f"`{rule}` is a rule exptflow adds to the Snakefile; rename the stage"
            )
        elif keyword.iskeyword(rule):
            issues.add(where, f"`{rule}` is a Python keyword; rename the stage")
        elif rule in seen:
            issues.add(
                where,
                f"stages `{seen[rule]}` and `{stage.name}` would both be rule `{rule}`; rename one",
            )
        seen.setdefault(rule, stage.name)


@dataclass(frozen=True)
class Alias:
    """One ``alias`` entry: a value of ``name`` sets several params at once."""

    name: str
    choices: Mapping[Scalar, Mapping[str, Scalar]]  # value -> {target: value}
    copies_to: tuple[str, ...] = ()  # list form: the value is copied to each target

    def targets(self) -> tuple[str, ...]:
        if self.copies_to:
            return self.copies_to
        return tuple(next(iter(self.choices.values()), {}))

    def resolve(self, value: Scalar) -> dict[str, Scalar]:
        if self.copies_to:
            return dict.fromkeys(self.copies_to, value)
        return dict(self.choices[value])

    @classmethod
    def from_mapping(cls, name: str, data: object, where: str, issues: Issues) -> Alias | None:
        if isinstance(data, list) and data and all(isinstance(t, str) for t in data):
            names = [check_param_name(t, f"{where}[{i}]", issues) for i, t in enumerate(data)]
            return cls(name, {}, tuple(data)) if all(names) else None
        if not isinstance(data, dict) or not data:
            issues.add(where, "give a mapping `value: {param: value, ...}` or a list of params")
            return None
        choices: dict[Scalar, dict[str, Scalar]] = {}
        first_targets: set[str] | None = None
        for value, targets in data.items():
            at = join(where, value)
            if not isinstance(targets, dict) or not targets:
                issues.add(at, "give the params this value sets, e.g. `{a: 1, b: 2}`")
                continue
            if first_targets is not None and set(targets) != first_targets:
                issues.add(
                    at,
                    f"sets {sorted(targets)} but the first entry sets {sorted(first_targets)}; "
                    "every value of an alias must set the same params",
                )
            first_targets = first_targets or set(targets)
            # Every check runs (a list, not a generator) so each problem is reported.
            valid = [check_scalar(value, where, issues)]
            valid += [check_param_name(k, join(at, k), issues) for k in targets]
            valid += [check_scalar(v, join(at, k), issues) for k, v in targets.items()]
            if all(valid):
                choices[value] = targets
        return cls(name, choices)


@dataclass(frozen=True)
class LogMetric:
    """A metric parsed from a stage's latest log by a regex (for programs you can't change)."""

    name: str
    stage: str
    regex: str
    reduce: str = "last"

    @classmethod
    def from_mapping(cls, name: str, data: object, where: str, issues: Issues) -> LogMetric | None:
        example = "{stage: test, regex: 'BLEU4 = ([0-9.]+)', reduce: last}"
        if not isinstance(data, dict):
            issues.add(where, f"{kind(data)}; give a mapping such as `{example}`")
            return None
        check_keys(data, METRIC_KEYS, where, issues)
        stage, regex, reduce = data.get("stage"), data.get("regex"), data.get("reduce", "last")
        ok = _check_regex(regex, join(where, "regex"), issues)
        if not isinstance(stage, str):
            issues.add(join(where, "stage"), "name the stage whose log holds the metric")
            ok = False
        if reduce not in REDUCERS:
            issues.add(join(where, "reduce"), f"{reduce!r}; use one of: {', '.join(REDUCERS)}")
            ok = False
        return cls(name, stage, regex, reduce) if ok else None  # type: ignore[arg-type]


def _check_regex(regex: object, where: str, issues: Issues) -> bool:
    if not isinstance(regex, str):
        issues.add(where, "give a regular expression with one group around the number")
        return False
    try:
        groups = re.compile(regex).groups
    except (re.error, OverflowError) as error:
        issues.add(where, f"invalid regular expression: {error}")
        return False
    except RecursionError:  # thousands of nested groups
        issues.add(where, "invalid regular expression: nested too deeply")
        return False
    if groups != 1:
        issues.add(where, f"has {groups} groups; use exactly one group around the number")
        return False
    return True


# Params that vary together (`_zip`): their names, and one tuple of values per configuration.
Zipped = tuple[tuple[str, ...], tuple[tuple[Scalar, ...], ...]]
Axes = tuple[tuple[str, tuple[Scalar, ...]], ...]


@dataclass(frozen=True)
class Condition:
    """A `_when` block: params swept only in the experiments whose values match ``when``."""

    when: Axes  # param -> the values (any of them) that make the block hold
    axes: Axes

    def holds(self, combination: Mapping[str, Scalar]) -> bool:
        return all(
            param in combination and any(_same(combination[param], v) for v in values)
            for param, values in self.when
        )

    def excludes(self, other: Condition) -> bool:
        """Whether the two can never hold at once (some param needs other values in each)."""
        mine = dict(self.when)
        return any(
            param in mine and not any(_same(a, b) for a in mine[param] for b in values)
            for param, values in other.when
        )


@dataclass(frozen=True)
class Grid:
    """One later YAML document: the Cartesian product of its lists (and of its `_zip` groups,
    whose params vary together)."""

    document: int  # 1-based position in the file; the settings document is document 1
    axes: tuple[tuple[str, tuple[Scalar, ...]], ...]
    title: str | None = None
    stages: tuple[str, ...] | None = None  # ``_cmd``: which stages its experiments run
    zipped: tuple[Zipped, ...] = ()  # `_zip` groups, and `_rows` as one more group
    excluded: tuple[tuple[tuple[str, Scalar], ...], ...] = ()  # `_exclude`: (param, value)s
    # Distributions without `_samples`: a search space, for `exptflow tune` to draw from.
    space: tuple[tuple[str, Distribution], ...] = ()
    conditions: tuple[Condition, ...] = ()  # `_when` blocks
    tags: tuple[str, ...] | None = None  # `_tags`: params no template uses; they only name

    def is_excluded(self, combination: Mapping[str, Scalar]) -> bool:
        return any(
            all(param in combination and _same(combination[param], value) for param, value in rule)
            for rule in self.excluded
        )

    @property
    def where(self) -> str:
        return f"document {self.document}"

    def size(self) -> int:
        """The number of experiments, at most (`_exclude` and `_when` may make fewer)."""
        total = 1
        conditional = [axis for block in self.conditions for axis in block.axes]
        for _, values in (*self.axes, *self.zipped, *conditional):
            total *= len(values)
        return total

    def values(self) -> dict[str, tuple[Scalar, ...]]:
        """Every param the document sets, with every value it takes."""
        found = {**dict(self.axes), **_zipped_values(self.zipped)}
        for block in self.conditions:
            for name, values in block.axes:
                found[name] = tuple(dict.fromkeys((*found.get(name, ()), *values)))
        return found

    @classmethod
    def from_mapping(cls, data: object, document: int, issues: Issues) -> Grid | None:
        where = f"document {document}"
        if not isinstance(data, dict) or not data:
            issues.add(
                where, f"the grid is {kind(data) if data else 'empty'}; list params to sweep"
            )
            return None
        axes = []
        distributions = {}
        for key, values in data.items():
            if key in GRID_KEYS:
                continue
            if isinstance(values, dict):
                drawn = distribution(key, values, join(where, key), issues)
                distributions.update({key: drawn} if drawn else {})
                continue
            axis = _axis(key, values, join(where, key), issues)
            axes.append(axis) if axis else None
        zipped = _zips(data.get("_zip"), join(where, "_zip"), issues)
        space = () if "_samples" in data else tuple(distributions.items())
        zipped += _sampled(distributions, data, document, where, issues)
        rows = _rows(data.get("_rows"), join(where, "_rows"), issues)
        zipped += (rows,) if rows else ()
        if not any(key not in GRID_KEYS or key in ("_rows", "_zip") for key in data):
            issues.add(where, "the grid lists no params; add at least one, e.g. `seed: [0]`")
        _check_set_once([key for key, _ in axes], zipped, where, issues)
        values = {**dict(axes), **_zipped_values(zipped)}
        conditions = _conditions(data.get("_when"), values, join(where, "_when"), issues)
        for block in conditions:
            for name, listed in block.axes:
                values[name] = (*values.get(name, ()), *listed)
        excluded = _exclusions(data.get("_exclude"), values, join(where, "_exclude"), issues)
        title = data.get("_title")
        if title is not None and (isinstance(title, bool) or not isinstance(title, str | int)):
            issues.add(join(where, "_title"), f"{kind(title)}; give a name")
        stages = _name_list(data.get("_cmd"), join(where, "_cmd"), "stages to run", issues)
        tags = _name_list(data.get("_tags"), join(where, "_tags"), "naming-only params", issues)
        title_text = None if title is None else str(title)
        return cls(
            document, tuple(axes), title_text, stages, zipped, excluded, space, conditions, tags
        )


def distribution(
    key: object, data: dict[Any, Any], where: str, issues: Issues
) -> Distribution | None:
    """``lr: {loguniform: [1e-5, 1e-1]}``: a param drawn ``_samples`` times."""
    if not check_param_name(key, where, issues, GRID_KEYS):
        return None
    parsed = parse(data)
    if isinstance(parsed, str):
        issues.add(where, parsed)
        return None
    if parsed.kind == "choice" and not all(check_scalar(v, where, issues) for v in parsed.bounds):
        return None
    return parsed


MAX_SAMPLES = 5_000_000  # compile's own limit on a whole sweep


def _sampled(
    distributions: dict[str, Distribution],
    data: dict[Any, Any],
    document: int,
    where: str,
    issues: Issues,
) -> tuple[Zipped, ...]:
    """``_samples: N`` configurations drawn from the document's distributions (``_seed``)."""
    count = data.get("_samples")
    if count is None:  # a search space: the sweep's `search` block says whether it may be one
        return ()
    count = _non_negative_int(count, join(where, "_samples"), issues)
    if count is None:
        return ()
    if count > MAX_SAMPLES:
        issues.add(join(where, "_samples"), f"at most {MAX_SAMPLES:,}; check for a typo")
        return ()
    seed = data.get("_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        issues.add(join(where, "_seed"), f"{kind(seed)}; give a whole number")
        return ()
    if not distributions:
        issues.add(
            join(where, "_samples"),
            "no param of this document has a distribution; "
            "give one, e.g. `lr: {loguniform: [1e-5, 1e-1]}`",
        )
        return ()
    if not count:
        issues.add(join(where, "_samples"), "give at least 1")
        return ()
    return (draw(distributions, count, seed, document),)


def _same(a: Scalar, b: Scalar) -> bool:
    """1, 1.0, True and "1" are different values for a program."""
    return type(a) is type(b) and a == b


def same_values(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """The same params with the same values, typed as :func:`_same` compares them."""
    return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)


def _zipped_values(zipped: tuple[Zipped, ...]) -> dict[str, tuple[Scalar, ...]]:
    return {
        name: tuple(row[i] for row in rows)
        for names, rows in zipped
        for i, name in enumerate(names)
    }


ROWS_FIX = (
    "give a list of whole configurations, e.g. `_rows: [{lr: 0.1, bs: 32}, {lr: 0.01, bs: 64}]`"
)


def _rows(data: object, where: str, issues: Issues) -> Zipped | None:
    """``_rows``: whole configurations, listed; a zip group given row by row."""
    if data is None:
        return None
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) and r for r in data):
        issues.add(where, f"{kind(data)}; {ROWS_FIX}")
        return None
    names = tuple(data[0])
    for index, row in enumerate(data[1:], start=1):
        if set(row) != set(names):
            issues.add(
                f"{where}[{index}]",
                f"sets {', '.join(map(key_text, row))}, but row 0 sets "
                f"{', '.join(map(key_text, names))}; "
                "give every row the same params (move a shared value to `default`)",
            )
            return None
    checks = [
        check_scalar(value, join(f"{where}[{index}]", key), issues)
        for index, row in enumerate(data)
        for key, value in row.items()
    ]
    if not all(checks):
        return None
    group = {name: [row[name] for row in data] for name in names}
    return (
        _zip_group(group, where, issues)
        if len(names) > 1
        else _one_param_rows(group, where, issues)
    )


def _one_param_rows(group: dict[str, list[Any]], where: str, issues: Issues) -> Zipped | None:
    ((name, values),) = group.items()
    column = _zip_column(name, values, join(where, name), issues)
    if column is None:
        return None
    if len(set(map(_typed, column))) != len(column):
        issues.add(where, "a combination is listed twice; list each once")
    return (name,), tuple((value,) for value in column)


WHEN_FIX = (
    "give a list of blocks, each an `_if` and the params it sweeps, e.g. "
    "`_when: [{_if: {optimizer: sgd}, momentum: [0.9, 0.99]}]`"
)


def _conditions(
    data: object, values: dict[str, tuple[Scalar, ...]], where: str, issues: Issues
) -> tuple[Condition, ...]:
    """``_when``: params only meaningful for some values of the document's other params."""
    if data is None:
        return ()
    if not isinstance(data, list) or not data or not all(isinstance(b, dict) for b in data):
        issues.add(where, f"{kind(data)}; {WHEN_FIX}")
        return ()
    blocks = [_condition(b, values, f"{where}[{i}]", issues) for i, b in enumerate(data)]
    found = tuple(block for block in blocks if block)
    _check_exclusive(found, where, issues)
    return found


def _condition(
    data: dict[Any, Any], values: dict[str, tuple[Scalar, ...]], where: str, issues: Issues
) -> Condition | None:
    when = data.get("_if")
    if not isinstance(when, dict) or not when:
        issues.add(join(where, "_if"), f"{'missing' if when is None else kind(when)}; {WHEN_FIX}")
        return None
    tests = []
    for param, accepted in when.items():
        listed = tuple(accepted) if isinstance(accepted, list) else (accepted,)
        at = join(join(where, "_if"), param)
        if all([_excludable(param, value, values, at, issues) for value in listed]) and listed:
            tests.append((param, listed))
    axes = []
    for key, listed in data.items():
        if key == "_if":
            continue
        if key in values:
            issues.add(join(where, key), "set outside this block too; keep it in one place")
            continue
        axis = _axis(key, listed, join(where, key), issues, ("_if",))
        axes.append(axis) if axis else None
    if len(data) == 1:
        issues.add(where, f"sets no param; {WHEN_FIX}")
    if len(tests) != len(when) or len(axes) != len(data) - 1:
        return None
    return Condition(tuple(tests), tuple(axes))


def _check_exclusive(blocks: tuple[Condition, ...], where: str, issues: Issues) -> None:
    """A param two blocks set: never in the same experiment, or its value would be two."""
    for index, block in enumerate(blocks):
        for other in blocks[:index]:
            shared = sorted(set(dict(block.axes)) & set(dict(other.axes)))
            if shared and not block.excludes(other):
                issues.add(
                    join(where, shared[0]),
                    "set by two `_when` blocks whose `_if`s can both hold; make the `_if`s "
                    "exclusive or set it in one block",
                )


EXCLUDE_FIX = "give a list of partial configurations, e.g. `_exclude: [{norm: new, moment: 0.05}]`"


def _exclusions(
    data: object, values: dict[str, tuple[Scalar, ...]], where: str, issues: Issues
) -> tuple[tuple[tuple[str, Scalar], ...], ...]:
    """``_exclude``: combinations to leave out; each names values this document sets."""
    if data is None:
        return ()
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) and r for r in data):
        issues.add(where, f"{kind(data)}; {EXCLUDE_FIX}")
        return ()
    rules = []
    for index, rule in enumerate(data):
        rule_where = f"{where}[{index}]"
        checks = [_excludable(k, v, values, join(rule_where, k), issues) for k, v in rule.items()]
        if all(checks):
            rules.append(tuple(rule.items()))
    return tuple(rules)


def _excludable(
    key: object, value: object, values: dict[str, tuple[Scalar, ...]], where: str, issues: Issues
) -> bool:
    if key not in values:
        swept = ", ".join(values)
        issues.add(where, f"this document does not sweep `{key_text(key)}`; it sweeps {swept}")
        return False
    if not check_scalar(value, where, issues):
        return False
    if not any(_same(value, candidate) for candidate in values[key]):  # type: ignore[arg-type]
        listed = ", ".join(map(shown, values[key]))
        issues.add(
            where, f"{shown(value)} is not among the values here ({listed}); check for a typo"
        )
        return False
    return True


ZIP_FIX = (
    "give params with lists of equal length, e.g. `_zip: {lr: [0.1, 0.01], warmup: [100, 1000]}`"
)


def _zips(data: object, where: str, issues: Issues) -> tuple[Zipped, ...]:
    """``_zip``: one mapping of params that vary together, or a list of such mappings."""
    if data is None:
        return ()
    groups = data if isinstance(data, list) else [data]
    if not groups:
        issues.add(where, f"empty list; {ZIP_FIX}")
    found = []
    for index, group in enumerate(groups):
        group_where = f"{where}[{index}]" if isinstance(data, list) else where
        zipped = _zip_group(group, group_where, issues)
        found += [zipped] if zipped else []
    return tuple(found)


def _zip_group(group: object, where: str, issues: Issues) -> Zipped | None:
    if not isinstance(group, dict) or len(group) < 2:
        what = f"{kind(group)}" if not isinstance(group, dict) else f"{len(group)} param(s)"
        issues.add(where, f"{what}: zipped params vary together, so give two or more; {ZIP_FIX}")
        return None
    columns = {}
    for key, values in group.items():
        column = _zip_column(key, values, join(where, key), issues)
        if column is not None:
            columns[key] = column
    if len(columns) < len(group):
        return None
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        counts = ", ".join(f"{key}: {len(values)}" for key, values in columns.items())
        issues.add(where, f"lists of different lengths ({counts}); give each the same number")
        return None
    rows = tuple(zip(*columns.values(), strict=True))
    if len(set(map(_typed_row, rows))) != len(rows):
        issues.add(where, "a combination is listed twice; list each once")
    return tuple(columns), rows


def _zip_column(key: object, values: object, where: str, issues: Issues) -> tuple | None:
    if not check_param_name(key, where, issues):
        return None
    if not isinstance(values, list) or not values:
        issues.add(where, f"{'empty list' if values == [] else kind(values)}; {ZIP_FIX}")
        return None
    if not all([check_scalar(v, f"{where}[{i}]", issues) for i, v in enumerate(values)]):
        return None
    return tuple(values)


def _typed_row(row: tuple[Scalar, ...]) -> tuple:
    return tuple(map(_typed, row))


def _check_set_once(
    swept: list[str], zipped: tuple[Zipped, ...], where: str, issues: Issues
) -> None:
    seen = set(swept)
    for names, _ in zipped:
        for name in names:
            if name in seen:
                issues.add(
                    join(where, name),
                    "set twice in this document (a list and `_zip`, or two `_zip` groups); "
                    "keep it in one place",
                )
            seen.add(name)


def _axis(
    key: object, values: object, where: str, issues: Issues, keys: tuple[str, ...] = GRID_KEYS
) -> tuple | None:
    if not check_param_name(key, where, issues, keys):
        return None
    if not isinstance(values, list):
        return (key, (values,)) if check_scalar(values, where, issues) else None
    listed = values
    if not listed:
        issues.add(where, "empty list; give at least one value or remove the param")
        return None
    if not all([check_scalar(v, f"{where}[{i}]", issues) for i, v in enumerate(listed)]):
        return None
    if len(set(map(_typed, listed))) != len(listed):
        issues.add(where, "a value is listed twice; list each value once")
    return (key, tuple(listed))


def _typed(value: Scalar) -> tuple[type, Scalar]:
    return (type(value), value)


def bad_param_name(key: object, underscore_keys: tuple[str, ...] = ()) -> str:
    """Why ``key`` can't name a param; ``underscore_keys``: the `_` keys valid where it is."""
    if isinstance(key, str) and key in RESERVED:
        return f"`{key}` is reserved; exptflow sets it, rename your param"
    if isinstance(key, str) and key.startswith("_") and underscore_keys:
        valid = ", ".join(underscore_keys)
        return f"unknown key `{key_text(key)}`; valid keys starting with `_`: {valid}"
    if isinstance(key, str) and key.startswith("_") and key.isprintable():
        return "names starting with `_` belong to exptflow; rename your param"
    return (
        f"param name {shown(key)} is not valid; start with a letter and use letters, digits, "
        "_ and -"
    )


def check_param_name(
    key: object, where: str, issues: Issues, underscore_keys: tuple[str, ...] = ()
) -> bool:
    """Params name experiment directories and flags: no `/`, `..`, spaces or newlines."""
    if isinstance(key, str) and PARAM_NAME.match(key):
        return True
    issues.add(where, bad_param_name(key, underscore_keys))
    return False


EXAMPLES = {"stages to run": "[train, test]", "naming-only params": "[seed]"}


def _name_list(data: object, where: str, what: str, issues: Issues) -> tuple[str, ...] | None:
    """`_cmd: [train, test]` or `_tags: seed` (one name alone)."""
    if data is None:
        return None
    names = [data] if isinstance(data, str) else data
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        issues.add(where, f"give the {what} as a list, e.g. `{EXAMPLES[what]}`")
        return None
    return tuple(names)


@dataclass(frozen=True)
class Sweep:
    """A whole sweep file: the first document's settings and one :class:`Grid` per document."""

    source: str
    stages: tuple[Stage, ...]
    defaults: Mapping[str, Scalar]
    slots: tuple[str, ...]
    aliases: Mapping[str, Alias]
    grids: tuple[Grid, ...]
    output: str = "output"
    metrics: tuple[LogMetric, ...] = ()
    parsers: tuple[str, ...] = ()  # "module:function", imported from the sweep's directory
    search: Search | None = None  # what `exptflow tune` optimises
    code: str = "live"  # one of CODE_MODES: what the stages run

    def stage(self, name: str) -> Stage:
        return next(stage for stage in self.stages if stage.name == name)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)

    @property
    def template_params(self) -> set[str]:
        """Every param some stage's template uses, as ``{p}`` or ``[p]``, or a shared stage
        names in its key (``per``)."""
        used = {t.param for stage in self.stages for t in render.placeholders(stage.tokens)}
        return used.union(*(stage.shared.per or () for stage in self.stages if stage.shared))

    @property
    def naming_only(self) -> set[str]:
        """The params some document declares in `_tags`: no template uses them, on purpose."""
        return {tag for grid in self.grids for tag in grid.tags or ()}

    @classmethod
    def from_documents(
        cls, documents: list[Any], source: str, workdir: Path | None = None
    ) -> Sweep:
        """``workdir``: where the collector will import ``parsers`` from (None: not checked)."""
        issues = Issues(source)
        if not documents or documents[0] is None:
            issues.add("", "the file is empty; start with a document holding `template`")
            issues.raise_if_any()
        config = documents[0]
        if not isinstance(config, dict):
            issues.add("document 1", f"{kind(config)}; the first document is a mapping")
            issues.raise_if_any()
        check_keys(config, CONFIG_KEYS, "", issues)
        sweep = cls(
            source=source,
            stages=_stages(config.get("template"), issues),
            defaults=_defaults(config.get("default", {}), issues),
            slots=_slots(config.get("resource"), issues),
            aliases=_aliases(config.get("alias", {}), issues),
            grids=_grids(documents[1:], issues),
            output=_output(config.get("output", "output"), issues),
            metrics=_metrics(config.get("metrics", {}), issues),
            parsers=_parsers(config.get("parsers", []), issues, workdir),
            search=_search(config, issues),
            code=_code(config.get("code", "live"), issues),
        )
        sweep._check_references(issues)
        _check_unused(sweep, documents, issues)
        _check_shared(sweep, issues)
        issues.raise_if_any()
        return sweep

    def _check_references(self, issues: Issues) -> None:
        known = self._param_universe()
        for stage in self.stages:
            _check_placeholders(stage, known, self.aliases, issues)
        for metric in self.metrics:
            if metric.stage not in self.stage_names:
                what = unknown_key(metric.stage, self.stage_names).replace("key", "stage", 1)
                issues.add(join(join("metrics", metric.name), "stage"), what)
        for grid in self.grids:
            for name in grid.stages or ():
                if name not in self.stage_names:
                    what = unknown_key(name, self.stage_names).replace("key", "stage", 1)
                    issues.add(join(grid.where, "_cmd"), what)
            _check_alias_overlap(list(grid.values()), self.aliases, grid.where, issues)
            for param, values in grid.values().items():
                alias = self.aliases.get(param)
                if alias and not alias.copies_to:
                    _check_alias_values(alias, values, join(grid.where, param), issues)
        _check_alias_overlap(list(self.defaults), self.aliases, "default", issues)
        for param, value in self.defaults.items():
            alias = self.aliases.get(param)
            if alias and not alias.copies_to:
                _check_alias_values(alias, (value,), join("default", param), issues)

    def key_params(self, stage: Stage) -> frozenset[str]:
        """The params a shared stage is keyed on (an experiment has some of them)."""
        assert stage.shared is not None
        if stage.shared.per is not None:
            return frozenset(stage.shared.per)
        if stage.shared.over is not None:
            return frozenset(self._param_universe() - set(stage.shared.over))
        key = set(render.used_params(stage.tokens))
        earlier = self.stage_names[: self.stage_names.index(stage.name)]
        for name in render.referenced_stages(stage.tokens):
            if name in earlier and self.stage(name).shared:
                key |= self.key_params(self.stage(name))
        return frozenset(key)

    def _param_universe(self) -> set[str]:
        known = set(self.defaults)
        for grid in self.grids:
            known.update(grid.values())
            known.update(name for name, _ in grid.space)
        for alias in self.aliases.values():
            known.update(alias.targets())
        return known


# How close a param must be to one a template or `default` knows to read as its typo (difflib's
# ratio): `hiden`/`hidden` 0.91, `lrr`/`lr` 0.8; `seed`/`unused` (0.6) is no typo.
TYPO_CUTOFF = 0.8


def _check_unused(sweep: Sweep, documents: list[Any], issues: Issues) -> None:
    """A grid param no template uses, without a default, and close to a param that has one
    is a typo (`hiden: [16, 64]` would train the default `hidden` twice), unless `_tags`
    declares it naming-only. Without a close match it is mlrunner's naming-only param (its
    example's `dummy`), reported as an orphan."""
    used = sweep.template_params
    candidates = sorted(used | set(sweep.defaults) | set(sweep.aliases))
    for grid in sweep.grids:
        for tag in grid.tags or ():
            _check_tag(grid, tag, used, issues)
        for param in [*grid.values(), *(name for name, _ in grid.space)]:
            if param in used or param in sweep.defaults or param in sweep.aliases:
                continue
            close = difflib.get_close_matches(param, candidates, n=1, cutoff=TYPO_CUTOFF)
            if close and param not in (grid.tags or ()):
                where = join(grid.where, _key_setting(documents[grid.document - 1], param))
                issues.add(where, _misspelled(param, close[0]))


def _misspelled(param: str, close: str) -> str:
    return (
        f"no template uses `{param}` and `default` has none, so it would only name "
        f"experiments; did you mean `{close}`? If `{param}` only names them, declare it: "
        f"`_tags: [{param}]`"
    )


def _check_tag(grid: Grid, tag: str, used: set[str], issues: Issues) -> None:
    where = join(grid.where, "_tags")
    if tag in used:
        issues.add(where, f"a template uses `{tag}`; `_tags` is for params no template uses")
    elif tag not in grid.values() and tag not in dict(grid.space):
        issues.add(where, f"`{tag}` is not a param of this document; list params it sets")


def _key_setting(data: Mapping[str, Any], param: str) -> str:
    """The key of a grid document that sets ``param``: itself, `_zip`, `_rows` or `_when`."""
    if param in data:
        return param
    for key in ("_zip", "_rows", "_when"):
        entries = data.get(key)
        listed = entries if isinstance(entries, list) else [entries]
        if any(isinstance(entry, dict) and param in entry for entry in listed):
            return key
    return ""


def _check_shared(sweep: Sweep, issues: Issues) -> None:
    """Shared stages' keys and every ``{<stage>._output}``."""
    known = sweep._param_universe()
    for stage in sweep.stages:
        where = join("template", stage.name)
        for name in render.referenced_stages(stage.tokens):
            what = _reference_problem(sweep, stage, name)
            if what:
                issues.add(where, f"{{{name}._output}}: {what}")
        if stage.shared is None:
            continue
        if sweep.search is not None:
            issues.add(where, "`exptflow tune` runs no shared stages; remove `shared` or `search`")
        for key in ("per", "over"):
            for index, param in enumerate(getattr(stage.shared, key) or ()):
                at = f"{where}.{key}[{index}]"
                if param in sweep.aliases:
                    targets = ", ".join(sweep.aliases[param].targets())
                    issues.add(at, f"`{param}` is an alias; name the params it sets ({targets})")
                elif param not in known:
                    issues.add(at, _unknown_param(param, known))
        _check_key(sweep, stage, where, issues)


def _unknown_param(param: str, known: set[str]) -> str:
    close = difflib.get_close_matches(param, sorted(known), n=1)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return f"unknown param `{param}`; {hint}name a param of `default` or of a grid document"


def _reference_problem(sweep: Sweep, stage: Stage, name: str) -> str | None:
    if name not in sweep.stage_names:
        what = unknown_key(name, sweep.stage_names).replace("key", "stage", 1)
        return what.replace("valid keys", "stages")
    names = sweep.stage_names
    if names.index(name) >= names.index(stage.name):
        return f"`{name}` does not come before `{stage.name}`; a stage reads earlier stages"
    other = sweep.stage(name)
    if other.shared is None and stage.shared is None:
        return (
            f"`{name}` is not shared: it writes this experiment's directory; write {{_output}} "
            f"(or `shared: true` on `{name}`)"
        )
    if other.shared is None or stage.shared is None:
        return None
    missing = sorted(sweep.key_params(other) - sweep.key_params(stage))
    if missing:
        listed = ", ".join(f"`{param}`" for param in missing)
        return f"`{name}` is keyed on {listed}, which this stage's key lacks; add it to `per`"
    return None


def _check_key(sweep: Sweep, stage: Stage, where: str, issues: Issues) -> None:
    assert stage.shared is not None
    key = sweep.key_params(stage)
    for param in sorted(render.used_params(stage.tokens) - key):
        fix = "remove it from `over`" if stage.shared.over is not None else "add it to `per`"
        issues.add(where, f"uses `{param}`, which is not in the shared stage's key; {fix}")
    if not key and stage.shared.per is None:
        issues.add(
            where,
            "a shared stage keyed on no param would run once for the whole sweep; name its key "
            "with `per: [PARAM, ...]`, or write `per: []` to run it once",
        )


def _search(config: dict[str, Any], issues: Issues) -> Search | None:
    return Search.from_mapping(config["search"], issues) if "search" in config else None


def _code(data: object, issues: Issues) -> str:
    if data not in CODE_MODES:
        issues.add("code", f"{shown(data)}; use one of: {', '.join(CODE_MODES)}")
        return "live"
    return str(data)


def _check_placeholders(stage: Stage, known: set[str], aliases: Mapping, issues: Issues) -> None:
    where = join("template", stage.name)
    tokens = render.placeholders(stage.tokens)
    braces = {t.param for t in tokens if not t.flag}
    brackets = {t.param for t in tokens if t.flag}
    for param in sorted(braces & brackets):
        issues.add(where, f"`{param}` is used as both {{{param}}} and [{param}]; use one form")
    for opener, param in render.unterminated(stage.command):
        if param in known or param in RESERVED:
            closed = f"{opener}{param}{'}' if opener == '{' else ']'}"
            issues.add(where, f"unterminated placeholder `{opener}{param}`; write {closed}")
    for token in tokens:
        shown = f"[{token.param}]" if token.flag else f"{{{token.param}}}"
        if token.param in RESERVED and token.flag:
            issues.add(
                where, f"{shown}: reserved names only work in braces; write {{{token.param}}}"
            )
        elif token.param in aliases:
            targets = ", ".join(aliases[token.param].targets())
            issues.add(where, f"{shown} is an alias; use the params it sets ({targets})")
        elif token.param not in known and not render.is_reserved(token.param):
            close = difflib.get_close_matches(token.param, sorted(known), n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            issues.add(
                where,
                f"unknown placeholder {shown}; {hint}give `{token.param}` a value in "
                "`default` or in a grid document",
            )


def _check_alias_overlap(params: list[str], aliases: Mapping, where: str, issues: Issues) -> None:
    """No param of one document is set twice: directly and by an alias, or by two aliases."""
    set_by: dict[str, str] = {}
    for param in params:
        if param not in aliases:
            continue
        for target in aliases[param].targets():
            if target in params:
                issues.add(
                    join(where, target),
                    f"also set by alias `{param}`; set `{target}` or `{param}` here, not both",
                )
            elif target in set_by:
                issues.add(
                    join(where, param),
                    f"sets `{target}` as alias `{set_by[target]}` does; "
                    f"set `{target}` through one of them",
                )
            set_by.setdefault(target, param)


def _check_alias_values(alias: Alias, values: tuple, where: str, issues: Issues) -> None:
    valid = ", ".join(map(key_text, alias.choices))
    for value in values:
        if value not in alias.choices:
            issues.add(
                where, f"{value!r} is not a value of alias `{alias.name}`; use one of: {valid}"
            )


def _stages(data: object, issues: Issues) -> tuple[Stage, ...]:
    if data is None:
        issues.add("template", "missing; add `template:` with one shell command per stage")
        return ()
    if not isinstance(data, dict) or not data:
        shown = "empty" if isinstance(data, dict) else kind(data)
        issues.add("template", f"{shown}; give a mapping `stage: command`, e.g. `train: python …`")
        return ()
    built = (Stage.from_mapping(k, v, join("template", k), issues) for k, v in data.items())
    stages = tuple(stage for stage in built if stage)
    _check_rule_names(stages, issues)
    return stages


def _defaults(data: object, issues: Issues) -> dict[str, Scalar]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        issues.add("default", f"{kind(data)}; give a mapping `param: value`")
        return {}
    return {
        key: value
        for key, value, where in _named_entries(data, "default", issues)
        if check_scalar(value, where, issues)
    }


def _named_entries(
    data: dict[Any, Any], section: str, issues: Issues
) -> Iterator[tuple[str, Any, str]]:
    """``(name, value, YAML path)`` of each entry of ``section`` whose name is a valid param."""
    for key, value in data.items():
        where = join(section, key)
        if check_param_name(key, where, issues):
            yield key, value, where


def _slots(data: object, issues: Issues) -> tuple[str, ...]:
    if data is None:
        return ()
    fix = 'give a list of GPU ids, e.g. `[0, 1]`, or of id groups, e.g. `["0,1", "2,3"]`'
    if not isinstance(data, list) or not data:
        issues.add("resource", f"{'empty list' if data == [] else kind(data)}; {fix}")
        return ()
    slots = []
    for index, entry in enumerate(data):
        ids = _gpu_ids(entry)
        if ids is None:
            issues.add(f"resource[{index}]", f"{shown(entry)} is not a GPU id list; {fix}")
        else:
            slots.append(",".join(ids))
    return tuple(slots)


def _gpu_ids(entry: object) -> list[str] | None:
    """``0``, ``"0,1"`` or ``[0, 1]`` as GPU ids; None for anything else."""
    if isinstance(entry, list):
        parts = entry
    elif isinstance(entry, str | int | float) and not isinstance(entry, bool):
        parts = str(entry).split(",")
    else:
        return None
    if not all(isinstance(part, str | int) and not isinstance(part, bool) for part in parts):
        return None
    ids = [str(part).strip() for part in parts]
    return ids if ids and all(GPU_ID.match(i) for i in ids) else None


def _aliases(data: object, issues: Issues) -> dict[str, Alias]:
    if not isinstance(data, dict):
        issues.add("alias", f"{kind(data)}; give a mapping `name: {{value: {{param: value}}}}`")
        return {}
    aliases = {}
    for name, entry, where in _named_entries(data, "alias", issues):
        if alias := Alias.from_mapping(name, entry, where, issues):
            aliases[name] = alias
    _check_alias_chains(aliases, issues)
    return aliases


def _check_alias_chains(aliases: Mapping[str, Alias], issues: Issues) -> None:
    """An alias sets plain params: resolving is one step, so chains and cycles can't be."""
    for name, alias in aliases.items():
        for target in alias.targets():
            if target in aliases:
                issues.add(
                    join("alias", name),
                    f"sets `{target}`, which is an alias too; aliases don't chain: "
                    f"list the params `{target}` sets",
                )


def _grids(documents: list[Any], issues: Issues) -> tuple[Grid, ...]:
    if not documents:
        issues.add("", "no grid documents; add a `---` document listing params to sweep")
    grids = (Grid.from_mapping(doc, index, issues) for index, doc in enumerate(documents, 2))
    return tuple(grid for grid in grids if grid)


def _metrics(data: object, issues: Issues) -> tuple[LogMetric, ...]:
    if not isinstance(data, dict):
        issues.add("metrics", f"{kind(data)}; give a mapping `name: {{stage, regex, reduce}}`")
        return ()
    metrics = []
    for key, value in data.items():
        name, where = str(key), join("metrics", key)
        # A metric name is a column of results.tsv: a tab or newline would split it.
        if not name.isprintable() or not name.strip():
            issues.add(where, "a metric name is one line of printable text; rename it")
        elif metric := LogMetric.from_mapping(name, value, where, issues):
            metrics.append(metric)
    return tuple(metrics)


def _parsers(data: object, issues: Issues, workdir: Path | None) -> tuple[str, ...]:
    entries = [data] if isinstance(data, str) else data
    if not isinstance(entries, list):
        issues.add("parsers", f"{kind(data)}; give a list of `module:function` names")
        return ()
    valid = []
    for index, entry in enumerate(entries):
        where = f"parsers[{index}]"
        if not isinstance(entry, str) or not PARSER_FORM.match(entry):
            issues.add(where, f"{shown(entry)}; write `module:function`, e.g. `parsers:bleu`")
        elif workdir is not None and not _module_exists(entry, workdir):
            top = entry.split(".")[0].split(":")[0]
            issues.add(
                where,
                f"no module `{top}` (no {top}.py beside the Snakefile, none installed); "
                "fix the name",
            )
        else:
            valid.append(entry)
    return tuple(valid)


def _module_exists(entry: str, workdir: Path) -> bool:
    """Whether the collector will find the parser's top-level module (without importing it:
    compiling never runs the user's code). The collector imports from the working directory
    first."""
    top = entry.split(".")[0].split(":")[0]
    if (workdir / f"{top}.py").is_file() or (workdir / top / "__init__.py").is_file():
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def path_problem(path: str) -> str | None:
    """Why ``path`` can't be a directory exptflow creates, or None."""
    if not path.isprintable():
        return "the path holds a control character; remove it"
    if any(len(part.encode("utf-8")) > 255 for part in path.split("/")):
        return "a path part is longer than 255 bytes; shorten it"
    return None


def _output(data: object, issues: Issues) -> str:
    if not isinstance(data, str) or not data.strip():
        issues.add("output", f"{kind(data)}; give the experiments directory, e.g. `output`")
        return "output"
    what = path_problem(data)
    if what is not None:
        issues.add("output", what)
        return "output"
    return data


def load(
    path: Path | str,
    source: str | None = None,
    workdir: Path | None = None,
    overrides: tuple[str, ...] = (),
) -> Sweep:
    """Read and validate a sweep file with its command-line overrides (``-S``); ``source`` is
    how messages name it."""
    from exptflow.sweep.overrides import apply

    source = source or str(path)
    documents = apply(load_documents(Path(path), source), overrides)
    return Sweep.from_documents(documents, source, workdir)

"""Grid documents → experiments. Pure: no I/O, the same input always gives the same list."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from exptflow.errors import SweepFileError, UserInputError
from exptflow.sweep.distributions import draw
from exptflow.sweep.naming import experiment_name
from exptflow.sweep.render import Scalar, is_reserved, placeholders, referenced_stages
from exptflow.sweep.spec import MAX_SAMPLES, Grid, Issues, Sweep, Zipped, join


class Experiment(NamedTuple):
    """One resolved param set and the stages it runs (a tuple: big sweeps make 100,000s)."""

    name: str
    params: Mapping[str, Scalar]  # resolved: defaults, aliases and grid values, sorted keys
    swept: Mapping[str, Scalar]  # what its grid document set; the name comes from these
    stages: tuple[str, ...]
    document: int


def select(sweep: Sweep, title: str | None) -> tuple[Grid, ...]:
    """The grid documents ``--title`` picks (all of them without a title)."""
    if title is None:
        return sweep.grids
    chosen = tuple(grid for grid in sweep.grids if grid.title == title)
    if not chosen:
        titles = sorted({grid.title for grid in sweep.grids if grid.title})
        valid = ", ".join(titles) if titles else "none: no document has `_title`"
        raise UserInputError(f"{sweep.source}: no document has `_title: {title}`; titles: {valid}")
    return chosen


def _resolve(values: Mapping[str, Scalar], sweep: Sweep) -> dict[str, Scalar]:
    if not sweep.aliases:
        return dict(values)
    resolved: dict[str, Scalar] = {}
    for key, value in values.items():
        alias = sweep.aliases.get(key)
        if alias is None:
            resolved[key] = value
        else:
            resolved.update(alias.resolve(value))
    return resolved


def resolved_defaults(sweep: Sweep) -> dict[str, Scalar]:
    """``default`` with its aliases resolved: the values every experiment starts from."""
    return _resolve(sweep.defaults, sweep)


def _combinations(grid: Grid) -> Iterator[dict[str, Scalar]]:
    combinations = _all_combinations(grid)
    if grid.conditions:
        combinations = _with_conditions(grid, combinations)
    if grid.excluded:
        yield from (c for c in combinations if not grid.is_excluded(c))
    else:
        yield from combinations


def _with_conditions(
    grid: Grid, combinations: Iterator[dict[str, Scalar]]
) -> Iterator[dict[str, Scalar]]:
    """Each combination, times the params of every `_when` block that holds for it."""
    for base in combinations:
        axes = [axis for block in grid.conditions if block.holds(base) for axis in block.axes]
        keys = [key for key, _ in axes]
        for values in itertools.product(*(values for _, values in axes)):
            yield {**base, **dict(zip(keys, values, strict=True))}


def _all_combinations(grid: Grid) -> Iterator[dict[str, Scalar]]:
    if not grid.zipped:  # the common case, kept lean: compile makes 100,000s of these
        keys = [key for key, _ in grid.axes]
        for values in itertools.product(*(values for _, values in grid.axes)):
            yield dict(zip(keys, values, strict=True))
        return
    factors: list[Zipped] = [
        ((key,), tuple((value,) for value in values)) for key, values in grid.axes
    ]
    factors += grid.zipped
    keys = [key for names, _ in factors for key in names]
    for picked in itertools.product(*(rows for _, rows in factors)):
        yield dict(zip(keys, itertools.chain.from_iterable(picked), strict=True))


def _stages_of(grid: Grid, sweep: Sweep) -> tuple[str, ...]:
    wanted = set(grid.stages or sweep.stage_names)
    return tuple(name for name in sweep.stage_names if name in wanted)


def _check_grid(grid: Grid, stages: tuple[str, ...], sweep: Sweep, issues: Issues) -> None:
    """Every placeholder has a value in every experiment of ``grid``; no boolean in braces."""
    _check_references_run(grid, stages, sweep, issues)
    samples = _one_of_each_shape(grid)
    if not samples:
        issues.add(join(grid.where, "_exclude"), "excludes every combination; remove a rule")
        return
    for sample in samples:
        _check_sample(
            {**_resolve(sweep.defaults, sweep), **_resolve(sample, sweep)},
            grid,
            stages,
            sweep,
            issues,
        )


def _check_references_run(
    grid: Grid, stages: tuple[str, ...], sweep: Sweep, issues: Issues
) -> None:
    """An experiment that runs a stage runs the stages whose directories it reads."""
    for stage in map(sweep.stage, stages):
        for name in referenced_stages(stage.tokens):
            if name in sweep.stage_names and name not in stages:
                issues.add(
                    join(grid.where, "_cmd"),
                    f"runs `{stage.name}`, which reads {{{name}._output}}, without `{name}`; "
                    f"add `{name}`",
                )


def _one_of_each_shape(grid: Grid) -> list[dict[str, Scalar]]:
    """A combination of each set of params the grid's experiments have (one without `_when`)."""
    if not grid.conditions:
        first = next(_combinations(grid), None)
        return [] if first is None else [first]
    shapes: dict[frozenset[str], dict[str, Scalar]] = {}
    for combination in _combinations(grid):
        shapes.setdefault(frozenset(combination), combination)
    return list(shapes.values())


def _check_sample(
    sample: dict[str, Scalar], grid: Grid, stages: tuple[str, ...], sweep: Sweep, issues: Issues
) -> None:
    for stage in map(sweep.stage, stages):
        for token in placeholders(stage.tokens):
            param = token.param
            if is_reserved(param) or param in sweep.aliases:
                continue
            if param not in sample:
                some = " (some `_when` block of it)" if grid.conditions else ""
                issues.add(
                    join(grid.where, "_cmd" if grid.stages else ""),
                    f"template.{stage.name} uses `{param}` but this document{some} gives it no "
                    f"value and `default` has none; add `{param}` to `default` or to this "
                    "document",
                )
            elif not token.flag:
                _check_not_boolean(grid, stage.name, param, sweep, issues)


def _check_not_boolean(grid: Grid, stage: str, param: str, sweep: Sweep, issues: Issues) -> None:
    axis = grid.values()
    values = axis.get(param, (sweep.defaults.get(param),))
    where = join(grid.where, param) if param in axis else join("default", param)
    if any(isinstance(value, bool) for value in values):
        issues.add(
            where,
            f"a boolean is used as {{{param}}} in template.{stage}; "
            f"write [{param}] for a --{param} flag, or quote the value",
        )


def _experiments(sweep: Sweep, grids: tuple[Grid, ...]) -> Iterator[Experiment]:
    defaults = _resolve(sweep.defaults, sweep)
    for grid in grids:
        stages = _stages_of(grid, sweep)
        # Every experiment of a grid has the same keys (but with `_when`): sort them once.
        swept_keys = None if grid.conditions else sorted(grid.values())
        keys = None
        for swept in _combinations(grid):
            params = {**defaults, **_resolve(swept, sweep)}
            keys = keys if keys and swept_keys else sorted(params)
            params = {key: params[key] for key in keys}
            name = experiment_name(swept, swept_keys)
            yield Experiment(name, params, swept, stages, grid.document)


def identity(params: Mapping[str, Scalar]) -> tuple:
    # 1 and True and "1" are different values for a program: keep them apart.
    values = tuple(params.values())
    return (tuple(params), values, tuple(map(type, values)))


def _merge(experiments: Iterator[Experiment], stage_order: tuple[str, ...]) -> list[Experiment]:
    """Identical resolved params run once, with every stage any of their documents asks for."""
    merged: dict[tuple, Experiment] = {}
    for experiment in experiments:
        key = identity(experiment.params)
        first = merged.get(key)
        if first is None:
            merged[key] = experiment
        elif set(experiment.stages) - set(first.stages):
            union = set(first.stages) | set(experiment.stages)
            stages = tuple(name for name in stage_order if name in union)
            merged[key] = Experiment(first.name, first.params, first.swept, stages, first.document)
    return list(merged.values())


def _check_unique_names(experiments: list[Experiment], source: str) -> None:
    """Distinct experiments never share a directory, on case-insensitive file systems too."""
    seen: dict[str, Experiment] = {}
    for experiment in experiments:
        other = seen.setdefault(experiment.name.casefold(), experiment)
        if other is not experiment:
            raise SweepFileError(
                [
                    f"{source}: document {other.document} and document {experiment.document}: "
                    f"experiments `{other.name}` and `{experiment.name}` would share a "
                    "directory (names may differ only in letter case); "
                    "make the values differ by more than letter case"
                ]
            )


def sample(experiments: list[Experiment], count: int, seed: int, source: str) -> list[Experiment]:
    """A reproducible random subset, in sweep order."""
    if count < 1 or count > len(experiments):
        raise UserInputError(
            f"{source}: --sample {count}: choose between 1 and {len(experiments)}, "
            "the number of experiments in the sweep"
        )
    chosen = sorted(random.Random(seed).sample(range(len(experiments)), count))
    return [experiments[index] for index in chosen]


def experiment_of(sweep: Sweep, grid: Grid, swept: Mapping[str, Scalar]) -> Experiment:
    """The experiment of ``grid`` with these values: a trial of ``exptflow tune``."""
    params = {**_resolve(sweep.defaults, sweep), **_resolve(swept, sweep)}
    params = {key: params[key] for key in sorted(params)}
    stages = _stages_of(grid, sweep)
    return Experiment(experiment_name(swept), params, dict(swept), stages, grid.document)


def check_searched(sweep: Sweep, grid: Grid, values: Mapping[str, tuple[Scalar, ...]]) -> None:
    """The checks of a grid, for a searched document with these values of each param."""
    concrete = dataclasses.replace(
        grid, axes=tuple(values.items()), zipped=(), excluded=(), space=()
    )
    issues = Issues(sweep.source)
    _check_grid(concrete, _stages_of(grid, sweep), sweep, issues)
    issues.raise_if_any()


def grids_to_expand(sweep: Sweep, grids: tuple[Grid, ...]) -> tuple[Grid, ...]:
    """The documents that are not search spaces; an error when every one is."""
    kept = tuple(grid for grid in grids if not grid.space)
    if grids and not kept:
        spaces = ", ".join(grid.where for grid in grids)
        raise UserInputError(
            f"{sweep.source}: {spaces}: a search space (distributions without `_samples`); "
            "run `exptflow tune` to search it, or add `_samples: N` (or pass --sample N) to "
            "draw N at random"
        )
    return kept


def expand(
    sweep: Sweep, title: str | None = None, count: int | None = None, seed: int = 0
) -> list[Experiment]:
    """The experiments of a sweep, deduplicated, optionally sampled; search spaces are left
    to ``exptflow tune``. ``count`` (``--sample N --seed S``): each search space selected is
    drawn ``count`` times, as ``_samples: N`` and ``_seed: S`` would; a sweep of grids only
    keeps a random subset of ``count`` experiments."""
    selected = select(sweep, title)
    drawing = count is not None and any(grid.space for grid in selected)
    if drawing:
        assert count is not None
        selected = tuple(drawn(grid, count, seed, sweep.source) for grid in selected)
    elif sweep.search is None:
        _check_spaces_are_drawn(selected, sweep.source)
    grids = grids_to_expand(sweep, selected)
    issues = Issues(sweep.source)
    for grid in grids:
        _check_grid(grid, _stages_of(grid, sweep), sweep, issues)
    issues.raise_if_any()
    experiments = _merge(_experiments(sweep, grids), sweep.stage_names)
    _check_unique_names(experiments, sweep.source)
    if count is not None and not drawing:
        experiments = sample(experiments, count, seed, sweep.source)
    return experiments


def _check_spaces_are_drawn(grids: tuple[Grid, ...], source: str) -> None:
    """Distributions without `_samples` are a search space: a typo without a `search:` block."""
    issues = Issues(source)
    for grid in grids:
        for name, _ in grid.space:
            issues.add(
                join(grid.where, name),
                "a distribution needs `_samples: N` in its document (or --sample N, or a "
                "`search:` block, for `exptflow tune` to choose the values)",
            )
    issues.raise_if_any()


def drawn(grid: Grid, count: int, seed: int, source: str) -> Grid:
    """A search space drawn ``count`` times with ``seed``; any other grid as it is."""
    if not grid.space:
        return grid
    if not 1 <= count <= MAX_SAMPLES:
        raise UserInputError(
            f"{source}: --sample {count}: give between 1 and {MAX_SAMPLES:,} configurations "
            f"to draw from {grid.where}"
        )
    rows = draw(dict(grid.space), count, seed, grid.document)
    return dataclasses.replace(grid, zipped=(*grid.zipped, rows), space=())


def orphans(sweep: Sweep, experiments: list[Experiment]) -> list[str]:
    """Params of the experiments that no template uses (they only name them), but those
    declared so in `_tags`."""
    quiet = sweep.template_params | sweep.naming_only
    shapes = {tuple(experiment.params) for experiment in experiments}
    return sorted({param for shape in shapes for param in shape} - quiet)

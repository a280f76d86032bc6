"""Command-line overrides (``-S lr=1e-3,1e-2``, ``-S seed=0:3``, ``-S default.data=wmt``):
edits of the sweep file's documents, made before they are validated, so a sweep with
overrides names and checks its experiments exactly as if the file had said it.

Pure: documents in, edited copies out.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import yaml

from exptflow.errors import UserInputError
from exptflow.sweep.spec import PARAM_NAME, is_scalar

MAX_VALUES = 5_000_000  # compile's own limit on a whole sweep
RANGE = re.compile(r"^(-?\d+):(-?\d+)(?::(-?\d+))?$")
FORMS = (
    "write PARAM=V1,V2 (a grid's values), PARAM=START:STOP[:STEP] (whole numbers, STOP "
    "excluded), or default.PARAM=VALUE"
)


@dataclass(frozen=True)
class Override:
    text: str  # as given, for messages
    param: str
    values: tuple[Any, ...]
    default: bool  # `default.PARAM=VALUE`: changes the default, not the grids

    @classmethod
    def parse(cls, text: str) -> Override:
        key, equals, value = text.partition("=")
        if not equals or not value.strip():
            raise _refusal(text, FORMS)
        default = key.startswith("default.")
        param = key.removeprefix("default.").strip()
        if not PARAM_NAME.match(param):
            raise _refusal(text, f"`{param}` is not a param name; {FORMS}")
        values = _values(text, value.strip())
        if default and len(values) != 1:
            raise _refusal(text, "a default is one value; sweep several with PARAM=V1,V2")
        return cls(text, param, values, default)


def _refusal(text: str, why: str) -> UserInputError:
    return UserInputError(f"-S {text}: {why}")


def _values(text: str, value: str) -> tuple[Any, ...]:
    """YAML scalars, read as the sweep file's reader reads them (`1e-3` stays text there too)."""
    bounds = RANGE.match(value)
    if bounds:
        start, stop, step = bounds.groups()
        if step is not None and int(step) == 0:
            raise _refusal(text, "a range's STEP is never 0")
        span = range(int(start), int(stop), int(step or 1))
        if len(span) > MAX_VALUES:
            raise _refusal(text, f"{len(span):,} values; a sweep takes at most {MAX_VALUES:,}")
        values: tuple[Any, ...] = tuple(span)
        if not values:
            raise _refusal(
                text, f"the range {value} is empty; STOP is excluded, e.g. 0:3 is 0, 1, 2"
            )
        return values
    listed = value if value.startswith("[") and value.endswith("]") else f"[{value}]"
    try:
        parsed = yaml.safe_load(listed)
    except (yaml.YAMLError, ValueError, KeyError, OverflowError, TypeError, AttributeError):
        # PyYAML lets Python's own errors through: `!!bool maybe`, `2001-13-45`, huge ints.
        raise _refusal(text, f"cannot read {value!r}; quote a value holding a comma") from None
    if not isinstance(parsed, list) or not all(map(is_scalar, parsed)) or not parsed:
        raise _refusal(text, f"give plain values (numbers, text, true/false); {FORMS}")
    return tuple(parsed)


def apply(documents: list[Any], overrides: tuple[str, ...]) -> list[Any]:
    """The documents with every override made; the first a document refuses is the error."""
    edited = copy.deepcopy(documents)
    for override in map(Override.parse, overrides):
        if not edited or not isinstance(edited[0], dict):
            return edited  # the sweep file's own error says what is wrong
        if override.default:
            _set_default(edited[0], override)
        else:
            _set_grids(edited, override)
    return edited


def _set_default(settings: dict[str, Any], override: Override) -> None:
    if settings.get("default") is None:  # absent, or `default:` with nothing after it
        settings["default"] = {}
    if isinstance(settings["default"], dict):
        settings["default"][override.param] = override.values[0]


def _set_grids(documents: list[Any], override: Override) -> None:
    for number, grid in enumerate(documents[1:], start=2):
        where = isinstance(grid, dict) and _fixed_by_the_file(grid, override.param)
        if where:
            raise _refusal(
                override.text,
                f"`{override.param}` is {where} in document {number}; edit the sweep file to "
                "change it there",
            )
    grids = [document for document in documents[1:] if isinstance(document, dict)]
    if not grids:  # a file of settings only: the override is its grid
        documents.append({})
        grids = [documents[-1]]
    for grid in grids:
        grid[override.param] = list(override.values)


def _fixed_by_the_file(grid: dict[str, Any], param: str) -> str | None:
    """Where the document sets ``param`` in a way a list of values can't replace, if it does."""
    if isinstance(grid.get(param), dict):
        return "drawn from a distribution"
    for key, what in (("_zip", "zipped with other params"), ("_rows", "listed in `_rows`")):
        entries = grid.get(key)
        listed = entries if isinstance(entries, list) else [entries]
        if any(isinstance(entry, dict) and param in entry for entry in listed):
            return what
    rules = grid.get("_exclude")
    if isinstance(rules, list) and any(isinstance(r, dict) and param in r for r in rules):
        return "named in `_exclude`"
    blocks = grid.get("_when")
    blocks = [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []
    if any(param in block for block in blocks):
        return "set in a `_when` block"
    if any(isinstance(b.get("_if"), dict) and param in b["_if"] for b in blocks):
        return "named in a `_when` condition"
    return None

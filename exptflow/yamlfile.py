"""Reads a sweep file into plain Python documents, refusing what a sweep file never needs.

Safe loading only (no Python tags), duplicate keys are errors (PyYAML silently keeps the last),
and an alias bomb is refused before anything expands it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

from exptflow.errors import SweepFileError, problem

# Far beyond any real sweep file, far below what makes expansion slow.
MAX_EXPANDED_NODES = 200_000


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that reports duplicate mapping keys instead of keeping the last one."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                line = seen.get(key)
            except TypeError:
                continue  # unhashable keys get PyYAML's own error below
            if line is not None:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {line}); keep one of them",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _StrictLoader.construct_mapping,  # type: ignore[arg-type]
)


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    """Node count with aliases expanded, memoised so a bomb is measured, not expanded."""
    known = memo.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = size
    return min(size, MAX_EXPANDED_NODES + 1)


def _mark(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""


def _read_text(path: Path, source: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SweepFileError(
            [problem(source, "", "no such file; pass the sweep file as `exptflow compile FILE`")]
        ) from None
    except IsADirectoryError:
        raise SweepFileError([problem(source, "", "is a directory, not a sweep file")]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SweepFileError(
            [
                problem(
                    source,
                    "",
                    f"not UTF-8 text (bad byte at offset {error.start}); save the file as UTF-8",
                )
            ]
        ) from None


def load_documents(path: Path, source: str | None = None) -> list[Any]:
    """All YAML documents of ``path``; raises :class:`SweepFileError` naming the line."""
    source = source or str(path)
    text = _read_text(path, source)
    try:
        loader = _StrictLoader(text)
        try:
            documents = []
            while loader.check_node():
                node = loader.get_node()
                if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
                    raise SweepFileError(
                        [
                            problem(
                                source,
                                f"document {len(documents) + 1}",
                                "YAML anchors/aliases expand to more than "
                                f"{MAX_EXPANDED_NODES} nodes; write the values out instead",
                            )
                        ]
                    )
                documents.append(loader.construct_document(node))
            return documents
        finally:
            loader.dispose()
    except ConstructorError as error:
        raise SweepFileError([_constructor_problem(source, error)]) from None
    except yaml.MarkedYAMLError as error:
        what = f"{_mark(error)}invalid YAML: {error.problem}; fix the syntax at that line"
        raise SweepFileError([problem(source, "", what)]) from None
    except yaml.YAMLError as error:
        raise SweepFileError([problem(source, "", f"invalid YAML: {error}")]) from None


def _constructor_problem(source: str, error: ConstructorError) -> str:
    text = str(error.problem)
    if "could not determine a constructor" in text:
        text = (
            f"unsupported YAML tag {text.split('tag ')[-1]}; "
            "a sweep file holds only plain values (no !!python tags)"
        )
    return problem(source, "", f"{_mark(error)}{text}")

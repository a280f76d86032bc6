"""Reads a sweep file into plain Python documents, refusing what a sweep file never needs.

Safe loading only (no Python tags), duplicate keys are errors (PyYAML silently keeps the last),
and whatever could make reading slow or crash is refused before it can: files that are not
small UTF-8 text, nesting deep enough to exhaust Python's recursion, and alias bombs (measured,
never expanded).
"""

from __future__ import annotations

import codecs
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from exptflow.errors import SweepFileError, problem

# Far beyond any real sweep file, far below what makes expansion slow.
MAX_EXPANDED_NODES = 200_000
# A sweep file nests a few levels; PyYAML composes and constructs recursively, so a file of
# 100,000 `[` would otherwise end in a RecursionError.
MAX_DEPTH = 32
# Pure-Python YAML reads about 1 MB/s: a bigger file is not a sweep file typed by hand.
MAX_FILE_BYTES = 8 * 1024 * 1024
# UTF-32 first: its little-endian mark starts with UTF-16's.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PASS_FILE = "pass the sweep file as `exptflow compile FILE`"


class _Refusal(yaml.MarkedYAMLError):
    """Valid YAML that a sweep file never holds; its ``problem`` is the whole message."""


def _short(text: str, length: int = 32) -> str:
    return text if len(text) <= length else text[:length] + "…"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that reports duplicate mapping keys instead of keeping the last one, bounds
    nesting, and reports values its constructors can't convert instead of crashing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refusal(
                    problem=f"nested more than {MAX_DEPTH} levels deep; "
                    "a sweep file needs a few levels, flatten it",
                    problem_mark=self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, KeyError, AttributeError, OverflowError):
            # ``!!bool maybe``, ``2001-13-45``, an int of 5,000 digits: PyYAML's constructors
            # let Python's own errors through.
            tag = node.tag.rsplit(":", 1)[-1]
            text = f"`{_short(node.value)}`" if isinstance(node, ScalarNode) else "this value"
            raise _Refusal(
                problem=f"can't read {text} as {tag}; quote it to keep it as text",
                problem_mark=node.start_mark,
            ) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue  # `<<: *base`: SafeLoader merges it below; explicit keys win
            key = self.construct_object(key_node, deep=True)
            try:
                line = seen.get(key)
            except TypeError:
                raise _Refusal(
                    problem="a list or mapping as a key; keys are plain names",
                    problem_mark=key_node.start_mark,
                ) from None
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
    _StrictLoader.construct_mapping,
)


class _Cycle(Exception):
    """An alias inside the very node it refers to (``&a [*a]``)."""


def _measure(node: Node, memo: dict[int, tuple[int, int]], open_: set[int]) -> tuple[int, int]:
    """(node count, depth) with aliases expanded, memoised so a bomb is measured, not
    expanded. An anchored node is first met where it is defined, so the recursion follows the
    composed tree, whose depth the loader bounds."""
    known = memo.get(id(node))
    if known is not None:
        return known
    if id(node) in open_:
        raise _Cycle
    children: list[Node] = []
    if isinstance(node, SequenceNode):
        children = node.value
    elif isinstance(node, MappingNode):
        children = [child for pair in node.value for child in pair]
    open_.add(id(node))
    size, depth = 1, 0
    for child in children:
        child_size, child_depth = _measure(child, memo, open_)
        size, depth = size + child_size, max(depth, child_depth)
    open_.discard(id(node))
    memo[id(node)] = (size, depth + 1)
    return size, depth + 1


def _check_expansion(node: Node, where: str, source: str) -> None:
    try:
        size, depth = _measure(node, {}, set())
    except _Cycle:
        what = "a YAML alias refers to the value that holds it"
    else:
        if size > MAX_EXPANDED_NODES:
            what = f"YAML anchors/aliases expand to more than {MAX_EXPANDED_NODES} nodes"
        elif depth > MAX_DEPTH:
            what = f"YAML anchors/aliases nest more than {MAX_DEPTH} levels deep"
        else:
            return
    raise SweepFileError([problem(source, where, f"{what}; write the values out instead")])


def _mark(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""


def _refuse(source: str, what: str) -> SweepFileError:
    return SweepFileError([problem(source, "", what)])


def _read_bytes(path: Path, source: str) -> bytes:
    """The file's bytes; a FIFO, a device or a huge file is refused before it is read."""
    if not source.isprintable():
        shown = source.encode("unicode_escape").decode("ascii")
        raise _refuse(shown, "the file name holds a control character; rename the file")
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise _refuse(source, f"is a directory, not a sweep file; {_PASS_FILE}")
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(source, f"not a regular file; {_PASS_FILE}")
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise _refuse(source, f"no such file; {_PASS_FILE}") from None
    except OSError as error:
        raise _refuse(source, f"can't read it ({error.strerror}); check the path") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _refuse(source, f"larger than {MAX_FILE_BYTES:,} bytes; this is no sweep file")
    return raw


def _decode(raw: bytes, source: str) -> str:
    for mark, encoding in _BYTE_ORDER_MARKS:
        if raw.startswith(mark):
            what = f"{encoding} text (it starts with a byte order mark); save the file as UTF-8"
            raise _refuse(source, what)
    if b"\0" in raw:  # binary, or UTF-16 without a byte order mark
        offset = raw.index(b"\0")
        what = f"not a text file (NUL byte at offset {offset}); save the sweep file as UTF-8 text"
        raise _refuse(source, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        what = f"not UTF-8 text (bad byte at offset {error.start}); save the file as UTF-8"
        raise _refuse(source, what) from None


def _read_text(path: Path, source: str) -> str:
    return _decode(_read_bytes(path, source), source)


def _reader_problem(source: str, text: str, error: ReaderError) -> str:
    line = text.count("\n", 0, error.position) + 1
    column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
    character = error.character if isinstance(error.character, int) else ord(error.character)
    what = f"character U+{character:04X} is not allowed in a YAML file; remove it"
    return problem(source, "", f"line {line}, column {column}: {what}")


def load_documents(path: Path, source: str | None = None) -> list[Any]:
    """All YAML documents of ``path``; raises :class:`SweepFileError` naming the line."""
    source = source or str(path)
    text = _read_text(path, source)
    try:
        return _documents(text, source)
    except ReaderError as error:
        raise SweepFileError([_reader_problem(source, text, error)]) from None
    except (ConstructorError, _Refusal) as error:
        raise SweepFileError([_constructor_problem(source, error)]) from None
    except yaml.MarkedYAMLError as error:
        what = f"{_mark(error)}invalid YAML: {error.problem}; fix the syntax at that line"
        raise SweepFileError([problem(source, "", what)]) from None
    except yaml.YAMLError as error:
        what = f"invalid YAML: {' '.join(str(error).split())}"
        raise SweepFileError([problem(source, "", what)]) from None


def _documents(text: str, source: str) -> list[Any]:
    loader = _StrictLoader(text)
    try:
        documents: list[Any] = []
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # check_node said there is one
                break
            _check_expansion(node, f"document {len(documents) + 1}", source)
            documents.append(loader.construct_document(node))
        return documents
    finally:
        loader.dispose()


def _constructor_problem(source: str, error: yaml.MarkedYAMLError) -> str:
    text = str(error.problem)
    if "could not determine a constructor" in text:
        text = (
            f"unsupported YAML tag {text.split('tag ')[-1]}; "
            "a sweep file holds only plain values (no !!python tags)"
        )
    return problem(source, "", f"{_mark(error)}{text}")

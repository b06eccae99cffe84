"""Reads a YAML document into plain Python data while remembering where every node came from.

The estate validator needs ``file:line:column`` for every problem, including problems found
long after parsing (a dangling reference, a duplicate name). This module turns ruamel.yaml's
round-trip nodes into plain dicts/lists/scalars plus a position index keyed by path. It must
never echo a scalar value in an error: a malformed line may hold a secret.

Hostile text is refused cheaply and clearly: nesting deeper than ``MAX_DEPTH`` (flow brackets
or block indentation) stops the scanner at the first level too many, before ruamel's
look-ahead over a long line of brackets turns quadratic; any tag other than the plain YAML
types (``!foo``, ``!!python/...``, ``!!binary``, ``!!set``, ``!!omap``) is refused where it
stands, never constructed; and whatever else ruamel raises on malformed text (even an
AssertionError) becomes a :class:`SourceError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scanner import RoundTripScanner

Path = tuple[str | int, ...]

MAX_BYTES = 20 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64


class SourceError(Exception):
    """The text is not a readable YAML document; ``line``/``column`` are 1-based."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


@dataclass
class Positions:
    """Where each path's key and value start (0-based line/column as ruamel reports them)."""

    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def exists(self, path: Path) -> bool:
        return path in self.values or path == ()

    def resolve(self, path: Sequence[str | int]) -> Path:
        """The longest existing path along ``path``, skipping segments that are not in the
        document (pydantic adds union tags and ``[key]`` markers to its locations)."""
        found: Path = ()
        for seg in path:
            candidate = (*found, seg)
            if candidate in self.values:
                found = candidate
        return found

    def at(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of ``path``'s key (``key=True``) or value."""
        if key and path in self.keys:
            line, col = self.keys[path]
        elif path in self.values:
            line, col = self.values[path]
        elif path in self.keys:
            line, col = self.keys[path]
        else:
            line, col = 0, 0
        return line + 1, col + 1


# The types a ringfence.yaml is made of; ``<<`` merges are resolved before construction.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)
_PRINTABLE_TAG = re.compile(r"[!A-Za-z0-9:/._,-]{1,60}")


def _too_deep(mark: Any) -> SourceError:
    return SourceError(mark.line + 1, mark.column + 1, f"nested more than {MAX_DEPTH} levels deep")


class _DepthGuardScanner(RoundTripScanner):
    """ruamel's scanner, stopped at the first flow bracket or block indent past MAX_DEPTH."""

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: Any) -> None:
        if len(self.flow_context) >= MAX_DEPTH:
            raise _too_deep(self.reader.get_mark())
        super().fetch_flow_collection_start(TokenClass, to_push)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= MAX_DEPTH:
            raise _too_deep(self.reader.get_mark())
        return bool(super().add_indent(column))


class _CountingComposer(Composer):
    """ruamel's composer, stopped at the first node past MAX_NODES. Parsing is the costly part
    (about 0.1 ms a node): counting only afterwards let a 4 MiB request body of two-character
    flow items (two million nodes) cost minutes of CPU and gigabytes before being refused."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._nodes = getattr(self, "_nodes", 0) + 1
        if self._nodes > MAX_NODES:
            mark = self.parser.peek_event().start_mark
            raise SourceError(
                mark.line + 1, mark.column + 1, f"document too large (more than {MAX_NODES} nodes)"
            )
        return super().compose_node(parent, index)


class _PlainConstructor(RoundTripConstructor):
    """ruamel's round-trip constructor for the plain YAML types only; any other tag is refused
    at its position instead of being built (``!!python/...`` is never executed either way)."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        tag = str(getattr(node.tag, "value", node.tag))
        if tag not in _PLAIN_TAGS:
            mark = node.start_mark
            tag = tag.replace("tag:yaml.org,2002:", "!!", 1)
            shown = f" {tag!r}" if _PRINTABLE_TAG.fullmatch(tag) else ""
            raise SourceError(
                mark.line + 1,
                mark.column + 1,
                f"unsupported YAML tag{shown}: use plain strings, numbers, booleans, "
                "lists and mappings",
            )
        return super().construct_object(node, deep)


def _mark(get: Any, *args: Any) -> tuple[int, int] | None:
    """ruamel's (line, column) for a child, or None when it kept none (merged keys, nodes
    under a tag, alias copies)."""
    try:
        found = get(*args)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    if not isinstance(found, (list, tuple)) or len(found) < 2:
        return None
    line, col = found[0], found[1]
    return (line, col) if isinstance(line, int) and isinstance(col, int) else None


_DUPLICATE = re.compile(r'found duplicate key "(?P<key>[^"]{0,80})"')


def _source_error(exc: YAMLError) -> SourceError:
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "invalid YAML"
        dup = _DUPLICATE.search(problem)
        if dup:
            # ruamel's text repeats both values; one of them could be a secret.
            problem = f"duplicate key {dup.group('key')!r} in the same mapping"
        elif exc.context:
            problem = f"{problem} ({exc.context})"
        return SourceError(mark.line + 1, mark.column + 1, f"malformed YAML: {problem}")
    return SourceError(1, 1, f"malformed YAML: {type(exc).__name__}")


def _plain(node: Any, path: Path, pos: Positions, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise SourceError(1, 1, f"document too large (more than {MAX_NODES} nodes after aliases)")
    if len(path) > MAX_DEPTH:
        line, col = pos.values.get(path[:-1], (0, 0))
        raise SourceError(line + 1, col + 1, f"nested more than {MAX_DEPTH} levels deep")
    here = pos.values.get(path, (0, 0))
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for k in node:
            key = str(k)
            child = (*path, key)
            pos.keys[child] = _mark(node.lc.key, k) or here
            pos.values[child] = _mark(node.lc.value, k) or pos.keys[child]
            out[key] = _plain(node[k], child, pos, budget)
        return out
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for i, value in enumerate(node):
            child = (*path, i)
            pos.values[child] = _mark(node.lc.item, i) or here
            items.append(_plain(value, child, pos, budget))
        return items
    if isinstance(node, dict):  # flow/alias nodes without position data: the parent's
        mapped: dict[str, Any] = {}
        for k, v in node.items():
            pos.values.setdefault((*path, str(k)), here)
            mapped[str(k)] = _plain(v, (*path, str(k)), pos, budget)
        return mapped
    if isinstance(node, list):
        listed: list[Any] = []
        for i, v in enumerate(node):
            pos.values.setdefault((*path, i), here)
            listed.append(_plain(v, (*path, i), pos, budget))
        return listed
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, datetime):
        return datetime.fromisoformat(node.isoformat())
    if isinstance(node, date):
        return date(node.year, node.month, node.day)
    return node


def read_yaml(text: str) -> tuple[Any, Positions]:
    """Parse one YAML document into plain data and its position index."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise SourceError(1, 1, f"file larger than {MAX_BYTES // (1024 * 1024)} MiB")
    yaml = YAML(typ="rt")
    yaml.Scanner = _DepthGuardScanner
    yaml.Composer = _CountingComposer
    yaml.Constructor = _PlainConstructor
    try:
        docs = list(yaml.load_all(text))
    except SourceError:
        raise
    except YAMLError as exc:
        raise _source_error(exc) from None
    except RecursionError:
        raise SourceError(1, 1, f"nested more than {MAX_DEPTH} levels deep") from None
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        AssertionError,
        ArithmeticError,
    ) as exc:
        # ruamel's own bugs on odd input (an AssertionError for some !!omap) are still the
        # text's problem, not ours: one clear error, never a traceback.
        raise SourceError(1, 1, f"malformed YAML: {type(exc).__name__}") from None
    if len(docs) > 1:
        raise SourceError(1, 1, "expected one YAML document, found several (--- separators)")
    pos = Positions()
    data = _plain(docs[0] if docs else None, (), pos, [MAX_NODES])
    if isinstance(docs[0] if docs else None, CommentedMap):
        pos.values[()] = (docs[0].lc.line, docs[0].lc.col)
    return data, pos

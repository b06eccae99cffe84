"""Reads a YAML document into plain Python data while remembering where every node came from.

The estate validator needs ``file:line:column`` for every problem, including problems found
long after parsing (a dangling reference, a duplicate name). This module turns ruamel.yaml's
round-trip nodes into plain dicts/lists/scalars plus a position index keyed by path. It must
never echo a scalar value in an error: a malformed line may hold a secret.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

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
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for k in node:
            key = str(k)
            child = (*path, key)
            pos.keys[child] = tuple(node.lc.key(k))
            pos.values[child] = tuple(node.lc.value(k))
            out[key] = _plain(node[k], child, pos, budget)
        return out
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for i, value in enumerate(node):
            child = (*path, i)
            pos.values[child] = tuple(node.lc.item(i))
            items.append(_plain(value, child, pos, budget))
        return items
    if isinstance(node, dict):  # flow/alias nodes without position data
        return {str(k): _plain(v, (*path, str(k)), pos, budget) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, (*path, i), pos, budget) for i, v in enumerate(node)]
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
    try:
        docs = list(yaml.load_all(text))
    except YAMLError as exc:
        raise _source_error(exc) from None
    except RecursionError:
        raise SourceError(1, 1, f"nested more than {MAX_DEPTH} levels deep") from None
    except (ValueError, TypeError) as exc:
        raise SourceError(1, 1, f"malformed YAML: {type(exc).__name__}") from None
    if len(docs) > 1:
        raise SourceError(1, 1, "expected one YAML document, found several (--- separators)")
    pos = Positions()
    data = _plain(docs[0] if docs else None, (), pos, [MAX_NODES])
    if isinstance(docs[0] if docs else None, CommentedMap):
        pos.values[()] = (docs[0].lc.line, docs[0].lc.col)
    return data, pos

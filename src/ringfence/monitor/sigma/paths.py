"""Dotted-path access into nested JSON with list fan-out: ``target.alternateId`` over a list
of targets yields every element's ``alternateId``. Never raises on odd shapes: a path that does
not exist yields nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MISSING = object()


def resolve(doc: Any, path: str) -> list[Any]:
    """All values at ``path`` (lists are flattened at every level, incl. the leaf)."""
    return compile_path(path)(doc)


def compile_path(path: str) -> Callable[[Any], list[Any]]:
    """A getter for ``path``: tries the whole key first (keys may contain dots), then splits."""
    parts = tuple(path.split("."))

    def get(doc: Any) -> list[Any]:
        if isinstance(doc, dict) and path in doc:
            return _flatten(doc[path])
        cur: list[Any] = [doc]
        for part in parts:
            nxt: list[Any] = []
            for c in cur:
                if isinstance(c, dict):
                    v = c.get(part, _MISSING)
                    if v is not _MISSING:
                        nxt.append(v)
                elif isinstance(c, list):
                    for item in c:
                        if isinstance(item, dict):
                            v = item.get(part, _MISSING)
                            if v is not _MISSING:
                                nxt.append(v)
            if not nxt:
                return []
            cur = nxt
        out: list[Any] = []
        for c in cur:
            out.extend(_flatten(c))
        return out

    return get


def _flatten(v: Any) -> list[Any]:
    if isinstance(v, list):
        out: list[Any] = []
        for item in v:
            out.extend(_flatten(item))
        return out
    return [v]

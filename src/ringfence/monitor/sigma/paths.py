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
    """A getter for ``path``. The common case (nested objects, no lists) is a plain walk;
    lists fan out; a key that itself contains dots is found when the walk misses."""
    parts = tuple(path.split("."))
    n = len(parts)

    def fan_out(cur: list[Any], rest: tuple[str, ...]) -> list[Any]:
        vals: list[Any] = cur
        for part in rest:
            nxt: list[Any] = []
            for c in vals:
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
            vals = nxt
        out: list[Any] = []
        for c in vals:
            out.extend(_flatten(c))
        return out

    def get(doc: Any) -> list[Any]:
        cur = doc
        i = 0
        while i < n:
            if type(cur) is dict:
                prev = cur
                cur = cur.get(parts[i], _MISSING)
                if cur is _MISSING:
                    if i == n - 1:
                        return []
                    # a key that itself contains dots ("a.b" under prev)
                    whole = prev.get(".".join(parts[i:]), _MISSING)
                    return [] if whole is _MISSING else _flatten(whole)
            elif type(cur) is list:
                return fan_out(cur, parts[i:])
            else:
                return []
            i += 1
        if type(cur) is list:
            return _flatten(cur)
        return [cur]

    # Unrolled fast paths for the usual depths (objects all the way down); any other shape
    # takes the general walk above, so the results are identical.
    if n == 1:
        (p0,) = parts

        def get1(doc: Any) -> list[Any]:
            if type(doc) is dict:
                a = doc.get(p0, _MISSING)
                if a is _MISSING:
                    return []
                return _flatten(a) if type(a) is list else [a]
            return get(doc)

        return get1
    if n == 2:
        p0, p1 = parts

        def get2(doc: Any) -> list[Any]:
            if type(doc) is dict:
                a = doc.get(p0, _MISSING)
                if type(a) is dict:
                    b = a.get(p1, _MISSING)
                    if b is _MISSING:
                        return []
                    return _flatten(b) if type(b) is list else [b]
            return get(doc)

        return get2
    if n == 3:
        p0, p1, p2 = parts

        def get3(doc: Any) -> list[Any]:
            if type(doc) is dict:
                a = doc.get(p0, _MISSING)
                if type(a) is dict:
                    b = a.get(p1, _MISSING)
                    if type(b) is dict:
                        c = b.get(p2, _MISSING)
                        if c is _MISSING:
                            return []
                        return _flatten(c) if type(c) is list else [c]
            return get(doc)

        return get3
    return get


def _flatten(v: Any) -> list[Any]:
    if isinstance(v, list):
        out: list[Any] = []
        for item in v:
            out.extend(_flatten(item))
        return out
    return [v]

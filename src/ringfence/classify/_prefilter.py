"""Multi-pattern prefilter: one pass over a buffer tells which detectors match, and where.

Hyperscan is used when importable (x86-64), else a google-re2 ``Set``; both are linear-time
engines, so a hostile payload cannot make the prefilter backtrack. Hyperscan also reports the
leftmost start of every match (SOM), so confirmation only runs at those offsets instead of
re-scanning the whole text per detector; the RE2 set only says which ids occur. Patterns an
engine cannot compile are "always candidates" without positions rather than dropped, so a
prefilter limitation can cost speed but never recall. Never sees or keeps anything but bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import re2

_hs: Any
try:  # pragma: no cover - import availability depends on the platform
    import hyperscan as _hs
except ImportError:  # pragma: no cover
    _hs = None

RE2_SET_MEMORY = 64 << 20

#: (pattern, caseless, report start offsets?)
Pattern = tuple[str, bool, bool]
#: id -> byte offsets where a match starts (empty set: occurs, offsets unknown).
Candidates = dict[int, set[int]]


class Prefilter(Protocol):
    engine: str
    #: ids whose offsets are never reported (confirm them with a full scan)
    no_positions: frozenset[int]

    def candidates(self, data: bytes) -> Candidates: ...


def _plain(pattern: str) -> str:
    # Named groups are only needed for confirmation; both engines ignore captures anyway.
    return pattern.replace("(?P<v>", "(")


class HyperscanPrefilter:
    engine = "hyperscan"

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        assert _hs is not None
        always: set[int] = set()
        nopos: set[int] = set()
        exprs: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []
        for i, (pat, caseless, positions) in enumerate(patterns):
            exprs.append(_plain(pat).encode())
            ids.append(i)
            case = _hs.HS_FLAG_CASELESS if caseless else 0
            if positions:
                flags.append(_hs.HS_FLAG_SOM_LEFTMOST | case)
            else:  # presence is enough: one report, no start-of-match bookkeeping
                flags.append(_hs.HS_FLAG_SINGLEMATCH | case)
                nopos.add(i)
        try:
            self._db: Any = self._build(exprs, ids, flags)
        except Exception:
            # Find the culprits one by one: try without SOM, then as a prefilter, else always.
            keep: list[tuple[bytes, int, int]] = []
            for e, i, f in zip(exprs, ids, flags, strict=True):
                base = f & ~(_hs.HS_FLAG_SOM_LEFTMOST | _hs.HS_FLAG_SINGLEMATCH)
                for mode in (f, base | _hs.HS_FLAG_SINGLEMATCH, base | _hs.HS_FLAG_PREFILTER):
                    try:
                        self._build([e], [i], [mode])
                    except Exception:  # noqa: S112 - try the next mode
                        continue
                    keep.append((e, i, mode))
                    if mode != f:
                        nopos.add(i)
                    break
                else:
                    always.add(i)
            self._db = self._build(*map(list, zip(*keep, strict=True))) if keep else None
        self._always = frozenset(always)
        self.no_positions = frozenset(always | nopos)
        self._local = threading.local()

    @staticmethod
    def _build(exprs: list[bytes], ids: list[int], flags: list[int]) -> Any:
        assert _hs is not None
        db = _hs.Database()
        db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=flags)
        return db

    def candidates(self, data: bytes) -> Candidates:
        found: Candidates = {i: set() for i in self._always}
        if self._db is None or not data:
            return found
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            assert _hs is not None
            scratch = self._local.scratch = _hs.Scratch(self._db)
        setdefault = found.setdefault

        def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> None:
            setdefault(pid, set()).add(start)

        self._db.scan(data, match_event_handler=on_match, scratch=scratch)
        return found


class Re2SetPrefilter:
    engine = "re2-set"

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        always: set[int] = set()
        # The set's DFA is built lazily; with RE2's default 8 MiB budget it thrashes on
        # PII-dense bodies (1 ms per 4 KiB instead of 50 µs), so give it room.
        opts = re2.Options()
        opts.max_mem = RE2_SET_MEMORY
        self._set: Any = re2.Set.SearchSet(opts)
        self._ids: list[int] = []
        for i, (pat, caseless, _positions) in enumerate(patterns):
            src = ("(?i)" if caseless else "") + _plain(pat)
            try:
                self._set.Add(src.encode())
            except Exception:
                always.add(i)
                continue
            self._ids.append(i)
        self._set.Compile()
        self._always = frozenset(always)
        self.no_positions = frozenset(range(len(patterns)))

    def candidates(self, data: bytes) -> Candidates:
        found: Candidates = {i: set() for i in self._always}
        if data:
            for j in self._set.Match(data) or ():
                found[self._ids[j]] = set()
        return found


def build_prefilter(patterns: Sequence[Pattern], engine: str = "auto") -> Prefilter:
    """Compile ``(pattern, caseless, want_positions)``; engine ``auto``, ``hyperscan``, ``re2``."""
    if engine in ("auto", "hyperscan") and _hs is not None:
        return HyperscanPrefilter(patterns)
    if engine == "hyperscan":
        raise RuntimeError("hyperscan is not installed")
    return Re2SetPrefilter(patterns)

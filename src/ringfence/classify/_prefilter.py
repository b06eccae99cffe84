"""Multi-pattern prefilter: one pass over a buffer tells which detectors can possibly match.

Hyperscan is used when importable (x86-64), else a google-re2 ``Set``; both are linear-time
engines, so a hostile payload cannot make the prefilter backtrack. The prefilter only answers
"which pattern ids occur somewhere"; confirmation and validation happen afterwards. Patterns
that an engine cannot compile are reported as "always candidates" rather than dropped, so a
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


class Prefilter(Protocol):
    engine: str

    def candidates(self, data: bytes) -> set[int]:
        """Ids of the patterns that may match somewhere in ``data``."""
        ...


def _plain(pattern: str) -> str:
    # Named groups are only needed for confirmation; both engines ignore captures anyway.
    return pattern.replace("(?P<v>", "(")


class HyperscanPrefilter:
    engine = "hyperscan"

    def __init__(self, patterns: Sequence[tuple[str, bool]]) -> None:
        assert _hs is not None
        self._always: set[int] = set()
        exprs: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []
        for i, (pat, caseless) in enumerate(patterns):
            f = _hs.HS_FLAG_SINGLEMATCH | (_hs.HS_FLAG_CASELESS if caseless else 0)
            exprs.append(_plain(pat).encode())
            ids.append(i)
            flags.append(f)
        self._db: Any = self._compile(exprs, ids, flags)
        self._local = threading.local()

    def _compile(self, exprs: list[bytes], ids: list[int], flags: list[int]) -> Any:
        assert _hs is not None
        db = _hs.Database()
        try:
            db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=flags)
            return db
        except Exception:  # noqa: S110 - find the culprits one by one below
            pass
        keep_e, keep_i, keep_f = [], [], []
        for e, i, f in zip(exprs, ids, flags, strict=True):
            for extra in (0, _hs.HS_FLAG_PREFILTER):
                try:
                    _hs.Database().compile(expressions=[e], ids=[i], elements=1, flags=[f | extra])
                except Exception:  # noqa: S112 - try the next mode
                    continue
                keep_e.append(e)
                keep_i.append(i)
                keep_f.append(f | extra)
                break
            else:
                self._always.add(i)
        db = _hs.Database()
        if keep_e:
            db.compile(expressions=keep_e, ids=keep_i, elements=len(keep_e), flags=keep_f)
            return db
        return None

    def candidates(self, data: bytes) -> set[int]:
        found = set(self._always)
        if self._db is None or not data:
            return found
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            assert _hs is not None
            scratch = self._local.scratch = _hs.Scratch(self._db)

        def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> None:
            found.add(pid)

        self._db.scan(data, match_event_handler=on_match, scratch=scratch)
        return found


class Re2SetPrefilter:
    engine = "re2-set"

    def __init__(self, patterns: Sequence[tuple[str, bool]]) -> None:
        self._always: set[int] = set()
        self._set: Any = re2.Set.SearchSet()
        self._ids: list[int] = []
        for i, (pat, caseless) in enumerate(patterns):
            src = ("(?i)" if caseless else "") + _plain(pat)
            try:
                self._set.Add(src.encode())
            except Exception:
                self._always.add(i)
                continue
            self._ids.append(i)
        self._set.Compile()

    def candidates(self, data: bytes) -> set[int]:
        found = set(self._always)
        if data:
            found.update(self._ids[j] for j in (self._set.Match(data) or ()))
        return found


def build_prefilter(patterns: Sequence[tuple[str, bool]], engine: str = "auto") -> Prefilter:
    """Compile ``(pattern, caseless)`` pairs; ``engine`` is ``auto``, ``hyperscan`` or ``re2``."""
    if engine in ("auto", "hyperscan") and _hs is not None:
        return HyperscanPrefilter(patterns)
    if engine == "hyperscan":
        raise RuntimeError("hyperscan is not installed")
    return Re2SetPrefilter(patterns)

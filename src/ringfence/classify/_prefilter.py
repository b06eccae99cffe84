"""Multi-pattern prefilter: one pass over a buffer tells which detectors match, and where.

Hyperscan is used when importable (x86-64), else a google-re2 ``Set``; both are linear-time
engines, so a hostile payload cannot make the prefilter backtrack. Hyperscan also reports the
leftmost start of every match (SOM), so confirmation only runs at those offsets instead of
re-scanning the whole text per detector; the RE2 set only says which ids occur. Patterns an
engine cannot compile are "always candidates" without positions rather than dropped, so a
prefilter limitation can cost speed but never recall. Never sees or keeps anything but bytes.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Collection, Sequence
from functools import partial
from types import ModuleType
from typing import Any, Protocol

import re2

from ringfence.classify._accel import NATIVE
from ringfence.classify._pii import CARD_PATTERN, EMAIL_PREFILTER, PHONE_PATTERN

_hs: Any
try:  # pragma: no cover - import availability depends on the platform
    import hyperscan as _hs
except ImportError:  # pragma: no cover
    _hs = None

RE2_SET_MEMORY = 64 << 20
_NO_SPAN = (-1, -1)  # the compiled RE2's span of a group that did not match

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


# A literal of this many characters lets Hyperscan skip most of a buffer; patterns without
# one (digit and letter classes, bounded repeats: national ids, cards, IBANs) make its
# combined automaton slow, ~10 ns per byte for ~30 of them.
_LITERAL_LEN = 3
_SINGLE_SCANS = 5  # more occurring gated patterns than this: scan one database of all
_ANCHOR_CHECKS = 64  # more anchor bytes than this in a buffer: scan the pattern's database
_NATIVE_CHECKS = sys.maxsize  # ... unless checked natively (see candidates)
_CLASS_OR_ESCAPE = re.compile(r"\\.|\[(?:\\.|[^\]])*\]|\{[^}]*\}|[()?:|*+.^$]")
_NEGATED_CLASS = re.compile(r"\[\^(?:\\.|[^\]])*\]")
# Constructs whose RE2 (Latin-1) meaning is not a superset of Hyperscan's: \s without \v,
# anchors before a final newline, Unicode escapes.
_NOT_GATEABLE = re.compile(r"\\s|(?<!\\)[$^]|\\[AZzpPx]|\(\?[A-Za-z]")


def _gateable(pattern: str) -> bool:
    """Would this pattern cost Hyperscan much, and can an RE2 set tell when it occurs?

    True for ASCII patterns without a literal of ``_LITERAL_LEN`` characters whose RE2 Latin-1
    reading matches at least wherever Hyperscan's does (so "RE2 finds none" means "Hyperscan
    would report none")."""
    pattern = _plain(pattern)
    if not pattern.isascii():
        return False
    if _NOT_GATEABLE.search(_NEGATED_CLASS.sub("", pattern)):
        return False
    pieces = _CLASS_OR_ESCAPE.sub("\x00", pattern).split("\x00")
    return max(map(len, pieces), default=0) < _LITERAL_LEN


# A pattern whose every match holds one fixed punctuation byte at a fixed offset from its
# start: a literal first (``\+\d...``), or one character class then the literal
# (``[A-Za-z0-9._%+\-]@...``), neither optional nor repeated, and no top-level alternation.
_ANCHOR_HEAD = re.compile(
    r"(?P<cls>\[(?:\\.|[^\]\\])+\](?![*+?{]))?"
    r"(?:\\(?P<esc>[!-/:-@\[-`{-~])|(?P<lit>[!-#%&',\-/:-@\]_`~]))(?![*+?{])"
)


def _anchor(pattern: str) -> tuple[int, int] | None:
    """(byte, offset) when every match of ``pattern`` has that ASCII punctuation byte at that
    offset from its start (see _ANCHOR_HEAD); else None. Such a pattern needs no automaton
    to find its starts: the byte's occurrences, each checked with a match, give them all."""
    pattern = _plain(pattern)
    m = _ANCHOR_HEAD.match(pattern)
    if m is None or not pattern.isascii():
        return None
    depth, i, cls = 0, 0, False
    while i < len(pattern):  # no "|" outside a group (it would offer a start without the byte)
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if cls:
            cls = ch != "]"
        elif ch == "[":
            cls = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1  # "[]...]": the "]" is a member
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return None
        i += 1
    lit = m.group("esc") or m.group("lit")
    return ord(lit), 1 if m.group("cls") else 0


# Escapes whose RE2 (UTF-8, one character) and Hyperscan (bytes, no UTF-8 mode) readings
# agree: ASCII classes, word boundaries, control characters. Any other letter escape (\p \P
# \x \C \D \W \S \Q \X ...) may read a non-ASCII character differently.
_SAFE_ESCAPES = frozenset("dswbBtnrfva")
_ASCII_HEX = re.compile(r"[0-7][0-9a-fA-F]")


def byte_safe(pattern: str) -> bool:
    """Does Hyperscan reading a body's UTF-8 bytes find every match start that RE2 finds in
    its text? True for ASCII patterns without ``.``, negated classes (``[^...]``,
    ``[[:^x:]]``) and escapes outside _SAFE_ESCAPES: those read one byte where RE2 reads one
    character (``Z.Z`` misses "ZéZ"; ``\\pL`` is not Unicode there). Conservative: a pattern
    this refuses is only slower (confirmed by RE2 over the whole text), never missed."""
    if not pattern.isascii():
        return False
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt == "x" and _ASCII_HEX.fullmatch(pattern, i + 2, i + 4):
                i += 4  # \x00-\x7f: one ASCII byte (context words are written so)
                continue
            if nxt.isalnum() and nxt not in _SAFE_ESCAPES:
                return False
            i += 2
            continue
        if ch in ".^":
            return False
        i += 1
    return True


def _set_add(rset: Any, pattern: str, caseless: bool) -> bool:
    try:
        rset.Add((("(?i)" if caseless else "") + _plain(pattern)).encode())
    except Exception:
        return False
    return True


class HyperscanPrefilter:
    """Positions from Hyperscan, in two tiers.

    Patterns with a literal share one database: Hyperscan's literal matcher makes it cheap.
    Patterns without one (see :func:`_gateable`) each get their own database, scanned only when
    an RE2 set (a lazily built DFA, ~3 ns per byte for all of them) says the pattern occurs in
    the buffer: a typical body holds two or three of them, and scanning 30 such patterns in
    one database costs several times that. The offsets are the same either way (start of
    match is a per-pattern property), which tests/classify/test_prefilter.py checks against a
    single database of every pattern.
    """

    engine = "hyperscan"

    def __init__(
        self,
        patterns: Sequence[Pattern],
        *,
        tiers: bool = True,
        native: ModuleType | None = NATIVE,
        trusted: Collection[int] = (),
        unicode: Collection[int] = (),
    ) -> None:
        """``trusted``: the ids whose patterns may be run by Python's ``re`` (the built-in
        detectors'); only those can take the anchored tier. Custom patterns are RE2 syntax
        and untrusted: a backtracking engine could read them differently, refuse them, or
        spend exponential time on a crafted body. ``unicode``: the ids whose patterns are
        confirmed by RE2 over text (custom detectors and their context words): one that is
        not :func:`byte_safe` gets no prefilter (always a candidate)."""
        assert _hs is not None
        # the match handler: the native one adds an offset without a Python frame per match
        self._collect: Any = native.hs_collect if native is not None else None
        # the anchored tier's loop (see _anchor), natively: no Python frame per occurrence
        self._anchor_starts: Any = native.anchor_starts if native is not None else None
        main: list[tuple[bytes, int, int]] = []
        gated: list[tuple[bytes, int, int]] = []
        opts = re2.Options()
        opts.max_mem = RE2_SET_MEMORY
        opts.encoding = re2.Options.Encoding.LATIN1  # bytes, as Hyperscan sees them
        gate: Any = re2.Set.SearchSet(opts)
        # (id, byte, offset, match): patterns found from their anchor byte (see _anchor)
        anchors: list[tuple[int, bytes, int, Any]] = []
        self._native_check: set[int] = set()  # anchored ids anchor_starts checks without re
        always: set[int] = set()
        for i, (pat, caseless, positions) in enumerate(patterns):
            if i in unicode and not byte_safe(pat):
                # a custom pattern Hyperscan may read differently from RE2: no prefilter, the
                # detector runs RE2 over the whole text (the engines cannot disagree)
                always.add(i)
                continue
            case = _hs.HS_FLAG_CASELESS if caseless else 0
            # presence only: one report, no start-of-match bookkeeping
            mode = _hs.HS_FLAG_SOM_LEFTMOST if positions else _hs.HS_FLAG_SINGLEMATCH
            expr = (_plain(pat).encode(), i, mode | case)
            anchor = (
                _anchor(pat) if tiers and positions and i in trusted and _gateable(pat) else None
            )
            if anchor is not None:
                # Its own tier: the starts are the anchor byte's occurrences (less its offset)
                # where the pattern matches -- Python's re on bytes reads these ASCII patterns
                # as Hyperscan does (\d, \w, \b ASCII; no \s: not gateable). A scan of its
                # own costs ~2 ns per byte; an "@" or "+" occurs a few times per body.
                flags = re.ASCII | (re.IGNORECASE if caseless else 0)
                rx = re.compile(_plain(pat).encode(), flags)
                anchors.append((i, bytes([anchor[0]]), anchor[1], rx.match))
                if _plain(pat) in (EMAIL_PREFILTER, PHONE_PATTERN) and not caseless:
                    # the native loop checks these itself (the same answers as rx.match)
                    self._native_check.add(i)
                gated.append(expr)  # for the database of everything (and its own, below)
                continue
            # a pattern RE2 cannot read stays in the shared tier
            if tiers and _gateable(pat) and _set_add(gate, pat, caseless):
                gated.append(expr)
            else:
                main.append(expr)
        nopos: set[int] = set()
        self._db: Any = self._build_tolerant(main, always, nopos)
        # gated[j] is the RE2 set's j-th pattern: its own database (None: always a candidate)
        own = {e[1]: self._build_tolerant([e], always, nopos) for e in gated}
        anchored = {a[0] for a in anchors}
        self._gated: list[tuple[int, Any]] = [
            (e[1], own[e[1]]) for e in gated if e[1] not in anchored
        ]
        # The built-in card pattern (digit classes, no literal: ~35 instructions a byte for
        # Hyperscan) has its starts found natively, exactly what its database reports
        # (tests/classify/test_native_card.py): RE2-set index -> its id.
        card = native.card_starts if native is not None else None
        self._card_starts: Any = card
        self._native_gated: dict[int, int] = {
            j: i
            for j, (i, _db) in enumerate(self._gated)
            if card is not None
            and i in trusted
            and patterns[i][2]
            and not patterns[i][1]
            and _plain(patterns[i][0]) == CARD_PATTERN
        }
        # An anchored pattern keeps its own database too: a body with more than
        # _ANCHOR_CHECKS of its byte is scanned (linear) instead of checked per occurrence
        # (a megabyte of "+" would otherwise cost a million re.match calls).
        self._anchored: list[tuple[int, bytes, int, Any, Any]] = [
            (i, byte, back, match, own[i]) for i, byte, back, match in anchors
        ]
        # Past a few occurring patterns one database of every pattern (the single tier of
        # old) is cheaper than one scan each; same offsets (refusals count for both).
        self._whole: Any = (
            self._build_tolerant(sorted(main + gated, key=lambda e: e[1]), always, nopos)
            if gated
            else None
        )
        self._gate: Any = None
        if len(gated) > len(self._anchored):
            gate.Compile()
            self._gate = gate
        self._always = frozenset(always)
        self.no_positions = frozenset(always | nopos)
        self._local = threading.local()

    @classmethod
    def _build_tolerant(
        cls, exprs: list[tuple[bytes, int, int]], always: set[int], nopos: set[int]
    ) -> Any:
        """A database of ``exprs``; patterns Hyperscan refuses are tried without SOM, then as
        a prefilter (both: no positions), else they are always candidates."""
        if not exprs:
            return None
        try:
            return cls._build(*map(list, zip(*exprs, strict=True)))
        except Exception:  # noqa: S110 - find the culprits one by one below
            pass
        assert _hs is not None
        keep: list[tuple[bytes, int, int]] = []
        for e, i, f in exprs:
            base = f & ~(_hs.HS_FLAG_SOM_LEFTMOST | _hs.HS_FLAG_SINGLEMATCH)
            for mode in (f, base | _hs.HS_FLAG_SINGLEMATCH, base | _hs.HS_FLAG_PREFILTER):
                try:
                    cls._build([e], [i], [mode])
                except Exception:  # noqa: S112 - try the next mode
                    continue
                keep.append((e, i, mode))
                if mode != f:
                    nopos.add(i)
                break
            else:
                always.add(i)
        return cls._build(*map(list, zip(*keep, strict=True))) if keep else None

    @staticmethod
    def _build(exprs: list[bytes], ids: list[int], flags: list[int]) -> Any:
        assert _hs is not None
        db = _hs.Database()
        db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=flags)
        return db

    def _scratch(self, db: Any) -> Any:
        cache = getattr(self._local, "scratch", None)
        if cache is None:
            cache = self._local.scratch = {}
        scratch = cache.get(id(db))
        if scratch is None:
            assert _hs is not None
            scratch = cache[id(db)] = _hs.Scratch(db)
        return scratch

    def candidates(self, data: bytes) -> Candidates:
        # (the scans' arguments by position: data, match_event_handler, flags, context,
        # scratch -- the binding's keyword matching cost ≈ 4k instructions a page)
        found: Candidates = {i: set() for i in self._always}
        if not data:
            return found
        on_match = self._collect
        if on_match is None:
            setdefault = found.setdefault

            def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> None:
                setdefault(pid, set()).add(start)

        occurring = self._gate.Match(data) or () if self._gate is not None else ()
        if len(occurring) > _SINGLE_SCANS and self._whole is not None:
            db = self._whole
            db.scan(data, on_match, 0, found, self._scratch(db))
            return found
        if self._db is not None:
            self._db.scan(data, on_match, 0, found, self._scratch(self._db))
        if occurring:
            for j in occurring:
                card = self._native_gated.get(j)
                if card is not None:
                    self._card_starts(data, found, card)
                    continue
                db = self._gated[j][1]
                if db is not None:
                    db.scan(data, on_match, 0, found, self._scratch(db))
        anchor_starts = self._anchor_starts
        for i, byte, back, match, own in self._anchored:
            if anchor_starts is not None:
                if i in self._native_check:
                    # Checked natively at every occurrence, however many: a check reads only
                    # the bytes up to the next anchor byte (no match holds a second one), so
                    # the loop stays linear, and it finds every start the database would
                    # (each match starts at its own anchor byte, so each is the leftmost start
                    # of its ends). A megabyte of e-mail addresses then needs no scan.
                    done = anchor_starts(data, byte[0], back, None, found, i, _NATIVE_CHECKS)
                else:
                    done = anchor_starts(data, byte[0], back, match, found, i, _ANCHOR_CHECKS)
            else:
                done, seen, at = True, 0, data.find(byte, back)
                while at >= 0:
                    seen += 1
                    if seen > _ANCHOR_CHECKS:
                        done = False
                        break
                    if match(data, at - back) is not None:
                        found.setdefault(i, set()).add(at - back)
                    at = data.find(byte, at + 1)
            if not done and own is not None:  # (None: refused by Hyperscan, always a candidate)
                # Too many to check one by one: the scan (what the checks added is a subset).
                own.scan(data, on_match, 0, found, self._scratch(own))
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
        # (the scans' arguments by position: data, match_event_handler, flags, context,
        # scratch -- the binding's keyword matching cost ≈ 4k instructions a page)
        found: Candidates = {i: set() for i in self._always}
        if data:
            for j in self._set.Match(data) or ():
                found[self._ids[j]] = set()
        return found


class Re2Gate:
    """Could any of the patterns match? One RE2 regex, the alternation of them all.

    A presence question needs no set: an RE2 search for the alternation stops at the first
    match (a page with personal data is answered within its first records), where a set
    reads the whole buffer to report every id (about ten times the cost on a typical page,
    the same on a clean one). A pattern RE2 refuses makes every buffer a candidate, as in
    :class:`Re2SetPrefilter`, whose answers (empty or not) this gives for every buffer
    (tests/classify/test_prefilter.py).

    Why not Hyperscan: a block-mode database of the same patterns (single match, the scan
    stopped at the first report) costs ≈ 950 k instructions on a clean 4 KiB body, where
    this search costs ≈ 80 k (≈ 17 a byte in RE2's DFA): the literal-free patterns (digit and
    letter classes, bounded repeats) are slow there, and even the patterns with a literal
    alone cost Hyperscan more than RE2 takes for all of them (session 8, callgrind and wall
    clock; /work/notes/bench-dlp.md).
    """

    engine = "re2"
    no_positions: frozenset[int] = frozenset()

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        opts = re2.Options()
        opts.max_mem = RE2_SET_MEMORY
        opts.never_capture = True  # presence only
        alts: list[str] = []
        self._always = False
        for pat, caseless, _positions in patterns:
            src = ("(?i:" if caseless else "(?:") + _plain(pat) + ")"
            try:
                re2.compile(src, opts)
            except Exception:
                self._always = True
                continue
            alts.append(src)
        self._regex: Any = re2.compile("|".join(alts), opts) if alts else None
        # A search builds RE2's reverse program (to find where the match starts) on first
        # use: ≈ 15 ms for this alternation, paid by the first body with a match. Build it
        # now (the wrapper's compiled RE2 object; skipped if a release renames it).
        compiled = getattr(self._regex, "_regexp", None)
        reverse = getattr(compiled, "ReverseProgramSize", None)
        if reverse is not None:
            reverse()
        # The search, without the wrapper's generator and match object (≈ 4 k instructions
        # of a clean body's ≈ 90 k): the compiled RE2's Match over the whole buffer, the call
        # the wrapper's search makes for bytes. None: the wrapper's search (a release that
        # renames these).
        unanchored = getattr(getattr(compiled, "Anchor", None), "UNANCHORED", None)
        match = getattr(compiled, "Match", None)
        self._match: Any = (
            partial(match, unanchored) if unanchored is not None and callable(match) else None
        )

    def occurs(self, data: bytes) -> bool:
        """Does any pattern match somewhere in ``data``?"""
        if self._always:
            return True
        if not data or self._regex is None:
            return False
        if self._match is not None and type(data) is bytes:
            span: tuple[int, int] = self._match(data, 0, len(data))[0]
            return span != _NO_SPAN
        return self._regex.search(data) is not None

    def candidates(self, data: bytes) -> Candidates:
        """Presence only, for callers written for a set: ``{-1: set()}`` when anything may
        match, else empty (the ids are not known)."""
        return {-1: set()} if self.occurs(data) else {}


def build_prefilter(
    patterns: Sequence[Pattern],
    engine: str = "auto",
    trusted: Collection[int] = (),
    unicode: Collection[int] = (),
) -> Prefilter:
    """Compile ``(pattern, caseless, want_positions)``; engine ``auto``, ``hyperscan``, ``re2``.
    ``trusted``: ids of built-in patterns (Python ``re`` may run them); ``unicode``: ids of
    custom ones (RE2 reads them over text); see HyperscanPrefilter. The RE2 set reads UTF-8
    as RE2 does: it needs neither."""
    if engine in ("auto", "hyperscan") and _hs is not None:
        return HyperscanPrefilter(patterns, trusted=frozenset(trusted), unicode=frozenset(unicode))
    if engine == "hyperscan":
        raise RuntimeError("hyperscan is not installed")
    return Re2SetPrefilter(patterns)

"""Deterministic automata over the digits 0-9 for ``phonenumbers``' numbering-plan patterns.

The phone fast path (``_phone.py``) asks Python's ``re`` whether a national number fully
matches a description's pattern, whether leading digits or a national prefix match at its
start. Those patterns use a small regular subset — digits, ``\\d``, classes of digits and
ranges, groups, alternation, ``?``, ``{n}``, ``{n,m}`` and ``$`` — and the input is only
ASCII digits, so each is a deterministic automaton over ten symbols: the native twin of the
phone validator walks a table (a few instructions per digit) instead of calling ``re``.

``compile_dfa`` builds the table (Thompson construction, then the subset construction) and
raises ``Unsupported`` for anything outside that subset or too large; the caller then keeps
``re``. Whether a string fully matches, or some prefix of it matches (``re.match``), does not
depend on how a backtracking engine orders its choices (lazy or greedy), only on the language,
so the table answers exactly what ``re`` answers on digit strings; ``tests/classify/
test_phone_native.py`` holds every pattern of the metadata to ``re`` on generated input.

Building is Python and slow (≈ 0.5 ms a pattern, ≈ 44 ms for the +1 regions' leading digits),
so the tables of every pattern of the installed metadata ship with the package
(``_phone_tables.json``, written by ``write_shipped()``), keyed by the exact pattern text:
``table_or_none`` takes the shipped table for a pattern it holds and compiles any other
(another ``phonenumbers`` release's new patterns) as before — an upgrade can cost speed, never
an answer. ``tests/classify/test_phone_tables.py`` holds every shipped table to the compiler.

Only metadata is compiled here, never a value.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import zlib
from typing import Any

DIGITS = 0x3FF  # \d over the digits (input is ASCII digits only)
MAX_STATES = 4096
FINAL = 1  # a match ends here, whatever follows (re.match) / here (fullmatch)
FINAL_AT_END = 2  # a match ends here only if the input ends here (through a ``$``)
DEAD = 0xFFFF


class Unsupported(ValueError):
    """The pattern uses syntax outside the subset, or its automaton is too large."""


# ---- parsing: pattern -> tree -------------------------------------------------------------
# ("set", mask) | ("cat", [node]) | ("alt", [node]) | ("rep", node, lo, hi|None) | ("end",)
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0

    def parse(self) -> Node:
        node = self._alt()
        if self.i != len(self.p):
            raise Unsupported(f"unexpected {self.p[self.i]!r} at {self.i}")
        return node

    def _peek(self) -> str:
        return self.p[self.i] if self.i < len(self.p) else ""

    def _alt(self) -> Node:
        branches = [self._cat()]
        while self._peek() == "|":
            self.i += 1
            branches.append(self._cat())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def _cat(self) -> Node:
        items: list[Node] = []
        while self._peek() not in ("", "|", ")"):
            items.append(self._quantified(self._atom()))
        return ("cat", items)

    def _atom(self) -> Node:
        c = self._peek()
        self.i += 1
        if "0" <= c <= "9":
            return ("set", 1 << (ord(c) - 48))
        if c == "\\":
            e = self._peek()
            self.i += 1
            if e == "d":
                return ("set", DIGITS)
            raise Unsupported(f"escape \\{e}")
        if c == "[":
            return self._class()
        if c == "(":
            if self.p.startswith("?:", self.i):
                self.i += 2
            elif self._peek() == "?":
                raise Unsupported("group extension")
            node = self._alt()
            if self._peek() != ")":
                raise Unsupported("unbalanced group")
            self.i += 1
            return node
        if c == "$":
            return ("end",)
        raise Unsupported(f"{c!r}")

    def _class(self) -> Node:
        mask = 0
        if self._peek() in ("^", "]"):
            raise Unsupported("negated or empty class")
        while True:
            c = self._peek()
            self.i += 1
            if c == "]":
                return ("set", mask)
            if c == "\\":
                e = self._peek()
                self.i += 1
                if e != "d":
                    raise Unsupported(f"class escape \\{e}")
                mask |= DIGITS
                continue
            if not "0" <= c <= "9":
                raise Unsupported(f"class member {c!r}")
            if self._peek() == "-" and self.p[self.i + 1 : self.i + 2] not in ("", "]"):
                hi = self.p[self.i + 1]
                if not "0" <= hi <= "9" or hi < c:
                    raise Unsupported("class range")
                self.i += 2
                for d in range(ord(c) - 48, ord(hi) - 47):
                    mask |= 1 << d
            else:
                mask |= 1 << (ord(c) - 48)

    def _quantified(self, node: Node) -> Node:
        c = self._peek()
        if c == "?":
            lo, hi = 0, 1
            self.i += 1
        elif c == "*":
            lo, hi = 0, None
            self.i += 1
        elif c == "+":
            lo, hi = 1, None
            self.i += 1
        elif c == "{":
            close = self.p.find("}", self.i)
            body = self.p[self.i + 1 : close] if close > 0 else ""
            lo_s, comma, hi_s = body.partition(",")
            if not lo_s.isdigit() or (comma and hi_s and not hi_s.isdigit()):
                raise Unsupported(f"quantifier {{{body}}}")
            lo = int(lo_s)
            hi = int(hi_s) if hi_s else (None if comma else lo)
            if (hi is not None and hi < lo) or lo > 64 or (hi or 0) > 64:
                raise Unsupported(f"quantifier {{{body}}}")
            self.i = close + 1
        else:
            return node
        if node[0] == "end":
            raise Unsupported("quantified $")
        nxt = self._peek()
        if nxt == "?":
            self.i += 1  # lazy: the same language
        elif nxt in ("+", "*", "{"):
            raise Unsupported("possessive or repeated quantifier")
        return ("rep", node, lo, hi)


# ---- Thompson construction: tree -> NFA ---------------------------------------------------


class _Nfa:
    def __init__(self) -> None:
        self.eps: list[list[int]] = []  # epsilon edges
        self.end: list[list[int]] = []  # edges taken only at the end of the input ($)
        self.sym: list[list[tuple[int, int]]] = []  # (digit mask, target)

    def node(self) -> int:
        self.eps.append([])
        self.end.append([])
        self.sym.append([])
        return len(self.eps) - 1

    def build(self, t: Node, a: int) -> int:
        """Wire ``t`` from node ``a``; return its exit node."""
        kind = t[0]
        if kind == "set":
            b = self.node()
            if t[1]:
                self.sym[a].append((t[1], b))
            return b
        if kind == "end":
            b = self.node()
            self.end[a].append(b)
            return b
        if kind == "cat":
            for item in t[1]:
                a = self.build(item, a)
            return a
        if kind == "alt":
            b = self.node()
            for branch in t[1]:
                s = self.node()
                self.eps[a].append(s)
                self.eps[self.build(branch, s)].append(b)
            return b
        _, inner, lo, hi = t
        for _ in range(lo):
            a = self.build(inner, a)
        if hi is None:  # a loop: inner any number of times
            s = self.node()
            self.eps[a].append(s)
            self.eps[self.build(inner, s)].append(s)
            return s
        b = self.node()
        self.eps[a].append(b)
        for _ in range(hi - lo):
            a = self.build(inner, a)
            self.eps[a].append(b)
        return b

    def closure(self, nodes: set[int], with_end: bool) -> frozenset[int]:
        seen = set(nodes)
        todo = list(nodes)
        while todo:
            n = todo.pop()
            nexts = self.eps[n] + self.end[n] if with_end else self.eps[n]
            for m in nexts:
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        return frozenset(seen)


def compile_dfa(pattern: str) -> bytes:
    """The automaton of ``pattern`` as bytes: ``<H`` state count, one flag byte per state,
    then ``<H`` next states (ten per state, ``DEAD`` for none); state 0 is the start."""
    tree = _Parser(pattern).parse()
    nfa = _Nfa()
    start = nfa.node()
    final = nfa.build(tree, start)
    first = nfa.closure({start}, False)
    index: dict[frozenset[int], int] = {first: 0}
    order = [first]
    flags: list[int] = []
    trans: list[int] = []
    k = 0
    while k < len(order):
        state = order[k]
        k += 1
        flag = FINAL if final in state else 0
        if final in nfa.closure(set(state), True):
            flag |= FINAL_AT_END
        flags.append(flag)
        for d in range(10):
            bit = 1 << d
            moved = {b for n in state for m, b in nfa.sym[n] if m & bit}
            if not moved:
                trans.append(DEAD)
                continue
            nxt = nfa.closure(moved, False)
            got = index.get(nxt)
            if got is None:
                if len(order) >= MAX_STATES:
                    raise Unsupported("too many states")
                got = index[nxt] = len(order)
                order.append(nxt)
            trans.append(got)
    n = len(order)
    return struct.pack(f"<H{n}B{n * 10}H", n, *flags, *trans)


def table_or_none(pattern: str) -> bytes | None:
    """``compile_dfa(pattern)`` — the shipped table when there is one for this exact pattern
    text — or None when it is unsupported (the native twin then asks the Python validator,
    which uses ``re``)."""
    shipped = _SHIPPED if _SHIPPED is not None else _load_shipped()
    table = shipped.get(pattern)
    if table is not None:
        return table
    try:
        return compile_dfa(pattern)
    except (Unsupported, RecursionError):
        return None


# ---- shipped tables: every metadata pattern compiled ahead --------------------------------
SHIPPED_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_phone_tables.json")
_SHIPPED: dict[str, bytes] | None = None
_METADATA_KINDS = (
    "general_desc", "mobile", "fixed_line", "premium_rate", "toll_free", "shared_cost", "voip",
    "personal_number", "pager", "uan", "voicemail",
)  # fmt: skip


def pack_tables(tables: dict[str, bytes]) -> bytes:
    """``<H`` pattern length, pattern (UTF-8), ``<I`` table length, table; per pattern."""
    out = bytearray()
    for pattern in sorted(tables):
        p = pattern.encode()
        out += struct.pack("<H", len(p)) + p + struct.pack("<I", len(tables[pattern]))
        out += tables[pattern]
    return bytes(out)


def unpack_tables(blob: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    i = 0
    while i < len(blob):
        (plen,) = struct.unpack_from("<H", blob, i)
        pattern = blob[i + 2 : i + 2 + plen].decode()
        i += 2 + plen
        (tlen,) = struct.unpack_from("<I", blob, i)
        out[pattern] = blob[i + 4 : i + 4 + tlen]
        i += 4 + tlen
    return out


def _load_shipped() -> dict[str, bytes]:
    """The shipped tables (empty when the file is missing or unreadable: then every table is
    compiled on first use). Loaded once; only metadata, never a value."""
    global _SHIPPED
    try:
        with open(SHIPPED_PATH, encoding="ascii") as f:
            doc = json.load(f)
        tables = unpack_tables(zlib.decompress(base64.b64decode(doc["tables"])))
    except (OSError, ValueError, KeyError, TypeError, struct.error, zlib.error):
        tables = {}
    _SHIPPED = tables
    return tables


def preload() -> None:
    """Load the shipped tables now (≈ 10 ms; the classifier does it when it is built, so a
    worker's first phone number does not)."""
    if _SHIPPED is None:
        _load_shipped()


def metadata_patterns() -> tuple[set[str], set[str]]:
    """(full-match patterns, start-match patterns) of every region's metadata."""
    from phonenumbers import (
        COUNTRY_CODE_TO_REGION_CODE,
        REGION_CODE_FOR_NON_GEO_ENTITY,
        PhoneMetadata,
    )

    full: set[str] = set()
    start: set[str] = set()
    for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            if region == REGION_CODE_FOR_NON_GEO_ENTITY:
                md = PhoneMetadata.metadata_for_nongeo_region(cc, None)
            else:
                md = PhoneMetadata.metadata_for_region(region, None)
            if md is None:
                continue
            for kind in _METADATA_KINDS:
                desc = getattr(md, kind)
                if desc is not None and desc.national_number_pattern:
                    full.add(desc.national_number_pattern)
            if md.leading_digits is not None:
                start.add(md.leading_digits)
            if md.national_prefix_for_parsing:
                start.add(md.national_prefix_for_parsing)
    return full, start


def shipped_document() -> str:
    """The text of ``_phone_tables.json`` for the installed ``phonenumbers`` metadata."""
    import phonenumbers

    full, start = metadata_patterns()
    tables = {}
    for pattern in sorted(full | start):
        try:
            tables[pattern] = compile_dfa(pattern)
        except (Unsupported, RecursionError):
            continue
    blob = base64.b64encode(zlib.compress(pack_tables(tables), 9)).decode()
    doc = {"phonenumbers": phonenumbers.__version__, "patterns": len(tables), "tables": blob}
    return json.dumps(doc, indent=0) + "\n"


def write_shipped() -> None:
    """Rewrite ``_phone_tables.json`` for the installed ``phonenumbers`` (after an upgrade)."""
    with open(SHIPPED_PATH, "w", encoding="ascii") as f:
        f.write(shipped_document())


def fullmatch(table: bytes, s: str) -> bool:
    """``re.fullmatch`` of the table's pattern on the digit string ``s`` (the C walk's model)."""
    n = struct.unpack_from("<H", table)[0]
    st = 0
    for c in s:
        st = struct.unpack_from("<H", table, 2 + n + 2 * (st * 10 + ord(c) - 48))[0]
        if st == DEAD:
            return False
    return bool(table[2 + st] & (FINAL | FINAL_AT_END))


def prefix_match(table: bytes, s: str) -> bool:
    """``re.match`` (some prefix matches) of the table's pattern on the digit string ``s``."""
    n = struct.unpack_from("<H", table)[0]
    st = 0
    for c in s:
        if table[2 + st] & FINAL:
            return True
        st = struct.unpack_from("<H", table, 2 + n + 2 * (st * 10 + ord(c) - 48))[0]
        if st == DEAD:
            return False
    return bool(table[2 + st] & (FINAL | FINAL_AT_END))

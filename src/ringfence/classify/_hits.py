"""Hits (detector, field, span, confidence) and the span arithmetic around them.

Offsets mapping between the UTF-8 bytes Hyperscan scans and the characters Python matches,
the "already confirmed inside a better span" check, and overlap resolution. A ``Hit`` holds
offsets only, never the matched text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from ringfence.classify._model import Detector


@dataclass(slots=True)
class Hit:
    leaf: int
    start: int
    end: int
    confidence: float
    det: Detector


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def literal(word: str) -> str:
    """A context word as a pattern both Hyperscan and RE2 accept (non-ASCII kept literal)."""
    return "".join(ch if ch.isalnum() or not ch.isascii() else f"\\x{ord(ch):02x}" for ch in word)


def byte_to_char(text: str) -> Callable[[int], int]:
    """Map UTF-8 byte offsets of ``text`` to character offsets (bisect over non-ASCII chars).

    Hyperscan scans bytes, so a match may start inside a multi-byte character: such an offset
    maps to the character holding that byte (monotonic, never below 0 for offsets >= 0).
    """
    byte_at: list[int] = []  # byte offset of each non-ASCII character
    char_at: list[int] = []  # its character offset
    end_at: list[int] = []  # byte offset just after it
    extra = 0
    for m in _NON_ASCII.finditer(text):
        width = len(m.group().encode("utf-8", "surrogatepass"))
        byte_at.append(m.start() + extra)
        char_at.append(m.start())
        end_at.append(m.start() + extra + width)
        extra += width - 1

    def to_char(offset: int) -> int:
        k = bisect_right(byte_at, offset) - 1
        if k < 0:
            return offset
        if offset < end_at[k]:
            return char_at[k]  # at or inside that character
        return char_at[k] + 1 + (offset - end_at[k])

    return to_char


Spans = tuple[list[int], list[tuple[int, float]]]  # sorted starts; (end, confidence) each


def take(taken: dict[int, Spans], leaf: int, start: int, end: int, conf: float) -> None:
    starts, rest = taken.setdefault(leaf, ([], []))
    i = bisect_right(starts, start)
    starts.insert(i, start)
    rest.insert(i, (end, conf))


def inside_taken(spans: Spans | None, start: int, end: int, conf: float) -> bool:
    """Is [start, end) inside a confirmed span at least as confident? (looks 4 spans back)"""
    if not spans:
        return False
    starts, rest = spans
    i = bisect_right(starts, start)
    for j in range(i - 1, max(-1, i - 5), -1):
        e, k = rest[j]
        if end <= e and conf <= k:
            return True
    return False


def _rank(h: Hit) -> float:
    # A confident specific type beats a generic "secret-looking" rule on the same span.
    return h.confidence - (0.5 if h.det.id.startswith("generic_") else 0.0)


def resolve_overlaps(hits: list[Hit]) -> list[Hit]:
    """Keep the best hit of each cluster of overlapping spans in the same leaf."""
    if len(hits) < 2:
        return hits
    hits.sort(key=lambda h: (h.leaf, h.start, -_rank(h)))
    kept: list[Hit] = []
    for h in hits:
        if kept and kept[-1].leaf == h.leaf and h.start < kept[-1].end:
            if _rank(h) > _rank(kept[-1]):
                kept[-1] = h
            continue
        kept.append(h)
    return kept

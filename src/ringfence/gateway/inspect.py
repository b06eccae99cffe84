"""The DLP stage's interface: an ``Inspector`` finds data types in text; the gateway decides.

The gateway talks to classification through this small protocol so the hot path stays the
same whichever engine is plugged in: ``BuiltinInspector`` (email, payment card with Luhn, AWS
access key id — enough to enforce clearance on its own) or the classification engine's adapter
(``ClassifyInspector``) when ``ringfence.classify`` is available. A ``Hit`` carries the data
type and its span; callers must never log or put the matched value into an event or an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ringfence.core.levels import DataClass


@dataclass(frozen=True, slots=True)
class Hit:
    type_id: str
    data_class: DataClass
    start: int
    end: int


class Inspector(Protocol):
    """Finds sensitive data types in a text; must be safe to call from many tasks."""

    def scan(self, text: str) -> list[Hit]: ...


def luhn_ok(digits: str) -> bool:
    nums = [int(c) for c in digits if c.isdigit()]
    if not 13 <= len(nums) <= 19:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


_BUILTIN = re.compile(
    r"(?P<email>\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b)"
    r"|(?P<aws_access_key>\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b)"
    r"|(?P<payment_card>(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-]))"
)
_CLASSES = {
    "email": DataClass.CONFIDENTIAL,
    "aws_access_key": DataClass.RESTRICTED,
    "payment_card": DataClass.RESTRICTED,
}
_VALIDATORS: dict[str, Callable[[str], bool]] = {"payment_card": luhn_ok}


class BuiltinInspector:
    """Email, payment card (Luhn-validated) and AWS access key id detectors."""

    def scan(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        for m in _BUILTIN.finditer(text):
            kind = m.lastgroup or ""
            check = _VALIDATORS.get(kind)
            if check is not None and not check(m.group()):
                continue
            hits.append(Hit(kind, _CLASSES[kind], m.start(), m.end()))
        return hits


class ClassifyInspector:
    """Adapter over ``ringfence.classify``'s scanner (any object with ``scan_text``)."""

    def __init__(self, engine: Any, min_confidence: float = 0.5) -> None:
        self._engine = engine
        self._min = min_confidence

    def scan(self, text: str) -> list[Hit]:
        out: list[Hit] = []
        for f in self._engine.scan_text(text):
            if getattr(f, "confidence", 1.0) < self._min:
                continue
            start, end = _span(f)
            out.append(Hit(str(f.type_id), DataClass.parse(f.data_class), start, end))
        return out


def _span(finding: Any) -> tuple[int, int]:
    span = getattr(finding, "span", None)
    if span is not None:
        return int(span[0]), int(span[1])
    return int(getattr(finding, "start", 0)), int(getattr(finding, "end", 0))


def default_inspector() -> Inspector:
    """The classification engine when it offers a text scanner, else the builtin detectors."""
    try:
        from ringfence import classify
    except Exception:  # not installed yet / broken: the builtin set still enforces clearance
        return BuiltinInspector()
    factory = getattr(classify, "default_engine", None)
    if callable(factory):
        engine = factory()
        if hasattr(engine, "scan_text"):
            return ClassifyInspector(engine)
    return BuiltinInspector()


def redact_text(text: str, hits: list[Hit]) -> str:
    """Replace each hit with ``[REDACTED:<type>]`` (hits from one ``scan`` of ``text``)."""
    if not hits:
        return text
    parts: list[str] = []
    pos = 0
    for h in sorted(hits, key=lambda h: h.start):
        if h.start < pos:
            continue
        parts.append(text[pos : h.start])
        parts.append(f"[REDACTED:{h.type_id}]")
        pos = h.end
    parts.append(text[pos:])
    return "".join(parts)


def redact_json(value: Any, inspector: Inspector) -> tuple[Any, dict[str, int]]:
    """Redact every string (and card-like integer) inside a parsed JSON value."""
    counts: dict[str, int] = {}

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            hits = inspector.scan(v)
            for h in hits:
                counts[h.type_id] = counts.get(h.type_id, 0) + 1
            return redact_text(v, hits)
        if isinstance(v, bool):
            return v
        if isinstance(v, int):
            hits = inspector.scan(str(v))
            if hits:
                for h in hits:
                    counts[h.type_id] = counts.get(h.type_id, 0) + 1
                return redact_text(str(v), hits)
            return v
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(value), counts

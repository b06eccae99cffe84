"""Value objects of the classification engine: data types, detectors, findings, scan results.

These are plain frozen dataclasses so the gateway can pass them around without copying and the
API can render them as JSON. A ``Finding`` must never carry the raw matched value: it holds the
type, class, location, confidence and a masked preview only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from ringfence.core.levels import DataClass

Category = Literal["pii", "financial", "government_id", "health", "network", "secret", "custom"]
MaskStyle = Literal["last4", "email", "full", "prefix"]
PathPart = str | int

#: Confidence at or above which a finding counts for the payload's class.
DEFAULT_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True, slots=True)
class Detector:
    """One data type: a pattern, an optional validator and the hints that tune confidence.

    ``pattern`` is written in the common subset of RE2, Hyperscan and Python ``re`` (no
    look-around, no back-references). The value is the named group ``v`` when present, else
    the whole match.
    """

    id: str
    name: str
    data_class: DataClass
    category: Category
    pattern: str
    validator: Callable[[str], bool] | None = None
    validator_name: str = ""
    base: float = 0.6
    context: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    needs_context: bool = False
    bare_needs_context: bool = False  # unformatted (separator-free) values need context
    formatted: str = ""  # with bare_needs_context: the pattern's forms that have a separator
    separated_bonus: float = 0.0  # added when the value is written with separators (123-45-6789)
    short_len: int = 0  # values with at most this many alphanumerics lose 0.3 (rare forms)
    caseless: bool = False
    mask: MaskStyle = "full"
    keep_prefix: int = 0
    example: str = ""
    source: str = ""
    prefilter: str = ""  # cheaper superset of ``pattern`` for the multi-pattern prefilter
    prefilter_lookbehind: int = 0  # how far before the prefilter's start a match may begin
    start_chars: str = ""  # with a prefilter: characters a match may start with, scanned back
    # With needs_context: sequences of character classes (each a string of ASCII characters)
    # one of which every match of ``pattern`` contains, e.g. (("(",), ("0..9", " .-", "0..9"))
    # spelled out. A context window without any is not searched (the native path; exact,
    # since the pattern cannot match there). Empty: every window is searched.
    window_probe: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """A detected data type at one location. Never holds the raw value."""

    type_id: str
    data_class: DataClass
    path: str
    start: int
    end: int
    confidence: float
    preview: str
    path_parts: tuple[PathPart, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type_id,
            "class": self.data_class.label,
            "path": self.path,
            "start": self.start,
            "end": self.end,
            "confidence": round(self.confidence, 3),
            "preview": self.preview,
        }


@dataclass(frozen=True, slots=True)
class ScanResult:
    """All findings of one payload and the payload's class (highest confident finding)."""

    findings: tuple[Finding, ...]
    data_class: DataClass
    content_kind: str
    types: frozenset[str] = field(default_factory=frozenset)

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.data_class.label,
            "content_kind": self.content_kind,
            "findings": [f.to_dict() for f in self.findings],
        }


class RedactionMode(StrEnum):
    """How a detected value is rewritten."""

    MASK = "mask"
    TOKENIZE = "tokenize"
    REMOVE = "remove"
    LABEL = "label"  # "[REDACTED:<type id>]" (the gateway's redaction)

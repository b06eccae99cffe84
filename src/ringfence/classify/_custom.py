"""Custom detectors declared in ``ringfence.yaml`` (RE2 syntax only, linear time).

Each detector carries positive and negative examples that are checked when it is loaded; an
invalid pattern or a failing example is a ``ConfigError`` naming the detector. Patterns are
untrusted input: they are compiled with RE2 only, never with Python ``re``. Error messages name
the detector and example index, never the example text (it may be real data).

Examples are checked the way traffic is scanned: on every engine a classifier may run (the RE2
reference and the default, Hyperscan where installed, whose prefilter reads bytes), as text and
as a JSON field's value, and a positive example must be *reported* (confidence at least the
default threshold), so a detector that passes here is one the gateway reports. Anchors (``^``,
``$``, ``\\A``, ``\\z``) are refused: a pattern is searched inside field values and text, where
an anchor would only ever match a body that is nothing but the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from ringfence.classify._model import DEFAULT_MIN_CONFIDENCE, Detector
from ringfence.core.errors import ConfigError, RingfenceError
from ringfence.core.levels import DataClass

MAX_PATTERN = 2048
_QUIET = re2.Options()
_QUIET.log_errors = False


class CustomDetectorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")
    name: str | None = None
    data_class: DataClass = Field(alias="class")
    pattern: str = Field(min_length=1, max_length=MAX_PATTERN)
    context: list[str] = []
    keys: list[str] = []
    needs_context: bool = False
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    positive: list[str] = Field(min_length=1)
    negative: list[str] = []

    @field_validator("context", "keys")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        # an empty word would be found everywhere: "needs context" would mean nothing
        if any(not any(ch.isalnum() for ch in w) for w in v):
            raise ValueError("each entry needs at least one letter or digit")
        return v

    @field_validator("data_class", mode="before")
    @classmethod
    def _parse_class(cls, v: Any) -> DataClass:
        try:
            return DataClass.parse(v)
        except RingfenceError as e:
            raise ValueError(str(e)) from None


def _detector(spec: CustomDetectorSpec) -> Detector:
    return Detector(
        id=spec.id,
        name=spec.name or spec.id,
        data_class=spec.data_class,
        category="custom",
        pattern=spec.pattern,
        validator=None,
        validator_name="custom (RE2)",
        base=spec.confidence if not spec.needs_context else min(spec.confidence, 0.2),
        context=tuple(w.lower() for w in spec.context),
        keys=tuple("".join(ch for ch in k.lower() if ch.isalnum()) for k in spec.keys),
        needs_context=spec.needs_context,
        mask="last4",
        source="ringfence.yaml",
    )


def anchor_in(pattern: str) -> str | None:
    """The first anchor (``^``, ``$``, ``\\A``, ``\\z``) outside a character class, or None."""
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt == "Q":  # \Q...\E: literal text
                end = pattern.find("\\E", i + 2)
                i = len(pattern) if end < 0 else end + 2
                continue
            if not in_class and nxt in ("A", "z"):
                return "\\" + nxt
            i += 2
            continue
        if in_class:
            if ch == "[" and pattern[i + 1 : i + 2] == ":":  # [:digit:]
                end = pattern.find(":]", i + 2)
                i = i + 1 if end < 0 else end + 2
                continue
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            i += 1
            if pattern[i : i + 1] == "^":
                i += 1
            if pattern[i : i + 1] == "]":  # a leading ] is a literal
                i += 1
            continue
        elif ch in "^$":
            return ch
        i += 1
    return None


def _probes(det: Detector) -> list[Any]:
    """A classifier holding only ``det`` on each engine a deployment may use."""
    from ringfence.classify._engine import Classifier

    engines = ["re2", "auto"]
    out = []
    for engine in engines:
        out.append(
            Classifier(
                detectors=(),
                custom=(det,),
                default_allowlist=False,
                min_confidence=0,
                engine=engine,
            )
        )
        if out[-1].engine == "re2" and len(out) > 1:  # "auto" without Hyperscan: the same
            out.pop()
    return out


def _found(probe: Any, det_id: str, text: str, floor: float) -> bool:
    """Is ``text`` reported, as text and as a JSON field's value (where anchors, ...
    behave differently), at ``floor``?"""
    for body, ctype in (
        (text.encode("utf-8", "surrogatepass"), "text/plain"),
        (orjson.dumps({"value": text}), "application/json"),
    ):
        if not any(
            f.type_id == det_id and f.confidence >= floor for f in probe.scan(body, ctype).findings
        ):
            return False
    return True


def _seen(probe: Any, det_id: str, text: str) -> bool:
    """Is ``text`` matched at all (any confidence), as text or as a JSON field's value?"""
    return any(
        det_id in probe.scan(body, ctype).types
        for body, ctype in (
            (text.encode("utf-8", "surrogatepass"), "text/plain"),
            (orjson.dumps({"value": text}), "application/json"),
        )
    )


def load_custom_detectors(specs: Iterable[Mapping[str, Any]]) -> tuple[Detector, ...]:
    """Validate and compile custom detectors; raise ``ConfigError`` naming the culprit."""
    out: list[Detector] = []
    for i, raw in enumerate(specs):
        name = str(raw.get("id", f"#{i}")) if isinstance(raw, Mapping) else f"#{i}"
        try:
            spec = CustomDetectorSpec.model_validate(raw)
        except PydanticValidationError as e:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()
            )
            raise ConfigError(
                f"custom detector {name!r}: {problems}", code="classify_detector_invalid"
            ) from None
        try:
            re2.compile(spec.pattern, _QUIET)
        except Exception as e:
            raise ConfigError(
                f"custom detector {spec.id!r}: pattern is not valid RE2 syntax ({e})",
                code="classify_detector_pattern",
                field="pattern",
            ) from None
        anchor = anchor_in(spec.pattern)
        if anchor is not None:
            raise ConfigError(
                f"custom detector {spec.id!r}: pattern has the anchor {anchor}, which matches "
                "only at the start or end of a whole body, never of a field value: use \\b",
                code="classify_detector_pattern",
                field="pattern",
            )
        det = _detector(spec)
        for probe in _probes(det):
            where = "" if probe.engine == "re2" else f" on the {probe.engine} engine"
            for j, text in enumerate(spec.positive):
                if not _found(probe, spec.id, text, DEFAULT_MIN_CONFIDENCE):
                    raise ConfigError(
                        f"custom detector {spec.id!r}: positive example {j} does not match"
                        f"{where} (reported from confidence {DEFAULT_MIN_CONFIDENCE}, as text "
                        "and as a JSON field value)",
                        code="classify_detector_example",
                        field="positive",
                    )
            for j, text in enumerate(spec.negative):
                if _seen(probe, spec.id, text):
                    raise ConfigError(
                        f"custom detector {spec.id!r}: negative example {j} matches{where}",
                        code="classify_detector_example",
                        field="negative",
                    )
        out.append(det)
    ids = [d.id for d in out]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise ConfigError(
            f"custom detector ids repeated: {', '.join(dupes)}", code="classify_duplicate"
        )
    return tuple(out)

"""Custom detectors declared in ``ringfence.yaml`` (RE2 syntax only, linear time).

Each detector carries positive and negative examples that are checked when it is loaded; an
invalid pattern or a failing example is a ``ConfigError`` naming the detector. Patterns are
untrusted input: they are compiled with RE2 only, never with Python ``re``. Error messages name
the detector and example index, never the example text (it may be real data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from ringfence.classify._model import Detector
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


def load_custom_detectors(specs: Iterable[Mapping[str, Any]]) -> tuple[Detector, ...]:
    """Validate and compile custom detectors; raise ``ConfigError`` naming the culprit."""
    from ringfence.classify._engine import Classifier

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
        det = _detector(spec)
        probe = Classifier(
            detectors=(), custom=(det,), default_allowlist=False, min_confidence=0, engine="re2"
        )
        for j, text in enumerate(spec.positive):
            if spec.id not in probe.scan_text(text).types:
                raise ConfigError(
                    f"custom detector {spec.id!r}: positive example {j} does not match",
                    code="classify_detector_example",
                    field="positive",
                )
        for j, text in enumerate(spec.negative):
            if spec.id in probe.scan_text(text).types:
                raise ConfigError(
                    f"custom detector {spec.id!r}: negative example {j} matches",
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

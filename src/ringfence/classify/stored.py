"""Build a :class:`Classifier` from the ``classify:`` section stored by ``ringfence apply``.

The gateway (and any other long-running user) calls :func:`classifier_from_store` once per
policy snapshot. Stored detectors are re-validated (pattern and examples) so a row that no
longer loads is a ``ConfigError`` naming the detector, never a silently weaker classifier.
Allow-lists are read as digests only; nothing here reads or logs a value in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ringfence.classify._custom import load_custom_detectors
from ringfence.classify._engine import Classifier
from ringfence.classify._model import Detector
from ringfence.classify.models import ClassifyEntry
from ringfence.core.errors import ConfigError
from ringfence.store.db import Store


@dataclass(frozen=True, slots=True)
class StoredClassifyConfig:
    """Custom detectors and allow-listed digests from the store, ready for a Classifier."""

    detectors: tuple[Detector, ...]
    allow_sha256: frozenset[str]
    entries: tuple[str, ...]  # entry names, sorted (for logs: what the snapshot contains)


def load_stored_config(session: Session) -> StoredClassifyConfig:
    from ringfence.classify.estate_section import ClassifySpec

    specs: list[dict[str, Any]] = []
    digests: set[str] = set()
    names: list[str] = []
    for row in session.scalars(select(ClassifyEntry).order_by(ClassifyEntry.name)):
        names.append(row.name)
        try:
            spec = ClassifySpec.model_validate(row.spec)
        except PydanticValidationError as e:
            first = e.errors(include_input=False)[0]
            raise ConfigError(
                f"stored classify entry {row.name!r} is invalid: {first['msg']}",
                code="classify_stored_invalid",
            ) from None
        if spec.pattern is not None:
            specs.append(spec.detector_mapping())
        digests.update(spec.allow_sha256)
    return StoredClassifyConfig(load_custom_detectors(specs), frozenset(digests), tuple(names))


def classifier_from_store(store: Store, **kwargs: Any) -> Classifier:
    """A Classifier with the built-ins plus the stored custom detectors and allow-lists.

    ``kwargs`` go to :class:`Classifier` (``min_confidence``, ``engine``, ``allow_values``...).
    Raises ``ConfigError`` (naming the detector) when a stored detector no longer loads.
    """
    with store.session() as session:
        cfg = load_stored_config(session)
    return Classifier(custom=cfg.detectors, allow_sha256=cfg.allow_sha256, **kwargs)

"""Classification and DLP: detect personal, financial and secret data in payloads.

The public surface other capabilities use. The gateway builds one :class:`Classifier` per
policy snapshot and calls :meth:`Classifier.scan` inline for every body (bytes + content type
in, findings + payload class out), then :func:`decide` against the destination's clearance and
:func:`redact` when the route says so. Nothing in this package ever returns, logs or stores a
matched value: findings carry type, class, field path, offsets, confidence and a masked preview.

For the gateway: :func:`classifier_from_store` ``(store, **classifier_kwargs) -> Classifier``
builds the classifier of a policy snapshot from the ``classify:`` section of ringfence.yaml as
stored by ``ringfence apply`` (built-ins + custom RE2 detectors + allow-listed test values,
kept as SHA-256 digests). Call it when the snapshot is (re)loaded, never per request (compiling
takes about a second); it raises ``ConfigError`` naming the detector if a stored detector no
longer loads, so keep serving the previous snapshot then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ringfence.classify._catalogue import BUILTIN_DETECTORS, DEFAULT_ALLOWLIST, catalogue
from ringfence.classify._custom import CustomDetectorSpec, load_custom_detectors
from ringfence.classify._engine import Classifier, allow_digest, in_uuid
from ringfence.classify._model import (
    DEFAULT_MIN_CONFIDENCE,
    Detector,
    Finding,
    RedactionMode,
    ScanResult,
)
from ringfence.classify._policy import Decision, FlowPolicy, PolicyAction, decide
from ringfence.classify._redact import Redaction, RedactionPolicy
from ringfence.classify._redact import redact as _redact
from ringfence.core.levels import DataClass

if TYPE_CHECKING:
    from ringfence.store.db import Store

__all__ = [
    "BUILTIN_DETECTORS",
    "DEFAULT_ALLOWLIST",
    "DEFAULT_MIN_CONFIDENCE",
    "Classifier",
    "CustomDetectorSpec",
    "DataClass",
    "Decision",
    "Detector",
    "Finding",
    "FlowPolicy",
    "PolicyAction",
    "Redaction",
    "RedactionMode",
    "RedactionPolicy",
    "ScanResult",
    "allow_digest",
    "catalogue",
    "classifier_from_store",
    "decide",
    "default_classifier",
    "in_uuid",
    "load_custom_detectors",
    "redact",
    "scan",
    "scan_json",
    "scan_text",
]

_default: Classifier | None = None


def classifier_from_store(store: Store, **kwargs: Any) -> Classifier:
    """Built-ins + the stored ``classify:`` detectors and allow-lists (see module docstring)."""
    from ringfence.classify.stored import classifier_from_store as build

    return build(store, **kwargs)


def default_classifier() -> Classifier:
    """A lazily built classifier with the built-in catalogue (for tools and scripts).

    Long-running services should build and own their classifier (with their custom
    detectors and allow-list) instead of sharing this one.
    """
    global _default
    if _default is None:
        _default = Classifier()
    return _default


def scan(body: bytes | str, content_type: str | None = None) -> ScanResult:
    return default_classifier().scan(body, content_type)


def scan_text(text: str) -> ScanResult:
    return default_classifier().scan_text(text)


def scan_json(doc: Any) -> ScanResult:
    return default_classifier().scan_json(doc)


def redact(
    body: bytes | str,
    content_type: str | None = None,
    policy: RedactionPolicy | None = None,
    *,
    classifier: Classifier | None = None,
) -> Redaction:
    """Return ``body`` with every confident finding masked, tokenised or removed."""
    return _redact(classifier or default_classifier(), body, content_type, policy)

"""Monitoring and detection: vendor audit records and gateway events normalised to OCSF,
stored idempotently, analysed by Sigma rules, UEBA and API monitoring, alerted to sinks.

Public surface: ``Event``/``OcsfClass`` (the event model), ``PARSERS``/``parser_for`` (vendor
record parsers), ``ingest`` (NDJSON → events), ``EventStore`` (storage, hunting, retention),
``Monitor`` (store, then analyse only new events), and — imported lazily because pySigma is
heavy — ``RuleSet`` and ``AlertStore``. Nothing here ever stores or logs a credential.
"""

from __future__ import annotations

from typing import Any

from ringfence.monitor.events import Event, OcsfClass
from ringfence.monitor.ingest import IngestReport, ingest
from ringfence.monitor.parsers import PARSERS, RecordError, parser_for
from ringfence.monitor.service import Monitor
from ringfence.monitor.storage import EventStore, HuntQuery

_LAZY = {
    "RuleSet": "ringfence.monitor.sigma.engine",
    "AlertStore": "ringfence.monitor.alerts",
    "Finding": "ringfence.monitor.alerts",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


__all__ = [
    "PARSERS",
    "AlertStore",
    "Event",
    "EventStore",
    "Finding",
    "HuntQuery",
    "IngestReport",
    "Monitor",
    "OcsfClass",
    "RecordError",
    "RuleSet",
    "ingest",
    "parser_for",
]

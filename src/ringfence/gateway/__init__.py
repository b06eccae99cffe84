"""The gateway (data plane): routes, machine identity, the enforcing reverse proxy, audit.

Public surface for other capabilities (everything else in this package is private):

- ``RouteSpec`` — the ``routes:`` item model of ``ringfence.yaml``.
- ``AuditEvent``, ``AuditSink``, ``MemoryAuditSink``, ``JsonlAuditSink``,
  ``CallableAuditSink`` — the per-request audit events and their sinks (monitoring).
- ``Inspector`` / ``Hit`` — the DLP stage's interface.
- ``build_gateway``, ``Gateway``, ``GatewayConfig`` — the ASGI app (loaded lazily: importing
  this package for the models or the estate section must not pull in the HTTP stack).

Nothing here holds a plaintext secret outside a ``SecretStr`` in the in-memory snapshot.
"""

from __future__ import annotations

from typing import Any

from ringfence.gateway.audit import (
    AuditEvent,
    AuditSink,
    CallableAuditSink,
    JsonlAuditSink,
    MemoryAuditSink,
)
from ringfence.gateway.inspect import Hit, Inspector
from ringfence.gateway.routes import RouteSpec

_LAZY = {
    "build_gateway": "ringfence.gateway.app",
    "Gateway": "ringfence.gateway.app",
    "GatewayConfig": "ringfence.gateway.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ringfence.gateway' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "AuditEvent",
    "AuditSink",
    "CallableAuditSink",
    "Gateway",
    "GatewayConfig",
    "Hit",
    "Inspector",
    "JsonlAuditSink",
    "MemoryAuditSink",
    "RouteSpec",
    "build_gateway",
]

"""Feeds the gateway's audit events into monitoring: an async publisher for the gateway's
``CallableAuditSink`` that parses each ``AuditEvent`` dict into an OCSF event and publishes
it on the event bus.

Usage (gateway side)::

    sink = CallableAuditSink(gateway_publisher(NatsBus(url)), spool=data_dir / "audit.spool")

A record the parser rejects is logged and dropped here (the gateway's own JSONL spool keeps
the original); a bus failure raises so the sink spools the event — nothing is lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ringfence.bus.base import EventBus
from ringfence.core.logging import get_logger
from ringfence.monitor.parsers import RecordError, parser_for

if TYPE_CHECKING:
    from ringfence.runtime import Runtime

_log = get_logger("ringfence.monitor.gateway_feed")

#: Where ``ringfence serve`` keeps gateway audit events the monitor could not store yet
#: (JSONL, metadata only — an audit event never holds a secret); not the standalone gateway's
#: ``gateway-audit.spool.jsonl``, so two processes on one data directory never share a spool.
SERVE_SPOOL = "serve-audit.spool.jsonl"


def gateway_publisher(bus: EventBus) -> Callable[[dict[str, Any]], Awaitable[None]]:
    parse = parser_for("ringfence")

    async def publish(record: dict[str, Any]) -> None:
        try:
            events = parse(record)
        except RecordError as exc:
            _log.warning("gateway audit event rejected", reason=str(exc))
            return
        await bus.publish(events)

    return publish


def in_process_sink(rt: Runtime) -> Any:
    """The embedded default of the event bus for one-process deployments (`ringfence serve`).

    Returns a gateway ``CallableAuditSink`` that parses each audit event into OCSF and hands
    it to the monitor (store + Sigma + UEBA + API monitoring) in a worker thread, off the
    event loop — what NATS JetStream and ``ringfence monitor worker`` do at scale. An event
    the monitor cannot take (the store locked past its busy timeout, or down) goes to a spool
    in the data directory (``SERVE_SPOOL``) and is replayed once the store answers again;
    without it such an event was dropped.
    """
    import asyncio

    from ringfence.gateway.audit import CallableAuditSink
    from ringfence.monitor.wiring import build_monitor

    monitor = build_monitor(rt)
    parse = parser_for("ringfence")

    async def publish(record: dict[str, Any]) -> None:
        try:
            events = parse(record)
        except RecordError as exc:
            _log.warning("gateway audit event rejected", reason=str(exc))
            return
        await asyncio.to_thread(monitor.process, events)

    return CallableAuditSink(publish, spool=rt.settings.data_dir / SERVE_SPOOL)

"""Feeds the gateway's audit events into monitoring: an async publisher for the gateway's
``CallableAuditSink`` that parses each ``AuditEvent`` dict into an OCSF event and publishes
it on the event bus.

Usage (gateway side)::

    sink = CallableAuditSink(gateway_publisher(NatsBus(url)), spool=data_dir / "audit.spool")

A record the parser rejects (an empty probed path, an upstream's status outside 100-599) is
dead-lettered by ``ringfence serve``'s in-process sink; the NATS publisher, which has no store,
can only log it (error level, with the request id) — the gateway's JSONL spool does not keep
it. A bus failure raises so the sink spools the event — nothing is lost there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

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
            _log.error(
                "gateway audit event rejected",
                reason=str(exc),
                request_id=str(record.get("request_id"))[:64],
            )
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

    def dead_letter(record: dict[str, Any], reason: str) -> None:
        with monitor.events.store.session() as s:
            monitor.events.dead_letter(
                s,
                source="ringfence",
                origin="gateway",
                line_no=None,
                reason=reason,
                payload=orjson.dumps(record, default=str).decode(),
                now=rt.clock.now(),
            )

    async def publish(record: dict[str, Any]) -> None:
        try:
            events = parse(record)
        except RecordError as exc:
            # Kept as a dead letter (ringfence monitor dead-letters), not only logged: an
            # empty probed path or an upstream's status outside 100-599 made the request
            # vanish from monitoring. A store failure here raises, so the sink spools it.
            _log.warning("gateway audit event rejected", reason=str(exc))
            await asyncio.to_thread(dead_letter, record, str(exc))
            return
        await asyncio.to_thread(monitor.process, events)

    return CallableAuditSink(publish, spool=rt.settings.data_dir / SERVE_SPOOL)

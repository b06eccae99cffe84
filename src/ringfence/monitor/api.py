"""REST endpoints of monitoring under ``/api/v1/monitor``: the authenticated NDJSON push
endpoint for audit records, hunting, dead-letter counts and alerts.

``POST /api/v1/monitor/ingest/{source}`` takes NDJSON (one vendor record per line), a JSON
array of records, or a vendor page envelope (``items`` / ``value`` / ``entries``). Records that
do not parse are dead-lettered and counted in the response (still 200: the accepted ones are
stored); an unknown source is a 404 problem, an empty body a 400. Needs the ``write`` scope.
Never echoes a record back. With ``RINGFENCE_NATS_URL`` set, the accepted events are published
to the JetStream stream (the ``ringfence monitor worker``s store and analyse them, like the
gateway's and ``ringfence ingest``'s) instead of being processed in the API process; NATS
down is a 503 and the client pushes again (the stream and the store drop the duplicates).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import Field

from ringfence.api.deps import CurrentPrincipal, authorize, get_runtime
from ringfence.bus.nats import NatsBus
from ringfence.core.errors import NotFoundError, UnavailableError, ValidationError
from ringfence.monitor.events import Event
from ringfence.monitor.ingest import ingest, supplier_recorder
from ringfence.monitor.parsers import PARSERS
from ringfence.monitor.service import Monitor
from ringfence.monitor.storage import EventStore, FieldFilter, HuntQuery
from ringfence.monitor.timeparse import parse_when
from ringfence.runtime import Runtime

router = APIRouter(prefix="/api/v1/monitor", tags=["monitor"], dependencies=[Depends(authorize)])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# OCSF class ids are small; the bound keeps a huge number from reaching the store (SQLite
# refuses integers past 64 bits with an OverflowError).
ClassUid = Annotated[int, Field(ge=0, le=2**31 - 1)]
# The push body is read raw, so FastAPI infers none: declared for clients and fuzzers.
_RECORDS_BODY = {
    "requestBody": {
        "required": True,
        "description": "Vendor audit records: NDJSON, a JSON array, or a vendor page envelope.",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {"anyOf": [{"type": "array", "items": {}}, {"type": "object"}]}
            },
        },
    }
}


@router.post("/ingest/{source}", openapi_extra=_RECORDS_BODY)
async def push_records(
    source: Annotated[str, Path(json_schema_extra={"enum": sorted(PARSERS)})],
    request: Request,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Push vendor audit records (NDJSON); returns what was stored and dead-lettered."""
    if source not in PARSERS:
        raise NotFoundError(
            f"unknown source {source!r}; expected one of: {', '.join(sorted(PARSERS))}",
            code="unknown_source",
        )
    body = await request.body()
    if not body.strip():
        raise ValidationError("empty body: send one JSON record per line (NDJSON)")
    from starlette.concurrency import run_in_threadpool

    if runtime.settings.nats_url:
        return await _push_to_nats(request, runtime, principal.actor, source, body)
    monitor = await run_in_threadpool(_app_monitor, request.app.state, runtime)
    report = await run_in_threadpool(
        ingest,
        body,
        source=source,
        origin=f"push:{principal.actor}"[:200],
        events_store=monitor.events,
        publish=monitor.process,
        now=runtime.clock.now(),
        # who pushed these events is evidence for respond's four-eyes check
        before_publish=supplier_recorder(runtime.store, principal.actor, source, runtime.clock),
    )
    return report.to_dict()


async def _push_to_nats(
    request: Request, runtime: Runtime, actor: str, source: str, body: bytes
) -> dict[str, Any]:
    """Scale-out: parse here, publish to the stream the monitor workers consume. Before, the
    push API stored and analysed in the API process even with NATS configured, so pushed
    vendor records never met the gateway's events in the workers' correlation windows."""
    from anyio import from_thread
    from starlette.concurrency import run_in_threadpool

    bus = await _app_bus(request.app.state, runtime)

    def publish(batch: Sequence[Event]) -> int:
        from_thread.run(bus.publish, batch)
        return 0

    try:
        report = await run_in_threadpool(
            ingest,
            body,
            source=source,
            origin=f"push:{actor}"[:200],
            events_store=EventStore(runtime.store),
            publish=publish,
            now=runtime.clock.now(),
            before_publish=supplier_recorder(runtime.store, actor, source, runtime.clock),
        )
    except UnavailableError:
        # nats-py gives up reconnecting after a while and the connection stays closed: the
        # next push makes a new one instead of answering 503 until the API restarts.
        if getattr(request.app.state, "nats_bus", None) is bus:
            request.app.state.nats_bus = None
            with contextlib.suppress(Exception):
                await bus.close()
        raise
    # Stored or not is for the workers to find out: neither "new" nor "duplicates" is known.
    return report.to_dict() | {"new": None, "duplicates": None, "published": report.events}


async def _app_bus(state: Any, runtime: Runtime) -> NatsBus:
    """The app's one NATS connection (on the app's event loop), made on first use."""
    lock: asyncio.Lock | None = getattr(state, "nats_bus_lock", None)
    if lock is None:
        lock = state.nats_bus_lock = asyncio.Lock()
    async with lock:
        bus: NatsBus | None = getattr(state, "nats_bus", None)
        if bus is None:
            from ringfence.monitor.wiring import load_config, nats_options

            assert runtime.settings.nats_url is not None
            bus = NatsBus(
                runtime.settings.nats_url, **nats_options(load_config(runtime.settings.data_dir))
            )
            await bus.connect()  # UnavailableError (503) when NATS is down; retried next push
            state.nats_bus = bus
        return bus


def _app_monitor(state: Any, runtime: Runtime) -> Monitor:
    """The app's one monitor, built on first use: correlation and API-monitoring windows are
    in its memory, so every push must reach the same one (a monitor per push forgot them, and
    a burst split over several pushes raised nothing). ``Monitor.process`` serialises its
    callers, so the pushes served by the thread pool share it safely."""
    monitor: Monitor | None = getattr(state, "monitor", None)
    if monitor is not None:
        return monitor
    with _BUILD_LOCK:  # two first pushes at once build it once
        monitor = getattr(state, "monitor", None)
        if monitor is None:
            from ringfence.monitor.wiring import build_monitor

            monitor = build_monitor(runtime)
            state.monitor = monitor
        return monitor


_BUILD_LOCK = threading.Lock()


# Stored events one REST hunt may read. Field filters (``where``) are evaluated in Python on
# each decoded row (~0.1 ms): a filter matching nothing read the whole table, so one ``read``
# caller could hold a worker thread for minutes per request on a few million events.
HUNT_MAX_SCAN = 50_000


@router.get("/events")
def hunt_events(
    response: Response,
    runtime: RuntimeDep,
    since: str | None = None,
    until: str | None = None,
    source: Annotated[list[str] | None, Query()] = None,
    class_uid: Annotated[list[ClassUid] | None, Query()] = None,
    entity: str | None = None,
    where: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    """Stored events, newest first, filtered like ``ringfence hunt``.

    At most ``HUNT_MAX_SCAN`` stored events (after the since/until/source/class/entity
    conditions) are read per request; when that stops the search early the answer carries
    ``X-Hunt-Complete: false`` (narrow it with ``since``/``until``, or hunt with the CLI)."""
    now = runtime.clock.now()
    query = HuntQuery(
        since=_when(since, now, "since") if since else None,
        until=_when(until, now, "until") if until else None,
        sources=list(source or []),
        class_uids=list(class_uid or []),
        entity=entity,
        filters=[FieldFilter.parse(w) for w in where or []],
        limit=limit,
        max_scan=HUNT_MAX_SCAN,
    )
    found = EventStore(runtime.store).hunt_page(query)
    response.headers["X-Hunt-Complete"] = "true" if found.complete else "false"
    response.headers["X-Hunt-Scanned"] = str(found.scanned)
    return [e.to_dict() for e in found.events]


def _when(value: str, now: datetime, what: str) -> datetime:
    try:
        return parse_when(value, now, what)
    except OverflowError:  # e.g. 99999999999d: further back than the calendar goes
        raise ValidationError(f"{what} {value[:40]!r} is out of range") from None


@router.get("/dead-letters")
def dead_letter_counts(runtime: RuntimeDep) -> dict[str, int]:
    """Dead-lettered records per source."""
    return EventStore(runtime.store).dead_letter_counts()


@router.get("/alerts")
def list_alerts(
    runtime: RuntimeDep,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Alerts as OCSF Detection Findings, most recent first."""
    from ringfence.monitor.alerts import AlertStore

    alerts = AlertStore(runtime.store, runtime.clock).list(status, limit)
    return [a.finding | {"id": a.id, "alert_status": a.status} for a in alerts]


@router.post("/alerts/{alert_id}/{action}")
def change_alert(
    alert_id: str, action: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> dict[str, str]:
    """``ack`` or ``close`` an alert (``write``); audited with the caller as actor."""
    from ringfence.monitor.alerts import AlertStore

    status = {"ack": "acknowledged", "close": "closed"}.get(action)
    if status is None:
        raise NotFoundError(f"unknown alert action {action!r}; use ack or close")
    a = AlertStore(runtime.store, runtime.clock).set_status(alert_id, status, actor=principal.actor)
    return {"id": a.id, "status": a.status}

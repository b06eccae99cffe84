"""Review 10 A7: the ``ringfence`` parser accepts every audit event the gateway writes.

Before, a request with an empty probed path (no route matched, ``path_template`` None and
``path`` '') and a status outside 100-599 (an upstream's odd status passed through) were
refused with ``RecordError``: ``ringfence serve`` dead-lettered them, and the standalone
gateway's NATS publisher, which has no store, could only log them — the request vanished from
monitoring. They are now events like the others.
"""

from __future__ import annotations

from typing import Any

import pytest

from ringfence.gateway.audit import AuditEvent
from ringfence.monitor.gateway_feed import in_process_sink
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.storage import EventStore
from ringfence.runtime import Runtime


def _event(**change: Any) -> AuditEvent:
    e = AuditEvent(
        time="2026-01-05T10:00:00+00:00",
        request_id="a7-1",
        method="GET",
        status=404,
        decision="deny",
        reason="no_route",
        latency_ms=0.4,
        client_ip="10.0.0.9",
        path_template="/v1/items",
    )
    for k, v in change.items():
        setattr(e, k, v)
    return e


def test_a_request_with_an_empty_probed_path_is_an_event() -> None:
    (ev,) = parser_for("ringfence")(_event(path_template=None, path="").to_dict())
    assert ev.ocsf["http_request"]["url"]["path"] == ""
    assert ev.ocsf["http_response"]["code"] == 404
    assert ev.status_id == 2
    assert "(empty path)" in ev.ocsf["message"]


@pytest.mark.parametrize("status", [999, 0, 99, 600, -1])
def test_a_status_outside_100_599_is_kept_with_an_unknown_status(status: int) -> None:
    (ev,) = parser_for("ringfence")(_event(status=status, decision="allow").to_dict())
    assert ev.ocsf["http_response"]["code"] == status
    assert ev.status_id == 0 and ev.ocsf["status"] == "Unknown"
    assert ev.raw["status"] == status


def test_a_status_that_is_not_an_integer_is_still_refused() -> None:
    from ringfence.monitor.parsers import RecordError

    for bad in (None, "200", True, 200.0):
        with pytest.raises(RecordError, match="status"):
            parser_for("ringfence")({**_event().to_dict(), "status": bad})


@pytest.mark.parametrize(
    "change", [{"path_template": None, "path": ""}, {"status": 999}, {"status": 0}]
)
async def test_serve_stores_them_instead_of_dead_lettering(
    runtime: Runtime, change: dict[str, Any]
) -> None:
    sink = in_process_sink(runtime)
    sink.emit(_event(**change))
    await sink.drain()
    await sink.aclose()
    events = EventStore(runtime.store)
    assert events.dead_letter_counts() == {}
    assert events.count("ringfence") == 1

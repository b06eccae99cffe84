"""Session 12 API authz review (API4): a REST hunt reads a bounded number of stored events.

Before, ``GET /api/v1/monitor/events?where=PATH=VALUE`` evaluated the field filter in Python
on every stored event the SQL conditions left (~0.1 ms each, pages of 2,000 by OFFSET) until
``limit`` matched: a filter matching nothing read the whole table — 20,000 events took 2 s
here, a few million minutes — per request, for any ``read`` caller, each holding a worker
thread. Now one request reads at most ``HUNT_MAX_SCAN`` events and says whether it finished
(``X-Hunt-Complete``, ``X-Hunt-Scanned``); the CLI's hunt stays unbounded.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ringfence.monitor import api as monitor_api
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.storage import EventStore
from tests.api.conftest import Api
from tests.monitor import records as R

STORED = 700


@pytest.fixture
def events(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(monitor_api, "HUNT_MAX_SCAN", 250, raising=False)
    start = api.clock.now() - timedelta(days=2)
    batch = []
    for i in range(STORED):
        when = (start + timedelta(minutes=i)).isoformat()
        batch.extend(parser_for("okta")(R.okta(uuid=f"u-{i}", published=when)))
    EventStore(api.runtime.store).store_events(batch, api.clock.now())
    return api


def test_a_filter_matching_nothing_stops_at_the_bound(events: Api) -> None:
    r = events.client.get(
        "/api/v1/monitor/events", params={"where": "raw.uuid=nobody"}, headers=events.ro
    )
    assert r.status_code == 200, r.text
    assert r.json() == []
    assert r.headers["X-Hunt-Complete"] == "false"
    assert r.headers["X-Hunt-Scanned"] == "250"


def test_the_oldest_event_is_out_of_reach_but_a_narrower_hunt_finds_it(events: Api) -> None:
    far = events.client.get(
        "/api/v1/monitor/events", params={"where": "raw.uuid=u-0"}, headers=events.ro
    )
    assert far.json() == [] and far.headers["X-Hunt-Complete"] == "false"
    until = (events.clock.now() - timedelta(days=2) + timedelta(minutes=5)).isoformat()
    near = events.client.get(
        "/api/v1/monitor/events",
        params={"where": "raw.uuid=u-0", "until": until},
        headers=events.ro,
    )
    assert [e["raw"]["uuid"] for e in near.json()] == ["u-0"]
    assert near.headers["X-Hunt-Complete"] == "true"


def test_a_hunt_that_finds_its_limit_is_complete(events: Api) -> None:
    r = events.client.get("/api/v1/monitor/events", params={"limit": 10}, headers=events.ro)
    assert len(r.json()) == 10 and r.headers["X-Hunt-Complete"] == "true"

"""The bus's wire form of an event: ``Event.from_dict(e.to_dict())`` is ``e``, field by field."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import orjson

from ringfence.monitor.events import Event, document_body
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.storage import encode_body
from tests.monitor import records as R


def _distinct() -> Event:
    """Every field a value no other field has: a swapped argument cannot go unnoticed."""
    return Event(
        id="e-1",
        time=datetime(2026, 1, 5, 10, 30, 1, 123456, tzinfo=timezone(timedelta(hours=2))),
        source="okta",
        class_uid=3002,
        activity_id=7,
        action="user.session.start",
        ocsf={"class_uid": 3002, "nested": {"a": [1, 2]}},
        raw={"uuid": "u-1", "x": None},
        actor="ann@example.com",
        src_ip="203.0.113.9",
        status_id=2,
        severity_id=4,
        product="okta-product",
        service="okta-service",
        entities=["ann@example.com", "203.0.113.9"],
    )


def test_wire_round_trip_keeps_every_field() -> None:
    events = [_distinct(), *parser_for("okta")(R.okta()), *parser_for("ringfence")(R.gateway())]
    for e in events:
        back = Event.from_dict(orjson.loads(orjson.dumps(e.to_dict())))
        assert _fields(back) == _fields(e)
        assert back.time.utcoffset() == e.time.utcoffset()


def _fields(e: Event) -> list[object]:
    return [getattr(e, f.name) for f in dataclasses.fields(e) if f.name != "body"]


def test_a_decoded_event_brings_the_stored_form_of_its_documents() -> None:
    """Made while decoding (the objects are in the CPU cache then), byte for byte what
    storage would serialise; an event made any other way, or changed with
    ``dataclasses.replace``, has none, so storage serialises what it holds."""
    e = _distinct()
    assert e.body is None
    back = Event.from_dict(orjson.loads(orjson.dumps(e.to_dict())))
    assert back.body == document_body(e.ocsf, e.raw) == encode_body(e) == encode_body(back)
    assert back == e  # the body takes no part in equality
    changed = dataclasses.replace(back, raw={"uuid": "other"})
    assert changed.body is None
    assert encode_body(changed) == orjson.dumps({"ocsf": e.ocsf, "raw": {"uuid": "other"}})


def test_optional_fields_default_and_a_naive_time_is_utc() -> None:
    d = _distinct().to_dict()
    for k in ("actor", "src_ip", "status_id", "severity_id", "product", "service", "entities"):
        del d[k]
    d["time"] = "2026-01-05T10:30:01"
    e = Event.from_dict(d)
    assert e.time == datetime(2026, 1, 5, 10, 30, 1, tzinfo=UTC)
    assert (e.actor, e.src_ip, e.status_id, e.severity_id) == (None, None, 0, 1)
    assert (e.product, e.service, e.entities) == ("", "", [])

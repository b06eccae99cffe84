"""Session 12 API authz review (API4): the incident list is paged.

Before, ``GET /api/v1/respond/incidents`` returned every incident and drill ever opened, in
one answer, to any ``read`` caller (drills are opened at will by ``write`` callers and never
deleted). Now ``limit`` (1-1000, default 100) and ``offset``, newest first with a stable
order, and ``X-Total-Count``.
"""

from __future__ import annotations

from datetime import timedelta

from ringfence.respond.models import Incident
from tests.api.conftest import Api

OPENED = 130


def _incidents(api: Api) -> None:
    start = api.clock.now() - timedelta(days=1)
    with api.runtime.store.session() as s:
        for i in range(OPENED):
            at = start + timedelta(minutes=i // 2)  # pairs share a timestamp
            s.add(
                Incident(
                    playbook="contain",
                    spec={"name": "contain", "steps": []},
                    integration_name=f"int-{i}",
                    status="closed" if i % 3 else "open",
                    drill=True,
                    opened_by="token:ci",
                    detected_at=at,
                    opened_at=at,
                )
            )


def test_the_incident_list_is_paged_newest_first(api: Api) -> None:
    _incidents(api)
    first = api.client.get("/api/v1/respond/incidents", headers=api.ro)
    assert first.status_code == 200, first.text
    assert len(first.json()) == 100
    assert first.headers["X-Total-Count"] == str(OPENED)
    rest = api.client.get("/api/v1/respond/incidents?offset=100&limit=100", headers=api.ro)
    ids = [i["id"] for i in first.json()] + [i["id"] for i in rest.json()]
    assert len(ids) == len(set(ids)) == OPENED  # stable order: no repeats, none missed
    opened = [i["opened_at"] for i in first.json() + rest.json()]
    assert opened == sorted(opened, reverse=True)
    only_open = api.client.get("/api/v1/respond/incidents?status=open&limit=5", headers=api.ro)
    assert len(only_open.json()) == 5
    assert only_open.headers["X-Total-Count"] == str(len(range(0, OPENED, 3)))


def test_the_page_size_is_bounded(api: Api) -> None:
    for bad in ("limit=0", "limit=1001", "offset=-1"):
        r = api.client.get(f"/api/v1/respond/incidents?{bad}", headers=api.ro)
        assert r.status_code == 422, (bad, r.text)

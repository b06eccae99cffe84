"""Persist what the connectors pulled (people, apps, grants) as SaaS observations.

A complete pull replaces that vendor's rows of that kind (things no longer seen disappear);
a partial pull only adds and refreshes, so a failing page never erases what we knew.
Observations hold identifiers and scopes only, never a token.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ringfence.connectors import PullResult, Snapshot
from ringfence.posture.models import SaasObservation


def _json(item: Any) -> dict[str, Any]:
    data = asdict(item)
    for k, v in list(data.items()):
        if isinstance(v, datetime):
            data[k] = v.isoformat()
        elif isinstance(v, tuple):
            data[k] = list(v)
    return data


def _store(session: Session, vendor: str, kind: str, pull: PullResult[Any], now: datetime) -> int:
    existing = {
        r.external_id: r
        for r in session.scalars(
            select(SaasObservation).where(
                SaasObservation.vendor == vendor, SaasObservation.kind == kind
            )
        )
    }
    seen: set[str] = set()
    for item in pull.items:
        ext = str(item.external_id)
        seen.add(ext)
        row = existing.get(ext)
        if row is None:
            session.add(
                SaasObservation(
                    vendor=vendor,
                    kind=kind,
                    external_id=ext,
                    data=_json(item),
                    first_seen=now,
                    last_seen=now,
                )
            )
        else:
            row.data = _json(item)
            row.last_seen = now
    gone = [ext for ext in existing if ext not in seen]
    if pull.complete and gone:
        session.execute(
            delete(SaasObservation).where(
                SaasObservation.vendor == vendor,
                SaasObservation.kind == kind,
                SaasObservation.external_id.in_(gone),
            )
        )
    return len(seen)


def store_snapshot(session: Session, snapshot: Snapshot, now: datetime) -> dict[str, int]:
    """Upsert one connector's snapshot; returns counts per kind."""
    return {
        "people": _store(session, snapshot.vendor, "person", snapshot.people, now),
        "apps": _store(session, snapshot.vendor, "app", snapshot.apps, now),
        "grants": _store(session, snapshot.vendor, "grant", snapshot.grants, now),
    }

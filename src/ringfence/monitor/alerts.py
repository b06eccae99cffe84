"""Alerts: OCSF Detection Findings (2004), de-duplicated, with a lifecycle and an outbox.

A finding with the dedup key of an alert that is still open (new / acknowledged) and was seen
within the suppression window increments that alert instead of creating a new one, so a burst
is one alert with a count. Each new alert is written to the outbox once per configured sink in
the same transaction; delivery (``monitor.sinks``) retries from there, so a sink that is down
loses nothing. An alert never carries a secret: only event ids, entities and a sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.errors import NotFoundError, ValidationError
from ringfence.core.ids import new_id
from ringfence.monitor.batchtx import joined
from ringfence.monitor.events import OCSF_VERSION, Event
from ringfence.monitor.models import Alert, OutboxItem
from ringfence.store import audit
from ringfence.store.db import Store

_LOCK_SEED = 0x414C5254  # "ALRT": alert dedup keys' advisory locks, apart from other users

SEVERITY_ID = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
STATUS_ID = {"new": 1, "acknowledged": 2, "closed": 4}
_ANALYTIC = {
    "rule": (1, "Rule"),
    "correlation": (1, "Rule"),
    "ueba": (2, "Behavioral"),
    "apimon": (3, "Statistical"),
}


@dataclass
class Finding:
    rule_key: str
    title: str
    severity: str
    kind: str  # rule | correlation | ueba | apimon
    entity: str
    sentence: str
    time: datetime
    events: Sequence[Event] = ()
    tags: Sequence[str] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return f"{self.rule_key}|{self.entity}"[:200]


def _scrub(v: Any) -> Any:
    if isinstance(v, str):
        return v.replace("\x00", "\ufffd") if "\x00" in v else v
    if isinstance(v, dict):
        return {_scrub(k): _scrub(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_scrub(x) for x in v]
    return v


def _without_nul(f: Finding) -> Finding:
    """``f`` with every NUL in its texts replaced by U+FFFD. Findings quote event text (a user
    agent, a route name, an extra value) and PostgreSQL refuses NUL in text and jsonb: one
    such finding failed the whole batch's alerts after its events were stored."""
    texts = (f.rule_key, f.title, f.severity, f.kind, f.entity, f.sentence)
    if not any("\x00" in t for t in texts) and "\\u0000" not in _json(f.extra, f.tags):
        return f
    return replace(
        f,
        rule_key=_scrub(f.rule_key),
        title=_scrub(f.title),
        severity=_scrub(f.severity),
        kind=_scrub(f.kind),
        entity=_scrub(f.entity),
        sentence=_scrub(f.sentence),
        tags=_scrub(list(f.tags)),
        extra=_scrub(f.extra),
    )


def _json(extra: dict[str, Any], tags: Sequence[str]) -> str:
    try:
        return orjson.dumps([extra, list(tags)], default=str).decode()
    except (TypeError, ValueError):
        return "\\u0000"  # cannot tell: scrub


def to_ocsf(alert_id: str, f: Finding, count: int, status: str) -> dict[str, Any]:
    type_id, type_name = _ANALYTIC.get(f.kind, (99, "Other"))
    sev = f.severity if f.severity in SEVERITY_ID else "medium"
    return {
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "time": int(f.time.timestamp() * 1000),
        "severity_id": SEVERITY_ID[sev],
        "severity": sev.capitalize(),
        "status_id": STATUS_ID.get(status, 1),
        "status": status.capitalize(),
        "count": count,
        "message": f.sentence,
        "finding_info": {
            "uid": alert_id,
            "title": f.title,
            "desc": f.sentence,
            "types": list(f.tags),
            "analytic": {"uid": f.rule_key, "name": f.title, "type_id": type_id, "type": type_name},
            "related_events": [
                {"uid": e.id, "class_uid": e.class_uid, "time": int(e.time.timestamp() * 1000)}
                for e in list(f.events)[:50]
            ],
        },
        "resources": [{"name": f.entity, "type": "entity"}],
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "Ringfence", "vendor_name": "Ringfence"},
        },
        "unmapped": f.extra,
    }


def _serialise_keys(s: Session, keys: set[str]) -> None:
    """Make workers raising findings of the same key take turns, so the second sees the
    first's alert and counts onto it instead of opening (and sending) a duplicate.

    PostgreSQL: a transaction-scoped advisory lock per key, taken in one statement in the
    order of the lock ids by every worker (no deadlock). SQLite: a no-op write takes the
    database's write lock first (pysqlite opens the transaction right before it), so the
    lookups below cannot read a stale state.
    """
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        # One statement, locks taken in order of their ids (two keys sharing an id are one
        # lock), so every worker takes any pair of them in the same order: no deadlock.
        s.execute(
            text(
                "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, :seed)"
                " AS h FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS locks"
            ),
            {"keys": sorted(keys), "seed": _LOCK_SEED},
        )
    elif dialect == "sqlite":
        s.execute(text("UPDATE monitor_alerts SET count = count WHERE 0"))


@dataclass
class _Tally:
    """An alert's count and last seen while a batch's findings are counted onto it."""

    alert: Alert
    count: int
    last_seen: datetime

    def write(self) -> None:
        a = self.alert
        if self.count != a.count:
            a.count = self.count
            a.last_seen = self.last_seen
            finding = dict(a.finding)  # a new object: the outbox keeps the alert's first one
            finding["count"] = self.count
            a.finding = finding


class AlertStore:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        sinks: Sequence[str] = (),
        suppression: timedelta = timedelta(hours=1),
    ) -> None:
        self.store = store
        self.clock = clock
        self.sinks = list(sinks)
        self.suppression = suppression

    def raise_findings(self, findings: Sequence[Finding]) -> list[Alert]:
        """Create or increment alerts; returns the alerts that are new (outbox written).

        Inside a batch transaction on the same store (``monitor.batchtx``) the findings are
        only recorded, returns [], and are written when the batch is stored."""
        if not findings:
            return []
        tx = joined(self.store)
        if tx is not None:
            # a batch's analysis: written with its events, at the end of the batch
            tx.defer(self, list(findings))
            return []
        with self.store.session() as s:
            return self.write_findings(s, findings)

    def write_findings(self, s: Session, findings: Sequence[Finding]) -> list[Alert]:
        """``raise_findings`` in the caller's transaction (not committed here)."""
        created: list[Alert] = []
        if not findings:
            return created
        findings = [_without_nul(f) for f in findings]
        now = self.clock.now()
        keys = sorted({f.dedup_key for f in findings})
        _serialise_keys(s, set(keys))
        # the newest open alert of every key of the batch, in one query per 500 keys (a
        # query per key was most of a monitor worker's CPU when many events match)
        open_by_key: dict[str, Alert | None] = dict.fromkeys(keys)
        for chunk in (keys[i : i + 500] for i in range(0, len(keys), 500)):
            for alert in s.scalars(
                select(Alert)
                .where(Alert.dedup_key.in_(chunk), Alert.status != "closed")
                .order_by(Alert.dedup_key, Alert.last_seen.desc())
            ):
                if open_by_key[alert.dedup_key] is None:
                    open_by_key[alert.dedup_key] = alert
        # Increments are tallied here, per open alert, and written to the alert once at the
        # end (ORM attribute writes and a copy of the OCSF object per finding were most of
        # this loop); the result is what writing them finding by finding gave.
        tally: dict[str, _Tally] = {
            k: _Tally(a, a.count, a.last_seen) for k, a in open_by_key.items() if a is not None
        }
        # a stable key order: concurrent workers update shared alerts in the same order
        # (no deadlock); stable sort keeps each key's findings in time order
        for f in sorted(findings, key=lambda x: x.dedup_key):
            t = tally.get(f.dedup_key)
            if t is not None and f.time - t.last_seen <= self.suppression:
                t.count += 1
                if f.time > t.last_seen:
                    t.last_seen = f.time
                continue
            alert_id = new_id()
            alert = Alert(
                id=alert_id,
                dedup_key=f.dedup_key,
                rule_id=f.rule_key[:120],
                title=f.title[:300],
                severity=f.severity if f.severity in SEVERITY_ID else "medium",
                status="new",
                first_seen=f.time,
                last_seen=f.time,
                count=1,
                finding=to_ocsf(alert_id, f, 1, "new"),
            )
            s.add(alert)
            for sink in self.sinks:
                s.add(
                    OutboxItem(
                        alert_id=alert_id,
                        sink=sink,
                        revision=1,
                        payload=alert.finding,
                        attempts=0,
                        next_attempt_at=now,
                    )
                )
            if t is not None:
                t.write()
            tally[f.dedup_key] = _Tally(alert, 1, f.time)
            created.append(alert)
        for t in tally.values():
            t.write()
        return created

    def list(self, status: str | None = None, limit: int = 100) -> list[Alert]:
        if status is not None and status not in STATUS_ID:
            raise ValidationError(f"unknown status {status!r}; use new, acknowledged or closed")
        with self.store.session() as s:
            q = select(Alert).order_by(Alert.last_seen.desc()).limit(limit)
            if status:
                q = q.where(Alert.status == status)
            return list(s.scalars(q))

    def set_status(self, alert_id: str, status: str, *, actor: str) -> Alert:
        """Acknowledge or close an alert; one audit record names ``actor`` (the API's caller,
        ``cli``). Closing decides whether anything happens next (a closed alert opens no
        incident, ``Responder.watch_alerts``), so it is never anonymous."""
        if status not in ("acknowledged", "closed"):
            raise ValidationError("status must be acknowledged or closed")
        with self.store.session() as s:
            alert = s.get(Alert, alert_id)
            if alert is None:
                raise NotFoundError(f"no alert {alert_id!r}")
            if alert.status == "closed":
                raise ValidationError(f"alert {alert_id} is already closed")
            before = alert.status
            alert.status = status
            finding = dict(alert.finding)
            finding["status"], finding["status_id"] = status.capitalize(), STATUS_ID[status]
            alert.finding = finding
            if before != status:
                audit.append(
                    s,
                    actor=actor,
                    action="alert.acknowledge" if status == "acknowledged" else "alert.close",
                    entity_type="alert",
                    entity_id=alert.id,
                    before={"status": before},
                    after={"status": status, "rule": alert.rule_id, "severity": alert.severity},
                    clock=self.clock,
                )
            return alert

"""Event storage: idempotent inserts by event id, day partitions on PostgreSQL, dead letters,
retention purge per source, and the query behind ``ringfence hunt``.

Inserting an event that is already stored is a no-op (``ON CONFLICT DO NOTHING``), and
``store_events`` returns only the ids that were new — so a redelivered bus message, a re-run
import or a restarted worker never duplicates an event nor re-alerts on it. Never deletes an
event outside the retention policy it is given.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ringfence.core.errors import ValidationError
from ringfence.monitor.events import Event, document_body
from ringfence.monitor.models import DeadLetter, MonitorEvent
from ringfence.store.db import Store

MAX_DEAD_LETTER_PAYLOAD = 64 * 1024
DEFAULT_RETENTION_DAYS = 90


def _row(e: Event, now: datetime) -> dict[str, Any]:
    return {
        "id": e.id,
        "ts": e.time,
        "source": e.source,
        "product": e.product,
        "service": e.service,
        "class_uid": e.class_uid,
        "activity_id": e.activity_id,
        "action": e.action[:200],
        "actor": e.actor[:320] if e.actor else None,
        "src_ip": e.src_ip[:64] if e.src_ip else None,
        "status_id": e.status_id,
        "severity_id": e.severity_id,
        "ingested_at": now,
        "body": encode_body(e),
    }


def unstorable(e: Event) -> str | None:
    """Why ``e`` cannot be stored, or None. Serialises its body now (kept on ``e.body``, so
    storage does not do it twice): a record nested deeper than the JSON encoder goes (255
    levels) or holding a lone surrogate fails here, not in the middle of a batch. A NUL in a
    text column (PostgreSQL refuses it in text, and one such row failed the whole COPY) is
    refused too; NULs inside the documents are escaped in the JSON body and harmless."""
    for name in ("id", "source", "product", "service", "action", "actor", "src_ip"):
        value = getattr(e, name)
        if isinstance(value, str) and "\x00" in value:
            return f"NUL character in {name}"
    if e.body is None:
        try:
            e.body = document_body(e.ocsf, e.raw)
        except (TypeError, ValueError, RecursionError) as exc:  # orjson.JSONEncodeError
            return f"record cannot be serialised: {str(exc)[:200]}"
    return None


def _no_nul(v: str) -> str:
    return v.replace("\x00", "\\x00")


def is_data_error(exc: BaseException) -> bool:
    """True when storing failed because of what a batch holds (a value the engine refuses),
    not because the database is unreachable or busy: splitting the batch can then store the
    rest. Connection, lock and timeout errors are not data errors (retry the whole batch)."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.DataError | sa_exc.IntegrityError | sa_exc.ProgrammingError):
        return True
    if isinstance(exc, sa_exc.StatementError) and not isinstance(exc, sa_exc.DBAPIError):
        return True  # a value the driver could not bind
    try:
        import psycopg
    except ImportError:  # pragma: no cover - PostgreSQL support not installed
        pass
    else:
        if isinstance(exc, psycopg.DataError | psycopg.IntegrityError | psycopg.ProgrammingError):
            return True
    return isinstance(exc, ValueError | TypeError | OverflowError | RecursionError)


def encode_body(e: Event) -> bytes:
    """What ``monitor_events.body`` holds: the OCSF object and the vendor record, as JSON
    (made when the event was decoded from the bus, else now)."""
    return e.body if e.body is not None else document_body(e.ocsf, e.raw)


def row_to_event(r: MonitorEvent) -> Event:
    doc = orjson.loads(r.body)
    return Event(
        id=r.id,
        time=r.ts,
        source=r.source,
        class_uid=r.class_uid,
        activity_id=r.activity_id,
        action=r.action,
        ocsf=doc["ocsf"],
        raw=doc["raw"],
        actor=r.actor,
        src_ip=r.src_ip,
        status_id=r.status_id,
        severity_id=r.severity_id,
        product=r.product,
        service=r.service,
    )


class EventStore:
    """Monitoring storage on the shared ``Store`` (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._partitions: set[date] = set()
        self._toast_lz4: bool | None = None  # PostgreSQL: does the server offer lz4 TOAST?

    @property
    def partitioned(self) -> bool:
        return self.store.dialect == "postgresql"

    # -- partitions ---------------------------------------------------------------------
    def _ensure_partitions(self, days: Iterable[date]) -> None:
        missing = sorted(set(days) - self._partitions)
        if not missing or not self.partitioned:
            self._partitions.update(missing)
            return
        with self.store.engine.begin() as conn:
            for day in missing:
                # Serialise concurrent workers creating the same partition.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(day)})
                nxt = day + timedelta(days=1)
                conn.execute(
                    text(
                        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF "
                        f"monitor_events FOR VALUES FROM ('{day.isoformat()} 00:00:00+00') "
                        f"TO ('{nxt.isoformat()} 00:00:00+00')"
                    )
                )
        self._partitions.update(missing)

    def partitions(self) -> list[str]:
        if not self.partitioned:
            return []
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'monitor_events' "
                    "ORDER BY c.relname"
                )
            )
            return [r[0] for r in rows]

    # -- writes -------------------------------------------------------------------------
    def store_events(
        self, events: Sequence[Event], now: datetime, session: Session | None = None
    ) -> list[str]:
        """Insert events; returns the ids that were not stored before (in input order). With
        ``session``, in its transaction (committed by its owner), else in one of its own.

        In a transaction, an id another transaction is inserting at the same time waits for
        that one to end (the primary key's uniqueness check): the ids returned are the ones
        this transaction, once committed, stored — never also those of a concurrent one."""
        if not events:
            return []
        unique: dict[str, Event] = {}
        for e in events:
            unique.setdefault(e.id, e)
        self._ensure_partitions(e.time.astimezone(UTC).date() for e in unique.values())
        if self.store.dialect == "postgresql":
            rows = [_copy_row(e, now) for e in unique.values()]
            if session is None:
                with self.store.engine.begin() as conn:
                    new = self._insert_pg(conn, rows)
            else:
                new = self._insert_pg(session.connection(), rows)
        else:
            dict_rows = [_row(e, now) for e in unique.values()]
            if session is None:
                with self.store.engine.begin() as conn:
                    new = self._insert_sqlite(conn, dict_rows)
            else:
                new = self._insert_sqlite(session.connection(), dict_rows)
        return [i for i in unique if i in new]

    def _insert_sqlite(self, conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
        ins = sqlite.insert(MonitorEvent).on_conflict_do_nothing().returning(MonitorEvent.id)
        new: set[str] = set()
        # executemany with RETURNING ("insertmanyvalues"): compiled once, batched by the driver
        for chunk in _chunks(rows, 1000):
            new.update(r[0] for r in conn.execute(ins, chunk))
        return new

    def _insert_pg(self, conn: Connection, rows: list[tuple[Any, ...]]) -> set[str]:
        """One transaction per batch, large bodies compressed with lz4 where the server has it
        (PostgreSQL 14+ built with lz4; else its default, pglz). Fast path: ``COPY`` straight
        into ``monitor_events`` inside a savepoint — the common case, where no event of the
        batch is stored yet, then costs one COPY and nothing else. If any event already exists
        (a redelivered bus message, a re-run import, a concurrent worker holding the same
        batch), COPY fails with a unique violation as a whole, the savepoint is rolled back and
        the batch goes the slow path: COPY into a session temp table, then one
        ``INSERT .. SELECT .. ON CONFLICT DO NOTHING RETURNING id``. Either way all-or-nothing.
        """
        import psycopg

        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur:
            if self._toast_lz4 is None:
                cur.execute(
                    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                    "WHERE name = 'default_toast_compression'"
                )
                found = cur.fetchone()
                self._toast_lz4 = bool(found and found[0])
            # Bodies over ~2 KB (Okta's records: a fifth of the bench's stream) are
            # compressed when stored; lz4 instead of pglz saved the server ~3 µs per
            # event of the bench on average. This transaction only; reads take either.
            cur.execute(
                "SET LOCAL default_toast_compression = lz4; SAVEPOINT rf_events_copy"
                if self._toast_lz4
                else "SAVEPOINT rf_events_copy"
            )
            try:
                _copy_rows(cur, "monitor_events", rows)
            except psycopg.errors.UniqueViolation:
                cur.execute("ROLLBACK TO SAVEPOINT rf_events_copy")
            else:
                cur.execute("RELEASE SAVEPOINT rf_events_copy")
                return {r[0] for r in rows}
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS _rf_events_load "
                "(LIKE monitor_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            _copy_rows(cur, "_rf_events_load", rows)
            cur.execute(
                f"INSERT INTO monitor_events ({_COLS}) SELECT {_COLS} FROM _rf_events_load "
                "ON CONFLICT DO NOTHING RETURNING id"
            )
            return {row[0] for row in cur.fetchall()}

    def dead_letter(
        self,
        session: Session,
        *,
        source: str,
        origin: str,
        line_no: int | None,
        reason: str,
        payload: str,
        now: datetime,
    ) -> None:
        session.add(
            DeadLetter(
                received_at=now,
                source=source,
                # PostgreSQL refuses NUL in text: a NUL byte in a line that is not JSON would
                # otherwise fail the dead letter (and the whole push) instead of recording it
                origin=_no_nul(origin[:200]),
                line_no=line_no,
                reason=_no_nul(reason[:2000]),
                payload=_no_nul(payload[:MAX_DEAD_LETTER_PAYLOAD]),
            )
        )

    def dead_letter_counts(self) -> dict[str, int]:
        with self.store.session() as s:
            rows = s.execute(
                select(DeadLetter.source, func.count()).group_by(DeadLetter.source)
            ).all()
            return {r[0]: int(r[1]) for r in rows}

    def dead_letters(self, source: str | None = None, limit: int = 100) -> list[DeadLetter]:
        with self.store.session() as s:
            q = select(DeadLetter).order_by(DeadLetter.received_at.desc()).limit(limit)
            if source:
                q = q.where(DeadLetter.source == source)
            return list(s.scalars(q))

    def count(self, source: str | None = None) -> int:
        with self.store.session() as s:
            q = select(func.count()).select_from(MonitorEvent)
            if source:
                q = q.where(MonitorEvent.source == source)
            return int(s.scalar(q) or 0)

    def count_distinct_ids(self) -> int:
        with self.store.session() as s:
            return int(s.scalar(select(func.count(func.distinct(MonitorEvent.id)))) or 0)

    # -- retention ----------------------------------------------------------------------
    def purge(
        self,
        now: datetime,
        retention_days: dict[str, int],
        default_days: int = DEFAULT_RETENTION_DAYS,
    ) -> dict[str, int]:
        """Delete events older than each source's retention; drop fully expired partitions."""
        for source, days in retention_days.items():
            if days < 1:
                raise ValidationError(f"retention for {source!r} must be at least 1 day")
        removed: dict[str, int] = {}
        with self.store.session() as s:
            sources = [r[0] for r in s.execute(select(MonitorEvent.source).distinct())]
            for source in sources:
                days = retention_days.get(source, default_days)
                cutoff = now - timedelta(days=days)
                res: Any = s.execute(
                    delete(MonitorEvent).where(
                        MonitorEvent.source == source, MonitorEvent.ts < cutoff
                    )
                )
                if res.rowcount:
                    removed[source] = int(res.rowcount)
        if self.partitioned:
            longest = max([default_days, *retention_days.values()])
            oldest_kept = (now - timedelta(days=longest)).date()
            for name in self.partitions():
                day = _partition_day(name)
                if day is not None and day < oldest_kept:
                    with self.store.engine.begin() as conn:
                        conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
                    self._partitions.discard(day)
        return removed

    # -- hunting ------------------------------------------------------------------------
    def hunt(self, query: HuntQuery) -> list[Event]:
        return self.hunt_page(query).events

    def hunt_page(self, query: HuntQuery) -> HuntResult:
        """The events ``query`` matches, newest first, and how many stored rows were read.

        Field filters run here, in Python, over every row the SQL conditions leave: a filter
        that matches nothing reads the whole table. ``query.max_scan`` bounds that (the REST
        API sets it, so one request cannot pin a worker for minutes); ``complete`` is False
        when the bound stopped the search before ``limit`` events were found."""
        with self.store.session() as s:
            q = select(MonitorEvent).order_by(MonitorEvent.ts.desc())
            if query.since:
                q = q.where(MonitorEvent.ts >= query.since)
            if query.until:
                q = q.where(MonitorEvent.ts < query.until)
            if query.sources:
                q = q.where(MonitorEvent.source.in_(query.sources))
            if query.class_uids:
                q = q.where(MonitorEvent.class_uid.in_(query.class_uids))
            if query.actions:
                q = q.where(MonitorEvent.action.in_(query.actions))
            if query.entity:
                q = q.where(
                    (MonitorEvent.actor == query.entity) | (MonitorEvent.src_ip == query.entity)
                )
            out: list[Event] = []
            # Field filters run on the decoded JSON (portable across engines); page through.
            offset = 0
            page = 2000
            complete = True
            while len(out) < query.limit:
                size = page
                if query.max_scan is not None:
                    size = min(page, query.max_scan - offset)
                    if size <= 0:
                        complete = False
                        break
                rows = list(s.scalars(q.offset(offset).limit(size)))
                if not rows:
                    break
                offset += len(rows)
                for r in rows:
                    ev = row_to_event(r)
                    if all(f.matches(ev) for f in query.filters):
                        out.append(ev)
                        if len(out) >= query.limit:
                            break
            return HuntResult(out, offset, complete)


@dataclass(frozen=True)
class FieldFilter:
    """``path=value`` (equals, case-insensitive), ``path!=value``, ``path~value`` (contains)."""

    path: str
    op: str
    value: str

    @classmethod
    def parse(cls, spec: str) -> FieldFilter:
        for op in ("!=", "~", "="):
            if op in spec:
                path, _, value = spec.partition(op)
                path = path.strip()
                if not path:
                    break
                return cls(path=path, op=op, value=value.strip())
        raise ValidationError(
            f"bad field filter {spec!r}: expected PATH=VALUE, PATH!=VALUE or PATH~VALUE"
        )

    def matches(self, event: Event) -> bool:
        from ringfence.monitor.sigma.paths import resolve

        values = [str(v).lower() for v in resolve(event.view(), self.path)]
        want = self.value.lower()
        if self.op == "=":
            return want in values
        if self.op == "!=":
            return want not in values
        return any(want in v for v in values)


@dataclass
class HuntQuery:
    since: datetime | None = None
    until: datetime | None = None
    sources: list[str] = field(default_factory=list)
    class_uids: list[int] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    entity: str | None = None
    filters: list[FieldFilter] = field(default_factory=list)
    limit: int = 100
    # Stored rows a search may read before it stops (None: all of them, e.g. the CLI).
    max_scan: int | None = None


@dataclass(frozen=True)
class HuntResult:
    events: list[Event]
    scanned: int  # stored rows read (at most ``max_scan`` + the rows of the page in hand)
    complete: bool  # False: ``max_scan`` stopped the search before ``limit`` events


_PLAIN_COLS = (
    "id",
    "ts",
    "source",
    "product",
    "service",
    "class_uid",
    "activity_id",
    "action",
    "actor",
    "src_ip",
    "status_id",
    "severity_id",
    "ingested_at",
)
_COLS = ", ".join((*_PLAIN_COLS, "body"))
# PostgreSQL types of _COLS for binary COPY (no text parsing of timestamps/ints on the server)
_COPY_TYPES = [
    "text",
    "timestamptz",
    "text",
    "text",
    "text",
    "int4",
    "int4",
    "text",
    "text",
    "text",
    "int2",
    "int2",
    "timestamptz",
    "bytea",
]


def _copy_row(e: Event, now: datetime) -> tuple[Any, ...]:
    """``_row`` as a tuple in ``_COLS`` order (what binary COPY writes)."""
    return (
        e.id,
        e.time,
        e.source,
        e.product,
        e.service,
        e.class_uid,
        e.activity_id,
        e.action[:200],
        e.actor[:320] if e.actor else None,
        e.src_ip[:64] if e.src_ip else None,
        e.status_id,
        e.severity_id,
        now,
        encode_body(e),
    )


def _copy_rows(cur: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    with cur.copy(f"COPY {table} ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_COPY_TYPES)
        for r in rows:
            copy.write_row(r)


def partition_name(day: date) -> str:
    return f"monitor_events_p{day.strftime('%Y%m%d')}"


def _partition_day(name: str) -> date | None:
    try:
        return datetime.strptime(name.rsplit("_p", 1)[1], "%Y%m%d").date()
    except (IndexError, ValueError):
        return None


def _lock_key(day: date) -> int:
    return zlib.crc32(f"monitor_events:{day.isoformat()}".encode())


def _chunks(rows: list[dict[str, Any]], n: int) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(rows), n):
        yield rows[i : i + n]

"""The monitor pipeline of one process: store a batch's events and analyse the new ones, in
one transaction.

``Monitor.process`` is what a bus worker (or the embedded in-process path) calls with a batch
of events. In one database transaction (``monitor.batchtx``) it inserts the events (the
insert says which ids were not stored yet), runs the analysers (Sigma, UEBA, API monitoring)
over exactly those, writes the baselines they moved and the alerts they raised, and commits;
it returns only then. Stored therefore means analysed, atomically: a batch redelivered after
anything failed (storage, analysis, the commit) finds nothing of its own committed and is
analysed once, as if for the first time — its alerts are not counted twice, UEBA baselines
not moved twice, and the analysers' windows in memory are put back (``checkpoint`` /
``rollback``) — and a batch redelivered after the commit (only the ack was lost, or a second
worker held it) inserts nothing and analyses nothing. It must never acknowledge (return)
before that commit.

An event that cannot be stored, or whose analysis fails with anything but an outage (a bug an
odd record triggers), is isolated by halving its batch and dead-lettered alone with the reason;
the rest of the batch is stored and analysed. An outage (the database unreachable, a lock
timeout) fails the whole batch, which the bus delivers again.

The analysers keep windows in memory (correlations, API monitoring, UEBA's cache), so one
``Monitor`` serves a whole process and ``process`` lets one caller in at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.errors import UnavailableError
from ringfence.core.logging import get_logger
from ringfence.monitor import batchtx
from ringfence.monitor.events import Event, document_body
from ringfence.monitor.storage import (
    MAX_DEAD_LETTER_PAYLOAD,
    EventStore,
    is_data_error,
    unstorable,
)
from ringfence.store.db import Store

_log = get_logger(__name__)


class Analyser(Protocol):
    """Consumes a batch's new events (detection engines implement this). Optionally also
    ``checkpoint()``, ``commit()`` and ``rollback()``: called around each batch, so state kept
    in memory can be put back when the batch's transaction fails."""

    def analyse(self, events: Sequence[Event]) -> None: ...


_STALE_RETRIES = 5


class AnalysisError(Exception):
    """An analyser failed on a batch for a reason other than an outage."""


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says a service is unreachable or busy (retry the batch as a whole),
    not that something in the batch is wrong."""
    from sqlalchemy import exc as sa_exc

    if is_data_error(exc):
        return False
    if isinstance(
        exc,
        sa_exc.DBAPIError | sa_exc.TimeoutError | OSError | TimeoutError | UnavailableError,
    ):
        return True
    try:  # the raw driver's own errors (storage's COPY path talks to psycopg directly)
        import psycopg
    except ImportError:  # pragma: no cover - PostgreSQL support not installed
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


class Monitor:
    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        analysers: Sequence[Analyser] = (),
    ) -> None:
        self.events = EventStore(store)
        self.clock = clock or SystemClock()
        self.analysers = list(analysers)
        self._lock = threading.Lock()

        def hooks(name: str) -> list[Callable[[], None]]:
            found = (getattr(a, name, None) for a in self.analysers)
            return [h for h in found if callable(h)]

        self._checkpoint, self._commit, self._rollback = (
            hooks("checkpoint"),
            hooks("commit"),
            hooks("rollback"),
        )
        self.analysis_failures = 0  # events dead-lettered because their analysis failed
        self.stale_retries = 0  # batch transactions run again: another worker moved state

    def process(self, events: Sequence[Event]) -> int:
        """Store ``events`` and analyse the new ones; return how many were new."""
        if not events:
            return 0
        with self._lock:
            return self._process(events)

    def _process(self, events: Sequence[Event]) -> int:
        now = self.clock.now()
        storable: list[Event] = []
        letters: list[tuple[Event, str]] = []
        for e in events:
            reason = unstorable(e)
            if reason is None:
                storable.append(e)
            else:
                letters.append((e, reason))
        return len(self._store_analysed(storable, now, letters))

    def _store_analysed(
        self, events: list[Event], now: datetime, letters: Sequence[tuple[Event, str]] = ()
    ) -> list[str]:
        """``_transaction``; a batch refused for what it holds is halved until the event at
        fault is alone, then dead-lettered (the rest stored and analysed). ``letters`` (events
        that cannot be stored, with why) are dead-lettered in the first transaction that
        commits, so a batch that fails and comes again does not dead-letter them twice."""
        if not events:
            self._dead_letters(letters, now)
            return []
        try:
            return self._transaction_retried(events, now, letters)
        except AnalysisError as exc:
            cause = exc.__cause__ or exc
            reason = f"analysis failed: {type(cause).__name__}: {str(cause)[:300]}"
            if len(events) == 1:
                self.analysis_failures += 1
                _log.error("event analysis failed", event_id=events[0].id[:36], error=reason)
        except Exception as exc:
            if not is_data_error(exc):
                raise
            reason = f"refused by the store: {type(exc).__name__}"
        if len(events) == 1:
            self._dead_letters([*letters, (events[0], reason)], now)
            return []
        mid = len(events) // 2
        first = self._store_analysed(events[:mid], now, letters)
        return first + self._store_analysed(events[mid:], now)

    def _transaction_retried(
        self, events: list[Event], now: datetime, letters: Sequence[tuple[Event, str]]
    ) -> list[str]:
        """``_transaction``, run again when another worker changed state it had read (a UEBA
        baseline): the rollback made the analysers forget it, so the next run reads it anew."""
        for attempt in range(1, _STALE_RETRIES + 1):
            try:
                return self._transaction(events, now, letters)
            except batchtx.StaleState as exc:
                self.stale_retries += 1
                if attempt == _STALE_RETRIES:
                    raise UnavailableError(
                        f"monitor state kept changing under this batch ({exc}); retry later"
                    ) from None
        raise AssertionError("unreachable")

    def _transaction(
        self, events: list[Event], now: datetime, letters: Sequence[tuple[Event, str]] = ()
    ) -> list[str]:
        """Insert ``events``, analyse the new ones and write what the analysis found, in one
        transaction; the analysers' memory is rolled back with it if anything fails."""
        store = self.events.store
        for hook in self._checkpoint:
            hook()
        try:
            with store.session() as s:
                tx = batchtx.BatchTransaction(store, s)
                token = batchtx.enter(tx)
                try:
                    new = self.events.store_events(events, now, session=s)
                    if new:
                        fresh_ids = set(new)
                        fresh: list[Event] = []
                        for e in events:
                            if e.id in fresh_ids:
                                fresh.append(e)
                                fresh_ids.discard(e.id)  # a repeated id: analysed once
                        try:
                            for analyser in self.analysers:
                                analyser.analyse(fresh)
                            tx.raise_pending()
                        except Exception as exc:
                            if is_outage(exc) or isinstance(exc, batchtx.StaleState):
                                raise
                            raise AnalysisError(str(exc)) from exc
                    # with the batch's first commit: a delivery that finds all of it stored
                    # (only the ack was lost) wrote them already
                    for e, reason in letters if new else ():
                        self._letter(s, e, reason, now)
                finally:
                    batchtx.leave(token)
        except BaseException:
            for hook in self._rollback:
                hook()
            raise
        for hook in self._commit:
            hook()
        return new

    def dead_letter_message(self, data: bytes, reason: str) -> None:
        """Store a bus message the bus gave up on: each of its events as a dead letter with
        ``reason`` (and its body), or, when it is not a batch of events, the message itself
        (cut to the dead letters' payload limit, which the reason then says)."""
        from ringfence.bus.base import decode_batch

        now = self.clock.now()
        try:
            events = decode_batch(data)
        except ValueError:
            events = []
        if not events:
            text = data.decode("utf-8", "replace")
            cut = len(text) > MAX_DEAD_LETTER_PAYLOAD
            with self.events.store.session() as s:
                self.events.dead_letter(
                    s,
                    source="bus",
                    origin="bus",
                    line_no=None,
                    reason=reason + (f"; payload cut from {len(data)} bytes" if cut else ""),
                    payload=text,
                    now=now,
                )
            return
        self._dead_letters([(e, reason) for e in events], now, origin="bus")

    def _dead_letters(
        self, letters: Sequence[tuple[Event, str]], now: datetime, origin: str = "monitor"
    ) -> None:
        if not letters:
            return
        with self.events.store.session() as s:
            for e, reason in letters:
                self._letter(s, e, reason, now, origin)

    def _letter(
        self, s: Session, e: Event, reason: str, now: datetime, origin: str = "monitor"
    ) -> None:
        _log.warning("event dead-lettered", event_id=e.id[:36], source=e.source, reason=reason)
        try:
            payload = (e.body or document_body(e.ocsf, e.raw)).decode()
        except (TypeError, ValueError, RecursionError):
            payload = f"(not serialisable) event {e.id[:36]!r} of {e.source[:40]!r}"
        self.events.dead_letter(
            s,
            source=e.source[:40],
            origin=origin,
            line_no=None,
            reason=reason,
            payload=payload,
            now=now,
        )

"""The one transaction a batch of events is stored and analysed in.

``Monitor.process`` opens it, inserts the batch's events (the insert says which ids are new),
runs the analysers over exactly those, and commits once: the events, the UEBA baselines they
moved and the alerts they raised are durable together or not at all. The stored events are the
"analysed" marker: a batch redelivered after any failure (storage, analysis, the commit) finds
nothing of its own committed and is analysed once more from scratch, and a batch redelivered
after the commit (a lost ack, a second worker holding it) inserts nothing new and analyses
nothing.

The analysers keep their interface (``analyse(events)``); the stores they write through
(``AlertStore``, ``Ueba``) join the open transaction of their ``Store`` when there is one
(:func:`joined`), and alerts are raised once, at the end, in a stable key order (workers take
the alert locks after the baseline rows, in the same order: no deadlock between them). Never
commits: only ``Monitor`` does.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ringfence.monitor.alerts import AlertStore, Finding
    from ringfence.store.db import Store


class StaleState(Exception):
    """What the batch's analysis read was changed by another worker since (a UEBA baseline
    cached by this process, updated by another): the transaction is rolled back, the stale
    state forgotten, and ``Monitor`` runs the batch again."""


@dataclass
class BatchTransaction:
    store: Store
    session: Session
    # findings raised during the analysis, per alert store (by identity), in raise order
    pending: dict[int, tuple[AlertStore, list[Finding]]] = field(default_factory=dict)

    def defer(self, alerts: AlertStore, findings: list[Finding]) -> None:
        entry = self.pending.get(id(alerts))
        if entry is None:
            self.pending[id(alerts)] = (alerts, list(findings))
        else:
            entry[1].extend(findings)

    def raise_pending(self) -> None:
        for alerts, findings in self.pending.values():
            alerts.write_findings(self.session, findings)
        self.pending.clear()


_current: ContextVar[BatchTransaction | None] = ContextVar("ringfence_batch_tx", default=None)


def joined(store: Store) -> BatchTransaction | None:
    """The batch transaction open on ``store`` in this thread, if any."""
    tx = _current.get()
    return tx if tx is not None and tx.store is store else None


def enter(tx: BatchTransaction) -> Any:
    return _current.set(tx)


def leave(token: Any) -> None:
    _current.reset(token)

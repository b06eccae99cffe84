"""The Sigma analyser: runs the rule set over a batch's new events and raises alerts.

``Monitor.process`` runs it inside the batch's transaction over the events that transaction
inserted, so an event redelivered after a lost ack is not evaluated twice, and one whose
transaction failed is evaluated again — with the correlation windows put back as they were
(``checkpoint`` / ``rollback``). Never raises on a rule error: matching is total over any
event shape.
"""

from __future__ import annotations

from collections.abc import Sequence

from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.events import Event
from ringfence.monitor.sigma.engine import Detection, RuleSet


class SigmaDetector:
    def __init__(self, rules: RuleSet, alerts: AlertStore) -> None:
        self.rules = rules
        self.alerts = alerts

    def analyse(self, events: Sequence[Event]) -> None:
        detections = self.rules.evaluate(events)
        if detections:
            self.alerts.raise_findings([to_finding(d) for d in detections])

    # ``Monitor`` brackets each batch's analysis with these: the correlation windows it
    # moved are put back when the batch's transaction fails (the batch comes again)
    def checkpoint(self) -> None:
        self.rules.checkpoint()

    def commit(self) -> None:
        self.rules.commit()

    def rollback(self) -> None:
        self.rules.rollback()


def to_finding(d: Detection) -> Finding:
    last = d.events[-1]
    entity = last.actor or last.src_ip or "unknown"
    return Finding(
        rule_key=d.rule_key,
        title=d.title,
        severity=d.level,
        kind=d.kind,
        entity=entity,
        sentence=d.sentence,
        time=last.time,
        events=d.events,
        tags=d.tags,
    )

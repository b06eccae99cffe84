"""Review 9 (found while fixing #3): a finding quoting event text with a NUL (a user agent, a
route name) is stored on PostgreSQL too — NUL in text/jsonb failed the batch's alerts."""

from __future__ import annotations

from ringfence.core.clock import FixedClock
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.store.db import Store


def test_a_finding_with_nul_characters_is_stored_and_sent(store_url: str) -> None:
    store = Store(store_url)
    clock = FixedClock()
    try:
        alerts = AlertStore(store, clock, sinks=["siem"])
        f = Finding(
            "ueba:new_user_agent",
            "New user agent for bob\x00",
            "medium",
            "ueba",
            "bob\x00@example.com",
            "bob used a new user agent evil\x00agent",
            clock.now(),
            tags=["ueba", "x\x00"],
            extra={"value": "evil\x00agent", "nested": [{"k\x00": "v\x00"}]},
        )
        (a,) = alerts.raise_findings([f])
        (stored,) = alerts.list(limit=10)
        assert stored.id == a.id
        assert stored.finding["message"] == "bob used a new user agent evil\ufffdagent"
        assert stored.finding["unmapped"] == {
            "value": "evil\ufffdagent",
            "nested": [{"k\ufffd": "v\ufffd"}],
        }
        assert alerts.raise_findings([f]) == []  # the same key: counted onto the same alert
        assert alerts.list(limit=10)[0].count == 2
    finally:
        store.dispose()

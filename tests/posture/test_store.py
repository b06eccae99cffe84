"""Posture on the store (SQLite and PostgreSQL): migration, loading the context from an
applied estate and SaaS observations, findings lifecycle with risk acceptance and history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from ringfence.connectors import (
    DiscoveredApp,
    DiscoveredGrant,
    DiscoveredPerson,
    PullResult,
    Snapshot,
)
from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConflictError, NotFoundError, ValidationError
from ringfence.inventory import apply_estate, parse_estate
from ringfence.posture import lifecycle, run_checks
from ringfence.posture.loader import load_context
from ringfence.posture.models import PostureFinding, SaasObservation
from ringfence.posture.observations import store_snapshot
from ringfence.store.audit import verify
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord

NOW = datetime(2026, 3, 1, tzinfo=UTC)

ESTATE = """
apiVersion: ringfence/v1
people:
  - {email: owner@corp.example, name: Olive Owner}
  - {email: leaver@corp.example, name: Leo Leaver, active: false}
vendors:
  - {name: Acme}
apps:
  - name: CRM
    vendor: Acme
    base_urls: ["http://crm.acme.example"]
    owner: owner@corp.example
    clearance: confidential
    data_classes: [internal]
    retention_days: {internal: 365}
  - name: Chat
    vendor: Acme
    category: chat
    base_urls: ["https://chat.acme.example"]
    owner: owner@corp.example
    clearance: internal
integrations:
  - name: crm-chat
    source: CRM
    destination: Chat
    owner: leaver@corp.example
    client_id: cid-1
    scopes: ["chat:write", "admin"]
    data_classes: [internal]
"""


@pytest.fixture
def estate_store(store: Store) -> Store:
    """The estate on SQLite and on PostgreSQL."""
    apply_estate(store, parse_estate(ESTATE), clock=FixedClock(NOW))
    return store


@pytest.fixture
def lite_store(tmp_path: Path) -> Iterator[Store]:
    """SQLite only, for behaviour that does not depend on the engine (keeps the run fast)."""
    s = Store(f"sqlite:///{tmp_path / 'posture.db'}")
    s.migrate()
    apply_estate(s, parse_estate(ESTATE), clock=FixedClock(NOW))
    yield s
    s.dispose()


def snapshot() -> Snapshot:
    return Snapshot(
        vendor="slack",
        people=PullResult(
            [
                DiscoveredPerson(
                    "slack", "U1", "owner", "owner@corp.example", is_admin=True, mfa_enabled=False
                )
            ]
        ),
        apps=PullResult([DiscoveredApp("slack", "A9", "Notes Bot", "cid-9", ("im:history",))]),
        grants=PullResult(
            [
                DiscoveredGrant(
                    "slack", "A9/U1", "Notes Bot", "cid-9", "U1", ("im:history",), created_at=NOW
                )
            ]
        ),
    )


def test_migration_creates_the_posture_tables(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"posture_findings", "posture_finding_events", "saas_observations"} <= tables
    assert "0004_posture" in store.current_revisions()


def test_context_loads_estate_and_observations(estate_store: Store) -> None:
    with estate_store.session() as s:
        store_snapshot(s, snapshot(), NOW)
    with estate_store.session() as s:
        ctx = load_context(s, NOW)
    assert {a.name for a in ctx.apps} == {"CRM", "Chat"}
    assert ctx.integrations[0].scopes == ("chat:write", "admin")
    assert ctx.saas is not None and ctx.saas.vendors_pulled == {"slack"}
    assert ctx.saas.grants[0].scopes == ("im:history",)
    report = run_checks(ctx)
    failing = {r.meta.id for r in report.results if r.status == "fail"}
    assert {
        "RF-API-001",
        "RF-IDN-005",
        "RF-LPV-004",
        "RF-IDN-001",
        "RF-SHD-003",
        "RF-LPV-006",
    } <= failing


def test_partial_pull_keeps_what_was_known(lite_store: Store) -> None:
    with lite_store.session() as s:
        store_snapshot(s, snapshot(), NOW)
    broken = snapshot()
    broken.grants = PullResult([], error=None)
    from ringfence.connectors import ConnectorError

    broken.apps = PullResult([], error=ConnectorError("boom", vendor="slack", operation="x"))
    with lite_store.session() as s:
        store_snapshot(s, broken, NOW + timedelta(hours=1))
    with lite_store.session() as s:
        kinds = sorted(r.kind for r in s.scalars(select(SaasObservation)))
    # the app survives (partial pull), the grant is gone (complete pull without it)
    assert kinds == ["app", "person"]


def _run(store: Store, now: datetime) -> lifecycle.SyncSummary:
    with store.session() as s:
        ctx = load_context(s, now)
    report = run_checks(ctx, only=["RF-API-001", "RF-IDN-005"])
    with store.session() as s:
        return lifecycle.sync_findings(s, report)


def test_findings_open_resolve_and_reopen_with_history(estate_store: Store) -> None:
    first = _run(estate_store, NOW)
    assert first.opened == 2
    again = _run(estate_store, NOW + timedelta(hours=1))
    assert again.opened == 0 and again.still_open == 2
    # fix the plaintext URL: the finding resolves on the next run
    with estate_store.session() as s:
        from ringfence.store.models import App

        crm = s.scalar(select(App).where(App.name == "CRM"))
        assert crm is not None
        crm.base_urls = ["https://crm.acme.example"]
    fixed = _run(estate_store, NOW + timedelta(hours=2))
    assert fixed.resolved == 1
    with estate_store.session() as s:
        crm = s.scalar(select(App).where(App.name == "CRM"))
        assert crm is not None
        crm.base_urls = ["http://crm.acme.example"]
    back = _run(estate_store, NOW + timedelta(hours=3))
    assert back.reopened == 1
    with estate_store.session() as s:
        row = s.scalar(select(PostureFinding).where(PostureFinding.check_id == "RF-API-001"))
        assert row is not None and row.status == "open" and row.occurrences == 3
        events = [e.to_status for e in lifecycle.history(s, row.id)]
    assert events == ["open", "resolved", "open"]


def test_risk_acceptance_needs_justification_approver_and_expires(lite_store: Store) -> None:
    _run(lite_store, NOW)
    with lite_store.session() as s:
        row = s.scalar(select(PostureFinding).where(PostureFinding.check_id == "RF-IDN-005"))
        assert row is not None
        fid = row.id
    bad = [
        dict(justification="short", approver="ciso", accepted_by="me", until=NOW + timedelta(1)),
        dict(
            justification="migration planned in Q2",
            approver="",
            accepted_by="me",
            until=NOW + timedelta(1),
        ),
        dict(
            justification="migration planned in Q2",
            approver="me",
            accepted_by="me",
            until=NOW + timedelta(1),
        ),
        dict(
            justification="migration planned in Q2",
            approver="ciso",
            accepted_by="me",
            until=NOW - timedelta(1),
        ),
        dict(
            justification="migration planned in Q2",
            approver="ciso",
            accepted_by="me",
            until=NOW + timedelta(days=400),
        ),
    ]
    for kwargs in bad:
        with pytest.raises(ValidationError), lite_store.session() as s:
            lifecycle.accept_risk(s, fid, now=NOW, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError), lite_store.session() as s:
        lifecycle.accept_risk(
            s,
            "nope",
            justification="migration planned in Q2",
            approver="ciso",
            accepted_by="me",
            until=NOW + timedelta(1),
            now=NOW,
        )
    with lite_store.session() as s:
        lifecycle.accept_risk(
            s,
            fid,
            justification="owner handover in progress",
            approver="ciso@corp.example",
            accepted_by="sec@corp.example",
            until=NOW + timedelta(days=7),
            now=NOW,
        )
    during = _run(lite_store, NOW + timedelta(days=1))
    assert len(during.accepted) == 1
    after = _run(lite_store, NOW + timedelta(days=8))
    assert after.reopened == 1 and not after.accepted
    with lite_store.session() as s:
        actions = [r.action for r in s.scalars(select(AuditRecord))]
        assert "posture.risk_accepted" in actions
        history = [e.note for e in lifecycle.history(s, fid)]
    assert history[-1] == "risk acceptance expired"
    assert verify(lite_store).ok


def test_accepting_a_resolved_finding_is_a_conflict(lite_store: Store) -> None:
    _run(lite_store, NOW)
    with lite_store.session() as s:
        row = s.scalar(select(PostureFinding).where(PostureFinding.check_id == "RF-API-001"))
        assert row is not None
        row.status = "resolved"
        fid = row.id
    with pytest.raises(ConflictError), lite_store.session() as s:
        lifecycle.accept_risk(
            s,
            fid,
            justification="migration planned in Q2",
            approver="ciso",
            accepted_by="me",
            until=NOW + timedelta(1),
            now=NOW,
        )


def test_gateway_usage_table_feeds_least_privilege(lite_store: Store) -> None:
    """The contract with the gateway: gateway_usage(integration, scope, route, count,
    last_seen); until the gateway has observed traffic the usage checks skip."""
    from sqlalchemy import text

    from ringfence.posture.recommend import recommend

    with lite_store.session() as s:
        assert load_context(s, NOW).usage is None  # the table is empty: nothing observed yet
        s.execute(
            text(
                "INSERT INTO gateway_usage (integration, scope, route, count, first_seen,"
                " last_seen) VALUES ('crm-chat', 'chat:write', 'chat', 42,"
                " '2026-02-01 10:00:00.000000', '2026-02-28 10:00:00.000000')"
            )
        )
    with lite_store.session() as s:
        ctx = load_context(s, NOW)
    assert ctx.usage is not None
    used = ctx.usage["crm-chat"]
    assert used.scopes["chat:write"].count == 42 and used.last_seen == datetime(
        2026, 2, 28, 10, tzinfo=UTC
    )
    [result] = run_checks(ctx, only=["RF-LPV-001"]).results
    assert result.status == "fail" and result.failures[0].evidence["unused"] == ["admin"]
    [rec] = recommend(ctx)
    assert rec.minimal == ("chat:write",)


def test_console_users_come_from_the_identity_tables(estate_store: Store) -> None:
    from sqlalchemy import text

    with estate_store.session() as s:
        assert load_context(s, NOW).console_users is None
        leaver = s.execute(
            text("SELECT id FROM people WHERE email = 'leaver@corp.example'")
        ).scalar_one()
        s.execute(
            text(
                "INSERT INTO identity_users (id, username, person_id, password_hash, roles, "
                "totp_confirmed, failed_attempts, created_at, updated_at) VALUES ('cu1', 'leo', "
                ":pid, 'argon2-hash', :roles, false, 0, :now, :now)"
            ),
            {"pid": leaver, "roles": '["admin"]', "now": NOW.replace(tzinfo=None)},
        )
    with estate_store.session() as s:
        ctx = load_context(s, NOW)
    assert ctx.console_users is not None
    [user] = ctx.console_users
    assert user.roles == ("admin",) and user.local_password and not user.mfa
    failing = {
        r.meta.id
        for r in run_checks(ctx, only=["RF-IDN-014", "RF-IDN-015"]).results
        if r.status == "fail"
    }
    assert failing == {"RF-IDN-014", "RF-IDN-015"}


def test_verified_backups_feed_the_backup_check(lite_store: Store) -> None:
    """RF-IRR-003 counts the newest backup proven good by its own creation time."""
    from ringfence.store import audit

    def irr003() -> str:
        with lite_store.session() as s:
            report = run_checks(load_context(s, NOW), only=["RF-IRR-003"])
        return report.results[0].status

    with lite_store.session() as s:
        assert load_context(s, NOW).backups is not None
        assert load_context(s, NOW).backups.last_verified_backup_at is None  # type: ignore[union-attr]
    assert irr003() == "fail"  # never verified
    fresh = (NOW - timedelta(hours=3)).isoformat()
    old = (NOW - timedelta(days=9)).isoformat()
    for action, made in (("backup.verified", old), ("backup.created", fresh)):
        audit.append_standalone(
            lite_store,
            actor="cli",
            action=action,
            entity_type="backup",
            after={"backup_created_at": made},
        )
    assert irr003() == "fail"  # an old backup verified, a new one only created
    audit.append_standalone(
        lite_store,
        actor="cli",
        action="backup.restored",
        entity_type="backup",
        after={"backup_created_at": fresh},
    )
    with lite_store.session() as s:
        facts = load_context(s, NOW).backups
    assert facts is not None and facts.last_verified_backup_at == NOW - timedelta(hours=3)
    assert irr003() == "pass"


def test_routes_stored_without_their_defaults_are_read_with_them(lite_store: Store) -> None:
    """Routes are stored with only what differs from the defaults: a route left at the
    default rate limit must not be reported as having none (RF-API-004)."""
    from ringfence.gateway.clients import save_routes
    from ringfence.gateway.routes import RouteSpec

    spec = RouteSpec.model_validate(
        {
            "name": "chat-default-limit",
            "app": "Chat",
            "prefix": "/chatdl",
            "upstream": "https://slack.com/api",
            "integrations": ["crm-chat"],
            "operations": [{"method": "GET", "path": "/conversations.list"}],
        }
    )
    save_routes(lite_store, [spec])
    with lite_store.session() as s:
        stored = s.execute(
            text("SELECT spec FROM gateway_routes WHERE name = 'chat-default-limit'")
        ).scalar_one()
    assert "rate_limit" not in (json.loads(stored) if isinstance(stored, str) else stored)
    with lite_store.session() as s:
        ctx = load_context(s, NOW)
    route = next(r for r in ctx.routes or [] if r.name == "chat-default-limit")
    assert route.rate_limit == "600/minute" and route.operations == 1
    report = run_checks(ctx, only=["RF-API-004"])
    flagged = {f.resource_id for r in report.results for f in r.failures}
    assert "chat-default-limit" not in flagged


def test_a_sink_with_overdue_alerts_is_failing_even_without_attempts(estate_store: Store) -> None:
    """RF-MON-002 counted a sink as failing only after 3 recorded attempts; a deliverer that
    crashes before recording one (or never runs) left alerts stuck with attempts 0 and the
    check passing (session 9 review). Undelivered and overdue by 15 minutes is failing too."""
    from ringfence.monitor.models import OutboxItem

    def item(sink: str, due: timedelta, attempts: int = 0, delivered: bool = False) -> OutboxItem:
        return OutboxItem(
            alert_id="a-1",
            sink=sink,
            payload={},
            attempts=attempts,
            next_attempt_at=NOW - due,
            delivered_at=NOW if delivered else None,
        )

    with estate_store.session() as s:
        s.add_all(
            [
                item("ok", timedelta(hours=2), delivered=True),
                item("stuck", timedelta(minutes=20)),
                item("fresh", timedelta(minutes=5)),
                item("retrying", timedelta(minutes=1), attempts=3),
            ]
        )
    with estate_store.session() as s:
        ctx = load_context(s, NOW)
    assert ctx.monitoring is not None
    assert ctx.monitoring.sinks_failing == {
        "fresh": False,
        "ok": False,
        "retrying": True,
        "stuck": True,
    }
    [result] = run_checks(ctx, only=["RF-MON-002"]).results
    assert result.status == "fail"
    assert sorted(f.resource_id for f in result.failures) == ["retrying", "stuck"]

"""The behaviours every connector must show, each against its vendor's loopback fake."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from ringfence.connectors import Connector, ConnectorError, DiscoveredApp, DiscoveredGrant
from ringfence.demo.fakes import FAKES, RunningFake
from tests.connectors.conftest import Sleeps, connect


@dataclass(frozen=True)
class Spec:
    people_route: str
    people: int
    apps: int
    risky_grant: Callable[[DiscoveredGrant], bool]
    risky_app: Callable[[DiscoveredApp], bool]
    departed: str  # login prefix of someone to deactivate


SPECS = {
    "okta": Spec(
        "users",
        8,
        5,
        lambda g: g.app_name == "HR Insights",
        lambda a: a.name == "HR Insights",
        "alice",
    ),
    "github": Spec(
        "members",
        7,
        4,
        lambda g: "admin:org" in g.scopes,
        lambda a: a.name == "ai-code-reviewer",
        "mateo",
    ),
    "google_workspace": Spec(
        "users",
        8,
        4,
        lambda g: g.app_name == "PDF Converter Pro",
        lambda a: a.name == "Mail Merge Ninja",
        "alice",
    ),
    "microsoft365": Spec(
        "users",
        8,
        4,
        lambda g: g.tenant_wide and "Mail.ReadWrite" in g.scopes,
        lambda a: a.name == "Contoso Backup Tool",
        "alice",
    ),
    "slack": Spec(
        "users",
        8,
        4,
        lambda g: "im:history" in g.scopes,
        lambda a: a.name == "Meeting Notes AI",
        "alice",
    ),
}


@pytest.fixture(params=sorted(FAKES))
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(vendor: str, servers: dict[str, RunningFake]) -> RunningFake:
    servers[vendor].fake.reset()
    return servers[vendor]


@pytest.fixture
def conn(server: RunningFake, vendor: str, sleeps: Sleeps, fake_token: str) -> Iterator[Connector]:
    c = connect(server, vendor, sleeps)
    yield c
    c.close()


def test_people_span_several_pages_and_expose_mfa(conn: Connector, vendor: str) -> None:
    result = conn.people()
    assert result.complete, result.error
    assert result.pages >= 3
    assert len(result.items) == SPECS[vendor].people
    bob = next(p for p in result.items if p.login.startswith("jonas"))
    assert bob.is_admin and bob.mfa_enabled is False
    alice = next(p for p in result.items if p.login.startswith("amara"))
    assert alice.mfa_enabled is True


def test_apps_and_risky_grant_are_discovered(conn: Connector, vendor: str) -> None:
    apps = conn.apps()
    assert apps.complete, apps.error
    assert len(apps.items) == SPECS[vendor].apps
    assert any(SPECS[vendor].risky_app(a) for a in apps.items)
    grants = conn.grants()
    assert grants.complete, grants.error
    risky = [g for g in grants.items if SPECS[vendor].risky_grant(g)]
    assert risky and all(g.scopes for g in risky)


def test_rate_limit_mid_pagination_is_honoured(
    conn: Connector, server: RunningFake, vendor: str, sleeps: Sleeps
) -> None:
    server.fake.faults.arm("rate_limit", SPECS[vendor].people_route, page=2)
    result = conn.people()
    assert result.complete, result.error
    assert len(result.items) == SPECS[vendor].people
    assert server.fake.faults.fired == [("rate_limit", SPECS[vendor].people_route, 2)]
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 2.5


def test_server_errors_are_retried_with_backoff(
    conn: Connector, server: RunningFake, vendor: str, sleeps: Sleeps
) -> None:
    server.fake.faults.arm("server_error", SPECS[vendor].people_route, page=2, times=2)
    result = conn.people()
    assert result.complete, result.error
    assert sleeps == [0.5, 1.0]


def test_persistent_server_errors_give_up_keeping_earlier_pages(
    conn: Connector, server: RunningFake, vendor: str
) -> None:
    server.fake.faults.arm("server_error", SPECS[vendor].people_route, page=2, times=10)
    result = conn.people()
    assert isinstance(result.error, ConnectorError)
    assert "after 4 attempts" in str(result.error)
    assert 1 <= len(result.items) <= 2


@pytest.mark.parametrize("kind, message", [("malformed", "not JSON"), ("wrong_shape", "malformed")])
def test_malformed_page_is_a_clear_error_and_partial_results_stay(
    conn: Connector, server: RunningFake, vendor: str, kind: str, message: str
) -> None:
    server.fake.faults.arm(kind, SPECS[vendor].people_route, page=2)
    result = conn.people()
    assert isinstance(result.error, ConnectorError)
    assert message in str(result.error) and result.error.vendor == vendor
    assert 1 <= len(result.items) <= 2


def test_audit_log_pages_are_handed_to_the_callback(conn: Connector) -> None:
    pages: list[list[dict[str, object]]] = []
    report = conn.audit_log(pages.append)
    assert report.error is None, report.error
    assert report.records == 5 and report.pages == 3
    assert [len(p) for p in pages] == [2, 2, 1]


def test_audit_log_failure_reports_where_it_stopped(conn: Connector, server: RunningFake) -> None:
    for route in ("logs", "audit", "activities", "audits"):
        server.fake.faults.arm("malformed", route, page=2)
    pages: list[list[dict[str, object]]] = []
    report = conn.audit_log(pages.append)
    assert report.error is not None and report.records == 2 and len(pages) == 1


def test_response_actions_reach_the_vendor(
    conn: Connector, server: RunningFake, vendor: str
) -> None:
    spec = SPECS[vendor]
    app = next(a for a in conn.apps().items if spec.risky_app(a))
    grant = next(g for g in conn.grants().items if spec.risky_grant(g))
    assert conn.revoke_grant(grant).ok
    assert grant.external_id not in {g.external_id for g in conn.grants().items}
    assert conn.suspend_app(app).ok
    who = next(p for p in conn.people().items if p.login.startswith(spec.departed))
    assert conn.deactivate_person(who).ok
    done = [a for a, _ in server.fake.actions]
    assert "revoke_grant" in done and done[-1] == "deactivate_person"
    if vendor == "google_workspace":  # no app switch: suspending revokes every user's token
        assert done.count("revoke_grant") == 2
    else:
        assert "suspend_app" in done


def test_wrong_credential_is_reported_without_echoing_it(
    server: RunningFake, vendor: str, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RF_TEST_SAAS_TOKEN", "s3cr3t-wrong-token")
    c = connect(server, vendor, sleeps)
    result = c.people()
    c.close()
    assert result.error is not None and not result.items
    assert "s3cr3t" not in str(result.error)

"""Okta connector against the Okta fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ringfence.connectors import Connector, ConnectorError
from ringfence.demo.fakes import OktaFake, RunningFake
from tests.connectors.conftest import Sleeps, connect, running


@pytest.fixture
def okta() -> Iterator[RunningFake]:
    yield from running(OktaFake())


@pytest.fixture
def conn(okta: RunningFake, sleeps: Sleeps, fake_token: str) -> Iterator[Connector]:
    c = connect(okta, "okta", sleeps)
    yield c
    c.close()


def test_people_are_paged_with_mfa_and_admin_state(conn: Connector, okta: RunningFake) -> None:
    result = conn.people()
    assert result.complete and result.pages == 4
    by_login = {p.login: p for p in result.items}
    assert len(by_login) == 8
    assert by_login["jonas.weber@northwind-analytics.example"].is_admin
    assert by_login["jonas.weber@northwind-analytics.example"].mfa_enabled is False
    assert by_login["amara.okafor@northwind-analytics.example"].mfa_enabled is True
    assert not by_login["alice.martin@northwind-analytics.example"].active


def test_grants_carry_scopes_and_app_names(conn: Connector) -> None:
    result = conn.grants()
    assert result.complete
    risky = [g for g in result.items if g.app_name == "HR Insights"]
    assert {g.scopes[0] for g in risky} == {"okta.users.manage", "okta.groups.read"}


def test_429_mid_pagination_waits_for_reset_and_continues(
    conn: Connector, okta: RunningFake, sleeps: Sleeps
) -> None:
    okta.fake.faults.arm("rate_limit", "users", page=2)
    result = conn.people()
    assert result.complete and len(result.items) == 8
    assert sleeps and 0 < sleeps[0] <= 2.5


def test_5xx_is_retried(conn: Connector, okta: RunningFake, sleeps: Sleeps) -> None:
    okta.fake.faults.arm("server_error", "apps", page=2, times=2)
    result = conn.apps()
    assert result.complete and len(result.items) == 5
    assert len(sleeps) == 2


def test_malformed_page_keeps_partial_results(conn: Connector, okta: RunningFake) -> None:
    okta.fake.faults.arm("malformed", "apps", page=2)
    result = conn.apps()
    assert not result.complete
    assert isinstance(result.error, ConnectorError)
    assert "not JSON" in str(result.error)
    assert len(result.items) == 2


def test_audit_pages_go_to_callback(conn: Connector) -> None:
    pages: list[list[dict[str, object]]] = []
    report = conn.audit_log(pages.append)
    assert report.error is None and report.pages == 3 and report.records == 5
    assert pages[0][0]["eventType"] == "user.session.start"


def test_response_actions(conn: Connector, okta: RunningFake) -> None:
    grant = next(g for g in conn.grants().items if g.app_name == "HR Insights")
    assert conn.revoke_grant(grant).ok
    app = next(a for a in conn.apps().items if a.name == "HR Insights")
    assert conn.suspend_app(app).ok
    person = next(p for p in conn.people().items if p.login.startswith("alice"))
    assert conn.deactivate_person(person).ok
    assert [a for a, _ in okta.fake.actions] == ["revoke_grant", "suspend_app", "deactivate_person"]
    with pytest.raises(ConnectorError, match="HTTP 404"):
        conn.revoke_grant(grant)


def test_bad_token_is_a_clear_error(
    okta: RunningFake, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RF_TEST_SAAS_TOKEN", "wrong")
    c = connect(okta, "okta", sleeps)
    result = c.apps()
    assert result.error is not None and result.error.http_status == 401
    assert "Invalid token" in str(result.error) and "wrong" not in str(result.error)
    c.close()

"""Review 9, finding 3: an id never changes which resource an action URL names.

Every id that goes into a URL path (vendor-supplied or stored) is one percent-encoded segment;
an empty id, ``.``/``..`` or one holding a slash or backslash is refused before anything is
sent (``../../ceo@corp.example`` as a Google token's clientId used to turn "revoke this token"
into ``DELETE .../users/ceo%40corp.example``, answered ok=True).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from ringfence.connectors import (
    ActionResult,
    Connector,
    ConnectorConfig,
    ConnectorError,
    DiscoveredApp,
    DiscoveredGrant,
    DiscoveredPerson,
    build_connector,
)
from ringfence.core.errors import ValidationError
from tests.connectors.conftest import Sleeps

BASES = {
    "okta": "https://tenant.okta.example",
    "github": "https://api.github.example",
    "google_workspace": "https://admin.googleapis.example",
    "microsoft365": "https://graph.example/v1.0",
    "slack": "https://slack.example/api",
}
OPTIONS = {
    "github": {"org": "acme"},
    "slack": {"scim_base_url": "https://api.slack.example/scim/v2"},
}


def make(
    vendor: str, sent: list[httpx.Request], sleeps: Sleeps, body: object = None, **options: str
) -> Connector:
    def handler(req: httpx.Request) -> httpx.Response:
        sent.append(req)
        if body is not None:
            return httpx.Response(200, json=body)
        return httpx.Response(204) if vendor != "slack" else httpx.Response(200, json={"ok": True})

    cfg = ConnectorConfig(
        vendor=vendor,
        base_url=BASES[vendor],
        credential_ref="env:RF_TEST_SAAS_TOKEN",
        options={**OPTIONS.get(vendor, {}), **options},
        max_retries=0,
    )
    return build_connector(cfg, transport=httpx.MockTransport(handler), sleep=sleeps)


def grant(vendor: str, gid: str, **handle: str) -> DiscoveredGrant:
    return DiscoveredGrant(
        vendor=vendor,
        external_id=gid,
        app_name="a",
        client_id=handle.get("clientId"),
        principal=handle.get("userId") or handle.get("userKey"),
        scopes=(),
        handle=handle,
    )


def person(vendor: str, pid: str, login: str = "bob") -> DiscoveredPerson:
    return DiscoveredPerson(vendor=vendor, external_id=pid, login=login)


def app(vendor: str, aid: str) -> DiscoveredApp:
    return DiscoveredApp(vendor=vendor, external_id=aid, name="a", client_id=aid)


Action = Callable[[Connector], ActionResult]
HOSTILE: list[tuple[str, Action]] = [
    (
        "google_workspace",
        lambda c: c.revoke_grant(
            grant(
                "google_workspace",
                "x",
                userKey="bob@corp.example",
                clientId="../../ceo@corp.example",
            )
        ),
    ),
    (
        "google_workspace",
        lambda c: c.revoke_grant(grant("google_workspace", "x", userKey="..", clientId="c1")),
    ),
    ("google_workspace", lambda c: c.deactivate_person(person("google_workspace", "1", ""))),
    (
        "okta",
        lambda c: c.revoke_grant(grant("okta", "../../../users/00uCEO", userId="00u1")),
    ),
    ("okta", lambda c: c.revoke_grant(grant("okta", "g1", userId=".."))),
    ("okta", lambda c: c.suspend_app(app("okta", "0oa1\\..\\0oa2"))),
    ("okta", lambda c: c.deactivate_person(person("okta", "."))),
    ("okta", lambda c: c.retire_client_secrets("../users/00u1", "keep", [])),
    ("github", lambda c: c.revoke_grant(grant("github", "1/../../members/ceo"))),
    ("github", lambda c: c.suspend_app(app("github", ".."))),
    ("github", lambda c: c.deactivate_person(person("github", "1", "../../orgs/acme"))),
    ("microsoft365", lambda c: c.revoke_grant(grant("microsoft365", "../users/ceo"))),
    ("microsoft365", lambda c: c.suspend_app(app("microsoft365", ""))),
    ("microsoft365", lambda c: c.deactivate_person(person("microsoft365", ".."))),
    ("microsoft365", lambda c: c.retire_client_secrets("a/b", "keep", [])),
    ("slack", lambda c: c.deactivate_person(person("slack", "../Groups/G1"))),
]


@pytest.mark.parametrize("vendor, action", HOSTILE)
def test_an_id_that_could_retarget_an_action_is_refused_before_sending(
    vendor: str, action: Action, sleeps: Sleeps, fake_token: str
) -> None:
    sent: list[httpx.Request] = []
    c = make(vendor, sent, sleeps)
    with pytest.raises(ConnectorError, match="as a URL path segment"):
        action(c)
    assert sent == []


def test_google_ids_are_sent_as_single_escaped_segments(sleeps: Sleeps, fake_token: str) -> None:
    sent: list[httpx.Request] = []
    c = make("google_workspace", sent, sleeps)
    g = grant(
        "google_workspace", "x", userKey="bob+x@corp.example", clientId="1?2#3%4.apps.example"
    )
    assert c.revoke_grant(g).ok
    [req] = sent
    assert req.method == "DELETE" and req.url.query == b""
    assert req.url.raw_path == (
        b"/admin/directory/v1/users/bob%2Bx%40corp.example/tokens/1%3F2%233%254.apps.example"
    )


def test_okta_grant_id_with_query_characters_stays_in_the_path(
    sleeps: Sleeps, fake_token: str
) -> None:
    sent: list[httpx.Request] = []
    make("okta", sent, sleeps).revoke_grant(grant("okta", "oag1?x=1", userId="00u 1"))
    assert [r.url.raw_path for r in sent] == [b"/api/v1/users/00u%201/grants/oag1%3Fx%3D1"]


@pytest.mark.parametrize("pull", ["people", "grants"])
def test_a_listed_okta_user_id_with_dots_ends_the_pull_without_a_request(
    pull: str, sleeps: Sleeps, fake_token: str
) -> None:
    sent: list[httpx.Request] = []
    users = [{"id": "../apps/0oa1", "status": "ACTIVE", "profile": {"login": "a@x.example"}}]
    c = make("okta", sent, sleeps, body=users)
    result = getattr(c, pull)()
    assert result.error is not None and "as a URL path segment" in str(result.error)
    assert all("/apps/0oa1" not in r.url.path for r in sent)
    assert all(r.url.path in {"/api/v1/users", "/api/v1/apps"} for r in sent)


def test_a_github_org_that_is_not_one_name_is_a_configuration_error(
    sleeps: Sleeps, fake_token: str
) -> None:
    sent: list[httpx.Request] = []
    c = make("github", sent, sleeps, org="../enterprises/big")
    with pytest.raises(ValidationError, match="not an org name"):
        c.apps()
    assert sent == []

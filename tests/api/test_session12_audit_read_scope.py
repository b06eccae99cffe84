"""Session 12 API authz review (BFLA, low): the audit log needs ``audit:read``.

Before, ``GET /api/v1/audit`` and ``/audit/verify`` needed only ``read``, so a personal token
its owner minted with ``read`` alone (a dashboard's, say) read the whole log: who signed in
and how, who enrolled or reset MFA, who was locked out, who minted which token — facts that
``/api/v1/identity/users`` keeps behind ``identity:admin``. The roles' ``audit:read`` scope
existed and was checked nowhere. Now the audit routes require it; every role that reads holds
it, and a control-plane token's ``read`` includes it (operator-made, read/write only).
"""

from __future__ import annotations

from argon2 import PasswordHasher

from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from tests.api.conftest import Api, bearer

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _pat(api: Api, scopes: list[str]) -> dict[str, str]:
    settings = IdentitySettings(cookie_secure=False, delay_base_seconds=0)
    accounts = Accounts(api.runtime.store, api.runtime.vault, api.clock, settings, CHEAP)
    existing = [u for u in accounts.list_users() if u.username == "ann@example.com"]
    user = existing[0] if existing else accounts.create_user("ann@example.com", roles=["auditor"])
    issued = accounts.issue_token(user.id, "t", scopes, 30, actor="test")
    return bearer(issued.token.get_secret_value())


def test_a_token_minted_with_read_alone_cannot_read_the_audit_log(api: Api) -> None:
    reader = _pat(api, ["read"])
    for path in ("/api/v1/audit", "/api/v1/audit/verify"):
        r = api.client.get(path, headers=reader)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["code"] == "insufficient_scope"
    assert api.client.get("/api/v1/vendors", headers=reader).status_code == 200


def test_audit_read_opens_it_and_control_plane_readers_keep_it(api: Api) -> None:
    auditor = _pat(api, ["read", "audit:read"])
    for headers in (auditor, api.ro, api.rw):
        for path in ("/api/v1/audit", "/api/v1/audit/verify"):
            assert api.client.get(path, headers=headers).status_code == 200, path
    # audit:read without read is not enough either: the method's scope still applies
    only_audit = _pat(api, ["audit:read"])
    assert api.client.get("/api/v1/audit", headers=only_audit).status_code == 403

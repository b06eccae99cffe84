"""Session 12 API authz review: the OpenAPI document says which scope each operation needs.

Before, every operation carried ``security: [{ControlPlaneToken: []}]``: nothing told a client
(or a reviewer) that a DELETE needs ``write``, the audit log ``audit:read``, or that an
integration-owner may read and quarantine only their own integration. Now the scopes come from
the very dependencies that enforce them (``authorize``, ``require_scopes``, the estate's
``_needs``, ``any_capability``), in ``security`` (OpenAPI 3.1: a non-OAuth scheme may list
required scopes) and ``x-required-scopes``. The sweep below holds the document to the
behaviour: a read-only token is refused exactly where the document asks for more.
"""

from __future__ import annotations

import re
from typing import Any

from tests.api.conftest import Api

OWNER = "integrations:own"


def _operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    paths = api.client.get("/api/v1/openapi.json").json()["paths"]
    return [
        (method.upper(), path, op)
        for path, ops in sorted(paths.items())
        for method, op in sorted(ops.items())
        if method != "parameters"
    ]


def test_scopes_are_documented(api: Api) -> None:
    ops = {(m, p): op for m, p, op in _operations(api)}
    assert ops[("DELETE", "/api/v1/vendors/{ref}")]["x-required-scopes"] == ["write"]
    assert ops[("GET", "/api/v1/vendors")]["security"] == [{"ControlPlaneToken": ["read"]}]
    assert ops[("GET", "/api/v1/audit")]["x-required-scopes"] == ["audit:read", "read"]
    assert ops[("POST", "/api/v1/estate/plan")]["x-required-scopes"] == ["read"]
    assert ops[("POST", "/api/v1/estate/apply")]["x-required-scopes"] == ["write"]
    assert ops[("POST", "/api/v1/classify/scan")]["x-required-scopes"] == []
    assert ops[("POST", "/api/v1/integrations/{ref}/quarantine")]["security"] == [
        {"ControlPlaneToken": ["write"]},
        {"ControlPlaneToken": [OWNER]},
    ]
    assert "security" not in ops[("GET", "/api/v1/health")]


def test_a_reader_is_refused_exactly_where_the_document_asks_for_more(api: Api) -> None:
    swept = 0
    for method, path, op in _operations(api):
        required = op.get("x-required-scopes")
        if required is None:
            continue
        url = re.sub(r"\{[^}]+\}", "x", path)
        body: dict[str, Any] = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        r = api.client.request(method, url, headers=api.ro, **body)
        refused = r.status_code == 403 and r.json()["code"] == "insufficient_scope"
        assert refused == ("write" in required), (method, path, r.status_code, r.text[:200])
        swept += 1
    assert swept > 70

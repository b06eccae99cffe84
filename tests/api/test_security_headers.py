"""Every answer is uncacheable, unsniffable and unframeable; pages that set their own policy
(console, API docs) keep it."""

from __future__ import annotations

from tests.api.conftest import Api


def test_api_answers_carry_the_security_headers(api: Api) -> None:
    for resp in (
        api.client.get("/api/v1/health"),
        api.get("/api/v1/integrations"),
        api.client.get("/api/v1/integrations"),  # a 401 problem too
        api.client.post("/auth/login", json={"username": "a", "password": "b"}),
    ):
        h = resp.headers
        assert h["cache-control"] == "no-store", resp.url
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        assert h["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "strict-transport-security" not in api.client.get("/api/v1/health").headers
    from fastapi.testclient import TestClient

    with TestClient(api.client.app, base_url="https://rf.example") as tls:
        assert tls.get("/api/v1/health").headers["strict-transport-security"] == (
            "max-age=31536000"
        )
    assert api.client.get("/api/docs").status_code == 404  # off unless api_docs is set
    page = api.client.get("/console/login")
    assert "style-src 'self'" in page.headers["content-security-policy"]  # its own, kept
    assert page.headers["referrer-policy"] == "same-origin"


def test_interactive_docs_when_enabled_are_pinned_with_integrity_and_a_policy(api: Api) -> None:
    """Review 12: FastAPI's page loaded swagger-ui-dist@5 (whatever is newest) from a CDN with
    no integrity and no CSP, unauthenticated, on the console's origin."""
    import re

    from fastapi.testclient import TestClient

    from ringfence.api import create_app
    from ringfence.api.docs import SWAGGER_UI_VERSION

    runtime = api.client.app.state.runtime
    with TestClient(create_app(runtime, docs=True)) as client:
        page = client.get("/api/docs")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self' https://cdn.jsdelivr.net;" in csp
        assert "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
        srcs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert srcs and all(
            s.startswith(f"https://cdn.jsdelivr.net/npm/swagger-ui-dist@{SWAGGER_UI_VERSION}/")
            or s == "/api/docs/init.js"
            for s in srcs
        ), srcs
        for tag in re.findall(r"<(?:script|link)[^>]+cdn[^>]+>", page.text):
            assert 'integrity="sha384-' in tag and 'crossorigin="anonymous"' in tag, tag
        assert "<script>" not in page.text  # no inline script
        init = client.get("/api/docs/init.js")
        assert init.status_code == 200 and "/api/v1/openapi.json" in init.text
        assert init.headers["content-type"].startswith("text/javascript")
    assert api.client.get("/api/v1/openapi.json").status_code == 200  # always served

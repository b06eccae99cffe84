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
    docs = api.client.get("/api/docs")
    assert docs.status_code == 200 and "content-security-policy" not in docs.headers
    page = api.client.get("/console/login")
    assert "style-src 'self'" in page.headers["content-security-policy"]  # its own, kept
    assert page.headers["referrer-policy"] == "same-origin"

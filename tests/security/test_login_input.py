"""``/auth/login`` and ``/auth/logout`` sit outside ``/api/`` (no BodyGuard): they must cap the
body themselves and answer malformed bodies with a 4xx problem, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_deeply_nested_json_login_is_a_400_not_a_500(client: TestClient) -> None:
    for opener in (b"[", b'{"a":'):
        resp = client.post(
            "/auth/login", content=opener * 12_000, headers={"content-type": "application/json"}
        )
        assert resp.status_code == 400, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")


def test_oversized_login_body_is_refused_with_413(client: TestClient) -> None:
    big = b'{"username": "a", "password": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    resp = client.post("/auth/login", content=big, headers={"content-type": "application/json"})
    assert resp.status_code == 413, resp.text
    form = b"username=a&password=" + b"x" * (4 * 1024 * 1024)
    resp = client.post(
        "/auth/login",
        content=form,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 413, resp.text


def test_oversized_logout_form_is_refused_with_413(client: TestClient) -> None:
    client.cookies.set("rf_session", "whatever")
    resp = client.post(
        "/auth/logout",
        content=b"csrf_token=" + b"x" * (4 * 1024 * 1024),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 413, resp.text


def test_normal_form_and_json_login_still_work(client: TestClient, app: object) -> None:
    from ringfence.identity.accounts import Accounts
    from ringfence.identity.settings import IdentitySettings

    rt = client.app.state.runtime  # type: ignore[attr-defined]
    Accounts(rt.store, rt.vault, rt.clock, IdentitySettings()).create_user(
        "carol", roles=["auditor"], password="correct horse battery"
    )
    ok = client.post("/auth/login", data={"username": "carol", "password": "correct horse battery"})
    assert ok.status_code == 200, ok.text
    ok = client.post("/auth/login", json={"username": "carol", "password": "correct horse battery"})
    assert ok.status_code == 200, ok.text
    files = {"username": (None, "carol"), "password": (None, "correct horse battery")}
    assert client.post("/auth/login", files=files).status_code == 200

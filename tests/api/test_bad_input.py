"""Bad input at the HTTP boundary: a clear 4xx problem+json, never a 500, and no change stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import literal, select

from tests.api.conftest import Api, store_state


def _problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


# (url, body, fields the 422 must name)
WRONG_TYPES: list[tuple[str, Any, set[str]]] = [
    ("/api/v1/vendors", {"name": 42}, {"name"}),
    ("/api/v1/vendors", {"name": ""}, {"name"}),
    ("/api/v1/vendors", {"name": " padded "}, {"name"}),
    ("/api/v1/vendors", {"name": "a\nb"}, {"name"}),
    ("/api/v1/vendors", {"name": "x" * 201}, {"name"}),
    ("/api/v1/vendors", {"name": "V", "website": "ftp://x"}, {"website"}),
    ("/api/v1/vendors", {"name": "V", "domains": "acme.example"}, {"domains"}),
    ("/api/v1/vendors", {}, {"name"}),
    ("/api/v1/vendors", [], {"body"}),
    ("/api/v1/vendors", "Acme", {"body"}),
    ("/api/v1/vendors", None, {"body"}),
    ("/api/v1/apps", {"name": "A", "vendor": "Acme", "sanctioned": "yes"}, {"sanctioned"}),
    ("/api/v1/apps", {"name": "A", "vendor": "Acme", "sanctioned": 1}, {"sanctioned"}),
    ("/api/v1/apps", {"name": "A", "vendor": "Acme", "clearance": "secret"}, {"clearance"}),
    ("/api/v1/apps", {"name": "A", "vendor": "Acme", "clearance": 2}, {"clearance"}),
    ("/api/v1/apps", {"name": "A", "vendor": "Acme", "data_classes": ["pii"]}, {"data_classes.0"}),
    (
        "/api/v1/apps",
        {"name": "A", "vendor": "Acme", "retention_days": {"internal": "30"}},
        {"retention_days.internal"},
    ),
    (
        "/api/v1/apps",
        {"name": "A", "vendor": "Acme", "retention_days": {"internal": -1}},
        {"retention_days.internal"},
    ),
    ("/api/v1/apps", {"name": 1, "vendor": 2, "owner": 3}, {"name", "vendor", "owner"}),
    ("/api/v1/integrations", {"name": "i", "destination_app": "CRM", "kind": "x"}, {"kind"}),
    (
        "/api/v1/integrations",
        {"name": "i", "source_app": "CRM", "destination_app": "HRIS", "status": "paused"},
        {"status"},
    ),
    (
        "/api/v1/integrations",
        {"name": "i", "source_app": "CRM", "destination_app": "HRIS", "scopes": "a b"},
        {"scopes"},
    ),
    ("/api/v1/credentials", {"name": "c", "ref": "${env:X}"}, {"kind"}),
    ("/api/v1/credentials", {"name": "c", "kind": "api_key", "ref": 5}, {"ref"}),
    (
        "/api/v1/credentials",
        {"name": "c", "kind": "api_key", "ref": "${env:X}", "expires_at": "tomorrow"},
        {"expires_at"},
    ),
    (
        "/api/v1/credentials",
        {"name": "c", "kind": "api_key", "ref": "${env:X}", "expires_at": "2026-01-01T00:00:00"},
        {"expires_at"},
    ),
    (
        "/api/v1/credentials",
        {"name": "c", "kind": "api_key", "ref": "${env:X}", "rotation_days": 0},
        {"rotation_days"},
    ),
    ("/api/v1/flows", {"name": "f", "source_app": "CRM"}, {"destination_app"}),
    ("/api/v1/people", {"email": "not-an-email"}, {"email"}),
    ("/api/v1/people", {"email": "a@b.example", "active": "true"}, {"active"}),
]


@pytest.mark.parametrize(("url", "body", "fields"), WRONG_TYPES)
def test_wrong_types_are_422_naming_each_field(
    seeded: Api, url: str, body: Any, fields: set[str]
) -> None:
    before = store_state(seeded.runtime)
    problem = _problem(seeded.post(url, body), 422, "validation_error")
    assert {e["field"] for e in problem["errors"]} == fields, problem
    assert store_state(seeded.runtime) == before


UNKNOWN_FIELDS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/v1/vendors", {"name": "V", "role": "admin"}),
    ("POST", "/api/v1/apps", {"name": "A", "vendor": "Acme", "vendor_id": "x"}),
    (
        "POST",
        "/api/v1/credentials",
        {"name": "c", "kind": "api_key", "ref": "${env:X}", "secret": "s"},
    ),
    ("PATCH", "/api/v1/vendors/Acme", {"id": "other"}),
    ("PATCH", "/api/v1/integrations/chat-bot", {"status": "active"}),
    ("PATCH", "/api/v1/people/ada@corp.example", {"created_at": "2020-01-01T00:00:00Z"}),
    ("PATCH", "/api/v1/people/ada@corp.example", {"active": False}),
]


@pytest.mark.parametrize(("method", "url", "body"), UNKNOWN_FIELDS)
def test_unknown_fields_are_422(seeded: Api, method: str, url: str, body: dict[str, Any]) -> None:
    before = store_state(seeded.runtime)
    r = seeded.client.request(method, url, json=body, headers=seeded.rw)
    problem = _problem(r, 422, "validation_error")
    assert any(e["problem"] == "Extra inputs are not permitted" for e in problem["errors"])
    assert store_state(seeded.runtime) == before


NULLS: list[tuple[str, dict[str, Any], str]] = [
    ("/api/v1/vendors/Acme", {"name": None}, "name"),
    ("/api/v1/apps/CRM", {"vendor": None}, "vendor"),
    ("/api/v1/apps/CRM", {"sanctioned": None}, "sanctioned"),
    ("/api/v1/integrations/crm-to-hris", {"destination_app": None}, "destination_app"),
    ("/api/v1/credentials/chat-bot-key", {"ref": None}, "ref"),
    ("/api/v1/people/ada@corp.example", {"email": None}, "email"),
]


@pytest.mark.parametrize(("url", "body", "field"), NULLS)
def test_null_for_a_required_field_in_patch_is_422(
    seeded: Api, url: str, body: dict[str, Any], field: str
) -> None:
    before = store_state(seeded.runtime)
    problem = _problem(seeded.patch(url, body), 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == [field]
    assert store_state(seeded.runtime) == before


@pytest.mark.parametrize(
    "raw",
    [b"{bad", b'{"name": "x",}', b"\xff\xfe", b'{"name": "x"', b"nan", b"[" * 5000 + b"]" * 5000],
)
def test_malformed_json_is_400(seeded: Api, raw: bytes) -> None:
    before = store_state(seeded.runtime)
    r = seeded.client.post(
        "/api/v1/vendors", content=raw, headers={**seeded.rw, "Content-Type": "application/json"}
    )
    assert r.status_code in (400, 422)
    assert r.json()["code"] in ("invalid_json", "bad_request", "validation_error")
    assert store_state(seeded.runtime) == before


def test_deeply_nested_json_is_rejected_not_500(seeded: Api) -> None:
    deep = b'{"name": "x", "domains": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = seeded.client.post(
        "/api/v1/vendors", content=deep, headers={**seeded.rw, "Content-Type": "application/json"}
    )
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"] == "application/problem+json"


def test_oversized_body_is_413(seeded: Api) -> None:
    before = store_state(seeded.runtime)
    big = {"name": "V", "description": "x" * (1024 * 1024)}
    _problem(seeded.post("/api/v1/vendors", big), 413, "payload_too_large")
    assert store_state(seeded.runtime) == before


def test_oversized_streamed_body_without_length_is_413(seeded: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "V", "description": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    r = seeded.client.post(
        "/api/v1/vendors",
        content=chunks(),
        headers={**seeded.rw, "Content-Type": "application/json"},
    )
    _problem(r, 413, "payload_too_large")


def test_lying_content_length_is_413(seeded: Api) -> None:
    r = seeded.client.post(
        "/api/v1/vendors",
        content=b'{"name": "V"}',
        headers={**seeded.rw, "Content-Type": "application/json", "Content-Length": "99999999"},
    )
    _problem(r, 413, "payload_too_large")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_non_json_body_is_415(seeded: Api, ctype: str) -> None:
    r = seeded.client.post(
        "/api/v1/vendors", content=b'{"name": "V"}', headers={**seeded.rw, "Content-Type": ctype}
    )
    _problem(r, 415, "unsupported_media_type")


def test_unknown_route_is_404(seeded: Api) -> None:
    _problem(seeded.get("/api/v1/nope"), 404, "not_found")
    _problem(seeded.get("/api/v2/vendors"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "url"),
    [("PUT", "/api/v1/vendors/Acme"), ("DELETE", "/api/v1/vendors"), ("TRACE", "/api/v1/apps")],
)
def test_wrong_method_is_405(seeded: Api, method: str, url: str) -> None:
    r = seeded.client.request(method, url, headers=seeded.rw)
    _problem(r, 405, "method_not_allowed")
    assert "allow" in r.headers


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/vendors/nope",
        "/api/v1/apps/nope",
        "/api/v1/integrations/nope",
        "/api/v1/credentials/nope",
        "/api/v1/flows/nope",
        "/api/v1/people/nope@x.example",
    ],
)
def test_missing_entity_is_404_for_get_patch_delete(seeded: Api, url: str) -> None:
    before = store_state(seeded.runtime)
    _problem(seeded.get(url), 404, "not_found")
    _problem(seeded.patch(url, {}), 404, "not_found")
    _problem(seeded.delete(url), 404, "not_found")
    assert store_state(seeded.runtime) == before


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/v1/vendors", {"limit": 0}, "query.limit"),
        ("/api/v1/vendors", {"limit": 501}, "query.limit"),
        ("/api/v1/vendors", {"limit": "ten"}, "query.limit"),
        ("/api/v1/vendors", {"offset": -1}, "query.offset"),
        ("/api/v1/vendors", {"colour": "red"}, "query.colour"),
        ("/api/v1/apps", {"sanctioned": "maybe"}, "query.sanctioned"),
        ("/api/v1/apps", {"clearance": "top"}, "query.clearance"),
        ("/api/v1/integrations", {"status": "paused"}, "query.status"),
        ("/api/v1/credentials", {"expires_before": "soon"}, "query.expires_before"),
        ("/api/v1/audit", {"order": "sideways"}, "query.order"),
    ],
)
def test_bad_query_parameters_are_422(
    seeded: Api, url: str, params: dict[str, Any], field: str
) -> None:
    problem = _problem(seeded.get(url, params=params), 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == [field]


def test_overlong_reference_in_path_is_422(seeded: Api) -> None:
    problem = _problem(seeded.get("/api/v1/apps/" + "x" * 400), 422, "validation_error")
    assert problem["errors"][0]["field"] == "path.ref"


def test_bad_sort_field_is_422(seeded: Api) -> None:
    problem = _problem(
        seeded.get("/api/v1/people", params={"sort": "password"}), 422, "invalid_query"
    )
    assert problem["errors"][0]["field"] == "sort"


def test_inline_secret_is_rejected_with_how_to_reference_it(seeded: Api) -> None:
    before = store_state(seeded.runtime)
    secret = "sk_live_51HqLyjWDarjtT1zdp7dc9a8b7c6"
    for body in (
        {"name": "c", "kind": "api_key", "ref": secret},
        {"name": "c", "kind": "api_key", "ref": f"vault:{secret} extra"},
        {"name": "c", "kind": "api_key", "ref": "$env:X"},
    ):
        r = seeded.post("/api/v1/credentials", body)
        problem = _problem(r, 422, "inline_secret")
        assert "vault:NAME" in problem["detail"]
        assert "${env:NAME}" in problem["detail"]
        assert problem["errors"][0]["field"] == "ref"
        assert secret not in r.text
    r = seeded.patch("/api/v1/credentials/chat-bot-key", {"ref": secret})
    _problem(r, 422, "inline_secret")
    assert secret not in r.text
    assert store_state(seeded.runtime) == before


def test_a_capability_can_raise_the_body_cap_for_its_prefix(seeded: Api) -> None:
    from ringfence.api.limits import set_body_limit

    set_body_limit(seeded.client.app, "/api/v1/vendors", 4 * 1024 * 1024)
    big = {"name": "V", "description": "x" * (2 * 1024 * 1024)}
    # past the guard: now the field's own limit answers
    r = seeded.post("/api/v1/vendors", big)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "description"
    _problem(
        seeded.post("/api/v1/apps", {"name": "A", "description": "x" * 2**21}),
        413,
        "payload_too_large",
    )


def test_unreachable_store_is_503_not_500(api: Api) -> None:
    from fastapi.testclient import TestClient

    from ringfence.api import create_app
    from ringfence.runtime import Runtime
    from ringfence.store.db import Store

    dead = Store("postgresql+psycopg://ringfence@127.0.0.1:9/none?connect_timeout=1")
    rt = Runtime(api.runtime.settings, dead, api.runtime.vault, api.clock)
    try:
        with TestClient(create_app(rt), raise_server_exceptions=False) as client:
            r = client.get("/api/v1/vendors", headers=api.rw)
            _problem(r, 503, "unavailable")
            assert r.headers["retry-after"] == "1"
            assert "psycopg" not in r.text and "127.0.0.1" not in r.text
            assert client.get("/api/v1/health").json() == {"status": "degraded"}
    finally:
        dead.dispose()


def test_lone_surrogate_quoted_back_in_a_problem_is_escaped_not_500(seeded: Api) -> None:
    # JSON may spell a lone surrogate (\udc00); Python decodes it, and an error naming the bad
    # key used to fail to encode as UTF-8 while rendering the problem: a 500.
    r = seeded.client.post(
        "/api/v1/estate/plan",
        content=b'{"\\udc00": "x"}',
        headers={**seeded.rw, "Content-Type": "application/json"},
    )
    problem = _problem(r, 400, "estate_invalid")
    assert r.content.decode("utf-8")  # the body itself is valid UTF-8
    # the key is named by its escape, as six printable characters
    assert any("\\udc00" in str(v) for e in problem["errors"] for v in e.values()), problem


def test_a_number_past_what_the_store_or_calendar_holds_is_422_not_500(api: Api) -> None:
    # SQLite raises a bare OverflowError for an integer past 64 bits (PostgreSQL a DataError),
    # and datetime arithmetic does the same past year 9999: any route that lets such a number
    # through answers 422, like the DataError it is.
    app = api.client.app

    @app.get("/api/v1/test-overflow")
    def overflow() -> None:
        with api.runtime.store.session() as s:
            s.execute(select(literal(10**30)))

    r = api.client.get("/api/v1/test-overflow", headers=api.rw)
    problem = _problem(r, 422, "out_of_range")
    assert "out of range" in problem["detail"]


def test_a_broken_server_config_file_is_a_503_naming_it_not_a_500(api: Api) -> None:
    """monitor.yaml is the operator's file, not the caller's input: a mistake in it makes the
    endpoint unavailable (503 problem+json naming the key) until it is fixed."""
    (api.runtime.settings.data_dir / "monitor.yaml").write_text("sinks: 5\n")
    r = api.client.post(
        "/api/v1/monitor/ingest/okta",
        content=b'{"uuid": "x"}\n',
        headers={**api.rw, "content-type": "application/x-ndjson"},
    )
    body = _problem(r, 503, "config_error")
    assert "monitor.yaml: sinks" in body["detail"]

"""The served OpenAPI document is valid, and every route answers bad input as it documents."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.api.conftest import Api

MINE = re.compile(r"^/api/v1/(vendors|apps|integrations|credentials|flows|people|audit)(/|$)")
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def _spec(api: Api) -> dict[str, Any]:
    r = api.client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    spec: dict[str, Any] = r.json()
    return spec


def test_openapi_document_is_valid(api: Api) -> None:
    spec = _spec(api)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Ringfence API"
    for name, schema in spec["components"]["schemas"].items():
        assert name
        Draft202012Validator.check_schema(schema)
    ops = 0
    for path, item in spec["paths"].items():
        if not MINE.match(path):
            continue
        for method, op in item.items():
            ops += 1
            assert op.get("operationId"), (method, path)
            assert op["responses"], (method, path)
            for ref in re.findall(
                r'"\$ref": "#/components/schemas/([^"]+)"', str(op).replace("'", '"')
            ):
                assert ref in spec["components"]["schemas"], ref
    expected = {"vendors", "apps", "integrations", "credentials", "flows", "people"}
    for kind in expected:
        assert set(spec["paths"][f"/api/v1/{kind}"]) == {"get", "post"}
        assert set(spec["paths"][f"/api/v1/{kind}/{{ref}}"]) == {"get", "patch", "delete"}
    for action in ("quarantine", "revoke", "activate"):
        assert "post" in spec["paths"][f"/api/v1/integrations/{{ref}}/{action}"]
    assert ops >= 35
    assert spec["components"]["securitySchemes"]["ControlPlaneToken"]["scheme"] == "bearer"
    # each operation names its scopes (tests/api/test_session12_openapi_scopes.py)
    assert spec["paths"]["/api/v1/vendors"]["get"]["security"] == [{"ControlPlaneToken": ["read"]}]


def test_every_operation_documents_its_client_errors_as_problem_json(api: Api) -> None:
    # Every route of every capability, not only the inventory's: a client (and schemathesis)
    # must find each 4xx it can receive in the document, with the body it will get.
    spec = _spec(api)
    ops = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            ops += 1
            responses = op["responses"]
            assert {"400", "401", "404", "422", "4XX"} <= responses.keys(), (method, path)
            html_page = "text/html" in responses.get("200", {}).get("content", {})
            for status, resp in responses.items():
                if not status.startswith("4"):
                    continue
                media = set(resp.get("content", {}))
                if html_page and "text/html" in media:
                    continue  # a browser form answers its own errors with a page
                assert "application/problem+json" in media, (method, path, status, media)
                schema = resp["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)
    assert ops >= 100


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/api/v1/estate/plan", {"application/yaml", "application/json"}),
        ("/api/v1/estate/apply", {"application/yaml", "application/json"}),
        ("/auth/login", {"application/json", "application/x-www-form-urlencoded"}),
        ("/api/v1/monitor/ingest/{source}", {"application/x-ndjson", "application/json"}),
    ],
)
def test_routes_that_read_their_body_by_hand_document_it(
    api: Api, path: str, media: set[str]
) -> None:
    # FastAPI infers no body for them; without it a client (or schemathesis) sees an operation
    # that takes nothing, and the fuzz only ever reaches "send a body".
    op = _spec(api)["paths"][path]["post"]
    assert op["requestBody"]["required"] is True
    assert media <= set(op["requestBody"]["content"])
    for param in op.get("parameters", []):
        if param["name"] == "source":  # the sources there are parsers for, not any text
            assert set(param["schema"]["enum"]) >= {"okta", "github", "slack"}


def _allows_null(schema: dict[str, Any]) -> bool:
    branches = schema.get("anyOf", [schema])
    return any(b.get("type") == "null" for b in branches)


@pytest.mark.parametrize(
    "kind", ["vendors", "apps", "integrations", "credentials", "flows", "people"]
)
def test_patch_bodies_document_null_only_where_it_is_accepted(api: Api, kind: str) -> None:
    # Each PATCH field is optional, but null clears only the optional columns; the rest answer
    # 422 "may not be null", so the document must not offer null for them.
    spec = _spec(api)
    ref = spec["paths"][f"/api/v1/{kind}/{{ref}}"]["patch"]["requestBody"]["content"]
    name = ref["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    props = spec["components"]["schemas"][name]["properties"]
    for field, schema in props.items():
        r = api.patch(f"/api/v1/{kind}/nope", {field: None})
        accepted = r.status_code == 404  # null passed validation, the ref did not resolve
        assert r.status_code in (404, 422), r.text
        assert _allows_null(schema) == accepted, (name, field, schema)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, item in spec["paths"].items():
        if not MINE.match(path):
            continue
        for method, op in item.items():
            out.append((method.upper(), path.replace("{ref}", "Acme"), op))
    return out


def _documented(op: dict[str, Any], status: int) -> bool:
    return str(status) in op["responses"]


def test_every_route_answers_bad_input_with_a_documented_status(seeded: Api) -> None:
    spec = _spec(seeded)
    probes: list[Any] = [{"unknown": 1}, [], "x", 1, None, {"name": 5}, {"name": None}]
    for method, path, op in _operations(spec):
        headers = seeded.rw
        # no token at all
        r = seeded.client.request(method, path)
        assert r.status_code == 401 and _documented(op, 401), (method, path)
        # bad query parameters
        r = seeded.client.request(method, path, params={"limit": "x", "zzz": "1"}, headers=headers)
        assert r.status_code < 500 and _documented(op, r.status_code), (method, path, r.text)
        if method in ("POST", "PATCH"):
            for body in probes:
                r = seeded.client.request(method, path, json=body, headers=headers)
                assert r.status_code < 500, (method, path, body, r.text)
                assert _documented(op, r.status_code), (method, path, body, r.status_code)
                assert r.headers["content-type"].startswith("application/")


def _body_fields(spec: dict[str, Any], op: dict[str, Any]) -> set[str]:
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return set(schema["properties"])


@pytest.mark.parametrize(
    "kind", ["vendors", "apps", "integrations", "credentials", "flows", "people"]
)
def test_random_json_bodies_never_cause_500(seeded: Api, kind: str) -> None:
    spec = _spec(seeded)
    create_op = spec["paths"][f"/api/v1/{kind}"]["post"]
    patch_op = spec["paths"][f"/api/v1/{kind}/{{ref}}"]["patch"]

    fields = [*sorted(_body_fields(spec, create_op) | _body_fields(spec, patch_op)), "extra"]
    bodies = JSON | st.dictionaries(st.sampled_from(fields), JSON, max_size=len(fields))

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies)
    def run(body: Any) -> None:
        for method, url, op in (
            ("POST", f"/api/v1/{kind}", create_op),
            ("PATCH", f"/api/v1/{kind}/does-not-exist", patch_op),
        ):
            r = seeded.client.request(method, url, json=body, headers=seeded.rw)
            assert r.status_code < 500, (method, url, body, r.text)
            assert _documented(op, r.status_code) or r.status_code == 201, (body, r.status_code)

    run()


def _validator(spec: dict[str, Any], op: dict[str, Any], status: int) -> Draft202012Validator:
    content = op["responses"][str(status)]["content"]
    media = "application/problem+json" if status >= 400 else "application/json"
    schema = content[media]["schema"]
    return Draft202012Validator({**schema, "components": spec["components"]})


def test_responses_match_the_documented_schemas(seeded: Api) -> None:
    spec = _spec(seeded)
    paths = spec["paths"]
    for kind, ref in [
        ("vendors", "Acme"),
        ("apps", "CRM"),
        ("integrations", "chat-bot"),
        ("credentials", "chat-bot-key"),
        ("flows", "crm-hris-sync"),
        ("people", "ada@corp.example"),
    ]:
        listing = seeded.get(f"/api/v1/{kind}")
        _validator(spec, paths[f"/api/v1/{kind}"]["get"], 200).validate(listing.json())
        one = seeded.get(f"/api/v1/{kind}/{ref}")
        _validator(spec, paths[f"/api/v1/{kind}/{{ref}}"]["get"], 200).validate(one.json())
        missing = seeded.get(f"/api/v1/{kind}/nope")
        _validator(spec, paths[f"/api/v1/{kind}/{{ref}}"]["get"], 404).validate(missing.json())
    audit = seeded.get("/api/v1/audit")
    _validator(spec, paths["/api/v1/audit"]["get"], 200).validate(audit.json())
    verify = seeded.get("/api/v1/audit/verify")
    _validator(spec, paths["/api/v1/audit/verify"]["get"], 200).validate(verify.json())
    action = seeded.post("/api/v1/integrations/chat-bot/quarantine")
    op = paths["/api/v1/integrations/{ref}/quarantine"]["post"]
    _validator(spec, op, 200).validate(action.json())
    bad = seeded.post("/api/v1/vendors", {"name": 1})
    _validator(spec, paths["/api/v1/vendors"]["post"], 422).validate(bad.json())

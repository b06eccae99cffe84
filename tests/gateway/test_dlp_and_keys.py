"""DLP on requests, API keys (hashing, expiry, rotation overlap, last use), introspection."""

from __future__ import annotations

import random
import uuid as uuid_mod
from datetime import timedelta

from sqlalchemy import select

from ringfence.gateway.clients import create_api_key, list_api_keys, revoke_api_key, rotate_api_key
from ringfence.gateway.inspect import BuiltinInspector, luhn_ok
from ringfence.gateway.models import GatewayApiKey
from tests.gateway.conftest import Env


async def test_request_with_data_above_clearance_is_blocked_naming_the_type(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.http.post(
        "/crm/contacts",
        json={"name": "Ann", "email": "ann@corp.example"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code == 403
    assert r.json()["data_types"] == ["email_address"]
    assert "ann@corp.example" not in r.text
    assert env.audit.events[-1].dlp["request"]["types"] == {"email_address": 1}
    # ... and monitoring, reading that audit record, sees a DLP block: the parser takes the
    # action and types from the direction's summary and the bundled rule matches it
    from ringfence.monitor.parsers import parser_for
    from ringfence.monitor.sigma.engine import BUNDLED_RULES, RuleSet

    (event,) = parser_for("ringfence")(env.audit.events[-1].to_dict())
    assert event.ocsf["unmapped"]["dlp_action"] == "block"
    assert event.ocsf["unmapped"]["dlp_detectors"] == ["email_address"]
    rules = RuleSet.load([BUNDLED_RULES])
    assert "rf_gateway_dlp_block" in {r.name for r in rules.match(event)}


async def test_redact_route_redacts_request_before_forwarding(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.http.post(
        "/crm-r/notes",
        json={"text": "key AKIAZ7QWERTYUIOPASDF card 4539-1488-0343-6467"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200
    forwarded = r.json()
    assert "AKIA" not in forwarded["body"] and "4539" not in forwarded["body"]
    assert forwarded["upstream_key_injected"] is True  # the vault's credential went upstream
    # ... and the upstream echoing it back does not hand it to the integration: response DLP
    # (JSON, key names as context) redacts the secret under its header name
    assert forwarded["headers"]["x-upstream-key"] == "[REDACTED:generic_secret_field]"
    assert "authorization" not in forwarded["headers"]


async def test_redaction_removes_what_only_a_json_key_revealed(env: Env) -> None:
    """A value the engine confirms through its key name (a bare 9-digit SSN under ``ssn``)
    counted in the verdict but the redaction re-scanned each string without its key and
    forwarded it in clear. Verdict and redaction now come from one field-aware analysis."""
    import orjson

    token = await env.token(env.a)
    values = {
        "us_social_security_number": "536228726",
        "date_of_birth": "1984-03-12",
        "passport": "X12345678",
    }
    sent = {"ssn": "536228726", "dob": "1984-03-12", "passport_number": "X12345678"}
    r = await env.http.post(
        "/crm-r/notes",
        json={**sent, "note": "call back tuesday", "count": 3},
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    body = r.json()["body"]
    summary = env.audit.events[-1].dlp["request"]
    above = summary["above_clearance"]
    assert "us_social_security_number" in above and summary["action"] == "redact"
    for type_id in above:
        assert values[type_id] not in body, type_id
    forwarded = orjson.loads(body)  # still valid JSON, the rest intact
    assert forwarded["ssn"] == "[REDACTED:us_social_security_number]"
    assert forwarded["note"] == "call back tuesday" and forwarded["count"] == 3


def test_builtin_detectors_positive_and_negative() -> None:
    insp = BuiltinInspector()
    assert [h.type_id for h in insp.scan("mail me: a.b@example.org")] == ["email_address"]
    assert [h.type_id for h in insp.scan("4539 1488 0343 6467")] == ["credit_card_number"]
    assert insp.scan("4539 1488 0343 6468") == []  # Luhn fails
    assert not luhn_ok("1234567890123") and insp.scan("order 1234567890123") == []
    assert [h.type_id for h in insp.scan("AKIAZ7QWERTYUIOPASDF")] == ["aws_access_key_id"]
    assert insp.scan("XAKIAZ7QWERTYUIOPASDF") == []
    assert insp.scan("nothing to see") == []


def test_builtin_card_detector_skips_digit_runs_inside_uuids() -> None:
    """A UUID's groups can read as a dash-separated, Luhn-valid card number: in a UUIDv7
    request id, '01938c79-2969-7784-8069-7fe5…' holds '79-2969-7784-8069-7'. The builtin
    engine flagged it (the classify engine's UUID filter was not applied), so a gateway on
    DLP_ENGINE=builtin blocked about 1 echo answer in 700-2,000 as credit_card_number."""
    b = BuiltinInspector()
    uuid = "01938c79-2969-7784-8069-7fe5a1b2c3d4"
    assert b.scan(uuid) == []
    assert b.scan(f'{{"request_id": "{uuid}", "card": null}}') == []
    assert b.scan_bytes(uuid.upper().encode()) == []
    # the same digits outside a UUID are still a card
    assert [h.type_id for h in b.scan("pay with 79-2969-7784-8069-7 today")] == [
        "credit_card_number"
    ]
    # and a real card next to a UUID is still found
    hits = b.scan(f"{uuid} card 4111 1111 1111 1111")
    assert [(h.type_id, h.start) for h in hits] == [("credit_card_number", len(uuid) + 6)]
    # many random UUIDv4 / v7-shaped ids: none is a card (before: ~1 in a few hundred)
    rng = random.Random(7)
    flagged = []
    for _ in range(20_000):
        u = str(uuid_mod.UUID(int=rng.getrandbits(128)))
        if b.scan(f'{{"id": "{u}"}}'):
            flagged.append(u)
    assert flagged == []


async def test_api_key_lifecycle(env: Env) -> None:
    key = create_api_key(env.rt.store, env.rt.clock, client_id=env.a.client_id, scopes=["crm.read"])
    secret = key.api_key.get_secret_value()
    assert secret.startswith("rf_gw_")
    with env.rt.store.session() as s:
        row = s.scalar(select(GatewayApiKey).where(GatewayApiKey.prefix == key.prefix))
        assert row is not None and secret not in row.hash
    env.gateway.holder.reload()
    r = await env.http.get("/crm/contacts", headers={"x-api-key": secret})
    assert r.status_code == 200
    assert env.audit.events[-1].auth == "api_key"
    # the key's scopes are narrower than the client's
    r = await env.http.post("/crm/contacts", json={"name": "x"}, headers={"x-api-key": secret})
    assert r.status_code == 403
    # rotation: both work during the overlap, the old one stops after it
    new = rotate_api_key(env.rt.store, env.rt.clock, key.prefix, overlap_hours=1)
    env.gateway.holder.reload()
    new_secret = new.api_key.get_secret_value()
    assert (await env.http.get("/crm/contacts", headers={"x-api-key": secret})).status_code == 200
    assert (
        await env.http.get("/crm/contacts", headers={"authorization": f"ApiKey {new_secret}"})
    ).status_code == 200
    env.rt.clock.advance(hours=2)  # type: ignore[attr-defined]
    r = await env.http.get("/crm/contacts", headers={"x-api-key": secret})
    assert r.status_code == 401 and r.json()["code"] == "api_key_expired"
    revoke_api_key(env.rt.store, env.rt.clock, new.prefix)
    env.gateway.holder.reload()
    r = await env.http.get("/crm/contacts", headers={"x-api-key": new_secret})
    assert r.status_code == 401 and r.json()["code"] == "api_key_revoked"
    await env.gateway._write_key_use()
    used = {k["prefix"]: k["last_used_at"] for k in list_api_keys(env.rt.store)}
    assert used[key.prefix] and used[new.prefix]


async def test_expired_key_at_creation_bounds(env: Env) -> None:
    key = create_api_key(env.rt.store, env.rt.clock, client_id=env.b.client_id, ttl_days=1)
    env.gateway.holder.reload()
    env.rt.clock.advance(timedelta(days=2).total_seconds())  # type: ignore[attr-defined]
    r = await env.http.get("/crm/contacts", headers={"x-api-key": key.api_key.get_secret_value()})
    assert r.status_code == 401


async def test_introspection_reports_active_and_inactive(env: Env) -> None:
    token = await env.token(env.a)
    assert env.a.client_secret is not None
    auth = (env.a.client_id, env.a.client_secret.get_secret_value())
    r = await env.http.post("/oauth/introspect", data={"token": token}, auth=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["active"] is True and body["client_id"] == env.a.client_id
    assert "crm.read" in body["scope"]
    r = await env.http.post("/oauth/introspect", data={"token": "garbage"}, auth=auth)
    assert r.json() == {"active": False}
    # another client cannot introspect a's token
    assert env.b.client_secret is not None
    r = await env.http.post(
        "/oauth/introspect",
        data={"token": token},
        auth=(env.b.client_id, env.b.client_secret.get_secret_value()),
    )
    assert r.json() == {"active": False}
    # unauthenticated introspection is refused
    r = await env.http.post("/oauth/introspect", data={"token": token})
    assert r.status_code == 401


async def test_token_endpoint_bad_inputs(env: Env) -> None:
    assert env.a.client_secret is not None
    auth = (env.a.client_id, env.a.client_secret.get_secret_value())
    r = await env.http.post("/oauth/token", data={"grant_type": "password"}, auth=auth)
    assert r.json()["error"] == "unsupported_grant_type"
    r = await env.http.post("/oauth/token", json={"grant_type": "client_credentials"}, auth=auth)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = await env.http.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&grant_type=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
        auth=auth,
    )
    assert r.status_code == 400
    r = await env.http.get("/oauth/token")
    assert r.status_code == 405


async def test_jwks_and_token_shape(env: Env) -> None:
    import jwt

    jwks = (await env.http.get("/.well-known/jwks.json")).json()
    assert jwks["keys"] and all("d" not in k for k in jwks["keys"])
    token = await env.token(env.a)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt" and header["kid"] == jwks["keys"][0]["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 900
    assert {"iss", "aud", "sub", "client_id", "jti", "scope", "iat"} <= set(claims)


async def test_builtin_engine_enforces_the_same_policy(env: Env) -> None:
    import httpx

    from ringfence.gateway.app import build_gateway
    from ringfence.gateway.config import GatewayConfig
    from ringfence.gateway.inspect import BuiltinInspector

    gw = build_gateway(
        env.rt.store, env.rt.vault, config=GatewayConfig(dlp_engine="builtin"), clock=env.rt.clock
    )
    assert isinstance(gw.inspector, BuiltinInspector)
    token = await env.token(env.a)
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://g") as c:
        blocked = await c.post(
            "/crm/contacts", json={"name": "A", "email": "a@corp.example"}, headers=headers
        )
        redacted = await c.get("/crm-r/pii", headers=headers)
    await gw.shutdown()
    assert blocked.status_code == 403 and blocked.json()["data_types"] == ["email_address"]
    assert redacted.json()["card"] == "[REDACTED:credit_card_number]"


def test_byte_scan_finds_exactly_what_the_text_scan_finds() -> None:
    from ringfence.gateway.inspect import _shared_classify_inspector

    samples = [
        "nothing to see here, 12 widgets",
        '{"note":"mail me: a.b@example.org","card":"4539 1488 0343 6467"}',
        "key AKIAZ7QWERTYUIOPASDF in text",
        '{"escaped":"a\\u0040b.example.org \\u00e9"}',
        "caf\u00e9 4539148803436467 r\u00e9sum\u00e9",
    ]
    for insp in (BuiltinInspector(), _shared_classify_inspector()):
        for text in samples:
            data = text.encode()
            assert insp.scan_bytes(data) == insp.scan(text)
    classify = _shared_classify_inspector()
    for text in samples:
        full = classify._classifier.scan_text(text)  # the engine itself, no gate shortcut
        assert [(h.type_id, h.start, h.end) for h in classify.scan_bytes(text.encode())] == [
            (str(f.type_id), int(f.start), int(f.end)) for f in full.findings
        ]

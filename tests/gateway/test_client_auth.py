"""Client authentication at the token endpoint: private_key_jwt and mTLS-bound tokens."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from jwt.algorithms import ECAlgorithm

from ringfence.gateway.app import Gateway, build_gateway
from ringfence.gateway.clients import create_client
from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.tokens import cert_thumbprint, create_signing_key
from ringfence.runtime import Runtime
from tests.gateway.conftest import Env


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_client_cert(
    ca_key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> x509.Certificate:
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name("hr-sync"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("hr-sync.example")]), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def header_value(cert: x509.Certificate) -> str:
    return quote(cert.public_bytes(serialization.Encoding.PEM).decode())


@pytest.fixture
async def mtls(
    gw_runtime: Runtime, tmp_path: Path
) -> AsyncIterator[tuple[Gateway, dict[str, object]]]:
    ca_key, ca = make_ca("Ringfence test CA")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert = make_client_cert(ca_key, ca)
    other_key, other_ca = make_ca("Evil CA")
    rogue = make_client_cert(other_key, other_ca)
    thumb = cert_thumbprint(cert.public_bytes(serialization.Encoding.DER))
    client = create_client(
        gw_runtime.store,
        gw_runtime.clock,
        integration="hr-to-crm",
        name="mtls",
        scopes=["crm.read"],
        auth_method="tls_client_auth",
        cert_thumbprint=thumb,
    )
    config = GatewayConfig(
        trusted_proxies=["10.9.0.0/16"], client_ca_file=ca_file, dlp_engine="builtin"
    )
    gw = build_gateway(gw_runtime.store, gw_runtime.vault, config=config, clock=gw_runtime.clock)
    await gw.startup()
    yield gw, {"client": client, "cert": cert, "rogue": rogue, "thumb": thumb}
    await gw.shutdown()


def _client(gw: Gateway, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gw, client=(ip, 4000)), base_url="http://gw"
    )


async def test_mtls_client_gets_a_certificate_bound_token(mtls) -> None:  # type: ignore[no-untyped-def]
    gw, ctx = mtls
    cert_hdr = {"x-client-cert": header_value(ctx["cert"])}
    async with _client(gw, "10.9.0.5") as http:
        r = await http.post(
            "/oauth/token",
            headers=cert_hdr,
            data={"grant_type": "client_credentials", "client_id": ctx["client"].client_id},
        )
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["cnf"] == {"x5t#S256": ctx["thumb"]}
        auth = {"authorization": f"Bearer {token}"}
        ok = await http.get("/crm/contacts", headers={**auth, **cert_hdr})
        assert ok.status_code == 200
        assert "x-client-cert" not in ok.json()["headers"]
        # the stolen token alone (no certificate) is useless
        stolen = await http.get("/crm/contacts", headers=auth)
        assert stolen.status_code == 401 and stolen.json()["code"] == "certificate_mismatch"
        # a certificate from another CA is refused
        rogue = await http.get(
            "/crm/contacts", headers={**auth, "x-client-cert": header_value(ctx["rogue"])}
        )
        assert rogue.status_code == 401 and rogue.json()["code"] == "certificate_untrusted"
        # without a certificate the mTLS client cannot authenticate at all
        r = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": ctx["client"].client_id},
        )
        assert r.status_code == 401


async def test_client_cert_header_from_untrusted_address_is_refused(mtls) -> None:  # type: ignore[no-untyped-def]
    gw, ctx = mtls
    async with _client(gw, "203.0.113.9") as http:
        r = await http.post(
            "/oauth/token",
            headers={"x-client-cert": header_value(ctx["cert"])},
            data={"grant_type": "client_credentials", "client_id": ctx["client"].client_id},
        )
        assert r.status_code == 400
        assert r.json()["code"] == "untrusted_client_cert_header"


def _assertion(
    key: ec.EllipticCurvePrivateKey,
    client_id: str,
    aud: str,
    now: int,
    jti: str = "a-1",
    **over: object,
) -> str:
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "exp": now + 60,
        "iat": now,
        "jti": jti,
        **over,
    }
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})


async def test_private_key_jwt_client_authentication(env: Env) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "alg": "ES256", "use": "sig"})
    client = create_client(
        env.rt.store,
        env.rt.clock,
        integration="hr-to-crm",
        name="pkjwt",
        scopes=["crm.read"],
        auth_method="private_key_jwt",
        jwks={"keys": [jwk]},
    )
    env.gateway.holder.reload()
    aud = env.gateway.config.issuer  # the issuer identifier alone (rfc7523bis)
    now = int(env.rt.clock.now().timestamp())
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    good = _assertion(key, client.client_id, aud, now)
    r = await env.http.post("/oauth/token", data={**form, "client_assertion": good})
    assert r.status_code == 200, r.text
    # replaying the same assertion fails
    r = await env.http.post("/oauth/token", data={**form, "client_assertion": good})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # signed by another key
    other = ec.generate_private_key(ec.SECP256R1())
    bad = _assertion(other, client.client_id, aud, now, jti="a-2")
    r = await env.http.post("/oauth/token", data={**form, "client_assertion": bad})
    assert r.status_code == 401
    # wrong audience, expired
    wrong_aud = _assertion(key, client.client_id, "https://elsewhere/token", now, jti="a-3")
    expired = _assertion(key, client.client_id, aud, now, jti="a-4", exp=now - 3600)
    for a in (wrong_aud, expired):
        r = await env.http.post("/oauth/token", data={**form, "client_assertion": a})
        assert r.status_code == 401
    # a secret-based login for a private_key_jwt client is refused (no downgrade)
    r = await env.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, "rf_cs_guess"),
    )
    assert r.status_code == 401


async def test_signing_key_rotation_keeps_old_tokens_valid_during_overlap(env: Env) -> None:
    old_token = await env.token(env.a)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    new_kid = create_signing_key(env.rt.store, env.rt.vault, env.rt.clock)
    env.gateway.holder.reload()
    new_token = await env.token(env.a)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    jwks = (await env.http.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    assert (await env.get("/crm/contacts", old_token)).status_code == 200
    assert (await env.get("/crm/contacts", new_token)).status_code == 200
    # after the overlap the old key is retired: its tokens no longer verify
    env.rt.clock.advance(minutes=31)  # type: ignore[attr-defined]
    create_signing_key(env.rt.store, env.rt.vault, env.rt.clock)
    env.gateway.holder.reload()
    jwks = (await env.http.get("/.well-known/jwks.json")).json()
    assert old_kid not in {k["kid"] for k in jwks["keys"]}

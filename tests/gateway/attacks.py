"""Helpers that forge hostile tokens for the OWASP tests (never used outside tests)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from cryptography.hazmat.primitives import serialization

from ringfence.gateway.app import Gateway


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(gateway: Gateway, client_id: str, **over: Any) -> dict[str, Any]:
    now = int(gateway.clock.now().timestamp())
    base = {
        "iss": gateway.config.issuer,
        "aud": gateway.config.audience,
        "sub": client_id,
        "client_id": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": f"forged-{time.monotonic_ns()}",
        "scope": "crm.read crm.write crm.admin",
    }
    base.update(over)
    return base


def alg_none_token(gateway: Gateway, client_id: str) -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": gateway.holder.current().keys.active_kid}
    payload = claims_for(gateway, client_id)
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}."


def hs256_with_public_key(gateway: Gateway, client_id: str) -> str:
    keys = gateway.holder.current().keys
    kid = keys.active_kid
    assert kid is not None
    _, public = keys.public[kid]
    secret = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "at+jwt", "kid": kid}
    payload = claims_for(gateway, client_id)
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


def signed_token(gateway: Gateway, client_id: str, **over: Any) -> str:
    """A token signed with the gateway's real key but with chosen claims."""
    import jwt

    keys = gateway.holder.current().keys
    assert keys.active_key is not None and keys.active_alg is not None
    return jwt.encode(
        claims_for(gateway, client_id, **over),
        keys.active_key,
        algorithm=keys.active_alg,
        headers={"kid": keys.active_kid, "typ": "at+jwt"},
    )

"""The gateway's OAuth 2.0 authorization server for machines: client credentials only.

``POST /oauth/token`` (RFC 6749 §4.4, RFC 9068 JWT access tokens), ``POST /oauth/introspect``
(RFC 7662) and ``POST /oauth/revoke`` (RFC 7009). Clients authenticate with the method they
were registered with and no other: a hashed client secret (basic or post), ``private_key_jwt``
(RFC 7523, replay-protected ``jti``) or mutual TLS (RFC 8705; tokens are then bound to the
certificate with ``cnf.x5t#S256``). Errors use the RFC 6749 ``error`` codes. This module never
logs or echoes a secret, an assertion or a token.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from ringfence.core.errors import AuthenticationError
from ringfence.gateway.clients import secret_matches
from ringfence.gateway.policy import ClientInfo, PolicySnapshot, is_active
from ringfence.gateway.tokens import issue_access_token

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ["ES256", "EdDSA", "RS256", "PS256"]
MAX_FORM = 16_384


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def parse_form(body: bytes, content_type: bytes | None) -> dict[str, str]:
    if content_type is None or not content_type.lower().startswith(
        b"application/x-www-form-urlencoded"
    ):
        raise OAuthError(400, "invalid_request", "use application/x-www-form-urlencoded")
    if len(body) > MAX_FORM:
        raise OAuthError(400, "invalid_request", "request too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError(400, "invalid_request", "malformed form body") from None
    form: dict[str, str] = {}
    for k, v in pairs:
        if k in form:
            raise OAuthError(400, "invalid_request", f"parameter {k} given more than once")
        form[k] = v
    return form


@dataclass
class ReplayCache:
    """Remembers client-assertion ``jti``s until they expire.

    ``seen`` is this process's memory: alone, it lets an assertion be used once per gateway
    process, and once more after a restart. ``shared``, when the gateway provides one, claims
    the key where every process sees it (True: first use — ``clients.claim_assertion_jti``, an
    INSERT keyed on it in the store); it may block, so the caller runs client authentication
    off the event loop.
    """

    seen: dict[str, float]
    shared: Callable[[str, float, float], bool] | None = None  # (key, exp, now)

    def check_and_add(self, key: str, exp: float, now: float) -> bool:
        if len(self.seen) > 10_000:
            # list() copies in one step: client authentication may run in several threads
            for k, e in list(self.seen.items()):
                if e < now:
                    self.seen.pop(k, None)
        if key in self.seen:
            return False
        first = self.shared is None or self.shared(key, exp, now)
        self.seen[key] = exp
        return first


@dataclass(frozen=True)
class AssertionAudience:
    """What a client assertion's ``aud`` must be: this gateway's issuer identifier as its only
    value (draft-ietf-oauth-rfc7523bis, approved as the update of RFC 7523 §3: a string, or a
    list of that one string). ``token_endpoint`` is accepted as well only while clients move
    (``RINGFENCE_GATEWAY_ASSERTION_AUDIENCE=issuer_or_token_endpoint``): an assertion whose
    audience is an endpoint URL is what the audience-injection attack makes a client sign for
    another authorization server. A list naming anything else besides is always refused."""

    issuer: str
    token_endpoint: str
    accept_token_endpoint: bool = False  # the transition setting

    def check(self, aud: Any) -> None:
        if type(aud) is list:
            if len(aud) != 1:
                raise OAuthError(
                    401,
                    "invalid_client",
                    f"assertion aud must be the issuer {self.issuer} as its only value, "
                    "not a list of audiences",
                )
            aud = aud[0]
        if type(aud) is not str:
            raise OAuthError(401, "invalid_client", "assertion aud must be a string")
        if aud == self.issuer or (self.accept_token_endpoint and aud == self.token_endpoint):
            return
        if aud == self.token_endpoint:
            raise OAuthError(
                401,
                "invalid_client",
                f"assertion aud must be the issuer {self.issuer}, not the token endpoint "
                "(draft-ietf-oauth-rfc7523bis)",
            )
        raise OAuthError(
            401, "invalid_client", f"assertion aud is not this gateway's issuer {self.issuer}"
        )


def authenticate_client(
    snap: PolicySnapshot,
    form: dict[str, str],
    authorization: bytes | None,
    cert_thumbprint: str | None,
    audience: AssertionAudience,
    replay: ReplayCache,
    now: float,
) -> ClientInfo:
    """Authenticate the calling client with its registered method, or raise invalid_client."""
    method: str
    client_id: str
    secret: str | None = None
    if authorization is not None and authorization[:6].lower() == b"basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError(401, "invalid_client", "malformed Basic credentials") from None
        cid, sep, sec = decoded.partition(":")
        if not sep:
            raise OAuthError(401, "invalid_client", "malformed Basic credentials")
        method, client_id, secret = "client_secret_basic", unquote(cid), unquote(sec)
        if "client_secret" in form or "client_assertion" in form:
            raise OAuthError(400, "invalid_request", "use exactly one client authentication")
    elif "client_assertion" in form:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError(400, "invalid_request", "unsupported client_assertion_type")
        method = "private_key_jwt"
        try:
            client_id = str(
                jwt.decode(form["client_assertion"], options={"verify_signature": False}).get(
                    "iss", ""
                )
            )
        except jwt.PyJWTError:
            raise OAuthError(401, "invalid_client", "malformed client assertion") from None
    elif "client_secret" in form:
        method, client_id, secret = (
            "client_secret_post",
            form.get("client_id", ""),
            form["client_secret"],
        )
    elif cert_thumbprint is not None and form.get("client_id"):
        method, client_id = "tls_client_auth", form["client_id"]
    else:
        raise OAuthError(401, "invalid_client", "client authentication required")
    client = snap.clients.get(client_id)
    if client is None or client.revoked:
        raise OAuthError(401, "invalid_client", "unknown or revoked client")
    if client.auth_method != method:
        raise OAuthError(401, "invalid_client", "client must use its registered authentication")
    if method.startswith("client_secret"):
        if secret is None or not secret_matches(secret, client.secret_hash):
            raise OAuthError(401, "invalid_client", "client authentication failed")
    elif method == "private_key_jwt":
        _verify_assertion(client, form["client_assertion"], audience, replay, now)
    elif client.cert_thumbprint != cert_thumbprint:
        raise OAuthError(401, "invalid_client", "client certificate does not match")
    if form.get("client_id") not in (None, client.client_id):
        raise OAuthError(401, "invalid_client", "client_id does not match the credentials")
    return client


# The JWS algorithms a registered key of each JWK type may verify. The assertion's header names
# the algorithm; the client's key decides whether it may (an RS256 header against an EC key
# reached PyJWT's RSA code with an EC key object and raised: 503 for anyone knowing a client_id).
_KEY_ALGS = {
    "EC": frozenset({"ES256"}),
    "OKP": frozenset({"EdDSA"}),
    "RSA": frozenset({"RS256", "PS256"}),
}
ASSERTION_LEEWAY = 30  # seconds of clock skew allowed on exp / nbf / iat
ASSERTION_MAX_SECONDS = 600  # an assertion may not be valid for longer from now
MAX_JTI = 256


def _assertion_keys(client: ClientInfo, alg: str, kid: Any) -> list[Any]:
    """The client's registered public keys that may verify an assertion signed with ``alg``."""
    keys: list[Any] = []
    raw_keys = (client.jwks or {}).get("keys")
    for raw in raw_keys if isinstance(raw_keys, list) else []:
        if not isinstance(raw, dict) or (kid is not None and raw.get("kid") != kid):
            continue
        kty = raw.get("kty")
        if raw.get("alg") not in (None, alg) or alg not in _KEY_ALGS.get(str(kty), ()):
            continue
        try:
            key = jwt.PyJWK(raw).key
        except (jwt.PyJWTError, TypeError, ValueError):
            continue
        if alg == "ES256" and not (
            isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
        ):
            continue
        keys.append(key)
    return keys


def _number(value: Any) -> float | None:
    """A JSON number that is a real instant (not a bool, NaN or infinity), else None."""
    if type(value) not in (int, float) or not math.isfinite(value):
        return None
    return float(value)


def _verify_assertion(
    client: ClientInfo,
    assertion: str,
    audience: AssertionAudience,
    replay: ReplayCache,
    now: float,
) -> None:
    claims: dict[str, Any] | None = None
    try:
        header = jwt.get_unverified_header(assertion)
        alg = header.get("alg")
        if type(alg) is not str or alg not in ASSERTION_ALGS:
            raise OAuthError(401, "invalid_client", "assertion algorithm not allowed")
        for key in _assertion_keys(client, alg, header.get("kid")):
            try:
                claims = jwt.decode(
                    assertion,
                    key,
                    algorithms=[alg],
                    # Time claims are checked below against the gateway's clock with a leeway;
                    # PyJWT's own checks use the wall clock with none (an iat one second ahead
                    # of the gateway was refused). The audience is checked below too: PyJWT
                    # accepts any list that contains the expected value.
                    options={
                        "require": ["iss", "sub", "aud", "exp", "jti"],
                        "verify_aud": False,
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                    },
                )
                break
            except jwt.InvalidSignatureError:
                continue
    except OAuthError:
        raise
    except (jwt.PyJWTError, TypeError, ValueError):
        raise OAuthError(401, "invalid_client", "client assertion rejected") from None
    if claims is None:
        raise OAuthError(401, "invalid_client", "client assertion signature invalid")
    if claims["iss"] != client.client_id or claims["sub"] != client.client_id:
        raise OAuthError(401, "invalid_client", "assertion iss/sub must be the client_id")
    audience.check(claims["aud"])
    exp = _number(claims["exp"])
    if exp is None or exp < now - ASSERTION_LEEWAY or exp > now + ASSERTION_MAX_SECONDS:
        raise OAuthError(401, "invalid_client", "assertion expired or too long-lived")
    for name in ("nbf", "iat"):
        if name in claims:
            when = _number(claims[name])
            if when is None or when - ASSERTION_LEEWAY > now:
                raise OAuthError(401, "invalid_client", "assertion not yet valid")
    jti = claims["jti"]
    if type(jti) is not str or not 0 < len(jti) <= MAX_JTI:
        raise OAuthError(401, "invalid_client", "assertion jti must be a non-empty string")
    if not replay.check_and_add(f"{client.client_id}:{jti}", exp + ASSERTION_LEEWAY, now):
        raise OAuthError(401, "invalid_client", "assertion replayed")


@dataclass
class TokenService:
    issuer: str
    audience: str
    ttl_seconds: int
    token_endpoint: str
    replay: ReplayCache
    # client assertions' aud: "issuer" (the issuer identifier alone) or, while clients move,
    # "issuer_or_token_endpoint" (RINGFENCE_GATEWAY_ASSERTION_AUDIENCE)
    assertion_audience: str = "issuer"
    _assertion_audience: AssertionAudience = field(init=False)

    def __post_init__(self) -> None:
        if self.assertion_audience not in ("issuer", "issuer_or_token_endpoint"):
            raise ValueError("assertion_audience must be issuer or issuer_or_token_endpoint")
        self._assertion_audience = AssertionAudience(
            self.issuer,
            self.token_endpoint,
            accept_token_endpoint=self.assertion_audience == "issuer_or_token_endpoint",
        )

    def token(
        self,
        snap: PolicySnapshot,
        form: dict[str, str],
        authorization: bytes | None,
        cert_thumbprint: str | None,
        now: float,
    ) -> dict[str, Any]:
        client = authenticate_client(
            snap, form, authorization, cert_thumbprint, self._assertion_audience, self.replay, now
        )
        if form.get("grant_type") != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "only client_credentials is supported")
        if not is_active(snap.integrations.get(client.integration_id)):
            raise OAuthError(400, "unauthorized_client", "the client's integration is not active")
        requested = form.get("scope")
        scopes = set(requested.split()) if requested else set(client.scopes)
        if not scopes <= client.scopes:
            raise OAuthError(400, "invalid_scope", "requested scope exceeds the client's grant")
        claims_extra = dict(client.claims)
        claims_extra["integration_id"] = client.integration_id
        token, claims = issue_access_token(
            snap.keys,
            issuer=self.issuer,
            audience=self.audience,
            client_id=client.client_id,
            scopes=sorted(scopes),
            ttl_seconds=self.ttl_seconds,
            now=_dt(now),
            extra_claims=claims_extra,
            cnf_thumbprint=cert_thumbprint,
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": claims["exp"] - claims["iat"],
            "scope": claims["scope"],
        }

    def introspect(
        self,
        snap: PolicySnapshot,
        form: dict[str, str],
        authorization: bytes | None,
        cert_thumbprint: str | None,
        now: float,
        local_revoked: set[str],
    ) -> dict[str, Any]:
        caller = authenticate_client(
            snap, form, authorization, cert_thumbprint, self._assertion_audience, self.replay, now
        )
        token = form.get("token")
        if not token:
            raise OAuthError(400, "invalid_request", "token is required")
        try:
            claims = snap.verifier.verify(token, now)
        except AuthenticationError:
            return {"active": False}
        if claims["jti"] in local_revoked:
            return {"active": False}
        if claims.get("client_id") != caller.client_id and not (
            "gateway:introspect" in caller.scopes
            and is_active(snap.integrations.get(caller.integration_id))
        ):
            # Other clients' tokens only for an introspector whose own integration is active:
            # a quarantined one is refused tokens, and so is its view of everyone else's.
            return {"active": False}
        # Active means the gateway would accept it now: its client not revoked, its
        # integration active, and only the scopes the client still holds (the authenticate
        # stage's own rules), not just a good signature and an unrevoked jti.
        owner = snap.clients.get(str(claims.get("client_id", "")))
        if (
            owner is None
            or owner.revoked
            or not is_active(snap.integrations.get(owner.integration_id))
        ):
            return {"active": False}
        out: dict[str, Any] = {
            k: claims[k]
            for k in ("client_id", "sub", "exp", "iat", "iss", "aud", "jti")
            if k in claims
        }
        out["scope"] = " ".join(
            sorted(frozenset(str(claims.get("scope", "")).split()) & owner.scopes)
        )
        if "cnf" in claims:
            out["cnf"] = claims["cnf"]
        out.update({"active": True, "token_type": "Bearer"})
        return out

    def revoke(
        self,
        snap: PolicySnapshot,
        form: dict[str, str],
        authorization: bytes | None,
        cert_thumbprint: str | None,
        now: float,
        record: Callable[[str, str, int], None],
    ) -> None:
        caller = authenticate_client(
            snap, form, authorization, cert_thumbprint, self._assertion_audience, self.replay, now
        )
        token = form.get("token")
        if not token:
            raise OAuthError(400, "invalid_request", "token is required")
        hint = form.get("token_type_hint")
        if hint not in (None, "access_token", "refresh_token"):
            raise OAuthError(400, "unsupported_token_type", "unsupported token_type_hint")
        try:
            claims = snap.verifier.verify(token, now)
        except AuthenticationError:
            return  # RFC 7009 §2.2: invalid tokens need no action
        if claims.get("client_id") != caller.client_id:
            return  # a client may only revoke its own tokens; answer the same either way
        record(str(claims["jti"]), caller.client_id, int(claims["exp"]))


def _dt(ts: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC)


def monotonic_seconds() -> float:
    return time.monotonic()

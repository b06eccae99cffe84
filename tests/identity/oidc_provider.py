"""A small, real OpenID provider on loopback for the SSO tests.

Discovery, JWKS, an authorization endpoint that signs the configured user in at once, and a
token endpoint that checks client authentication, the single-use code, the redirect URI and
the PKCE S256 verifier (Authlib's ``create_s256_code_challenge``), then returns an ID token
signed with joserfc. ``mode`` makes it misbehave the way attacks look (forged signature,
wrong audience or issuer, replayed nonce, ``alg: none``, HS256 keyed with the public key,
expired token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import socket
import threading
import time
from typing import Any

import orjson
import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

OMIT: Any = object()  # a claim value meaning "leave this claim out of the ID token"


class LoopbackOidcProvider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        # Same kid, never published: what an attacker signing their own token would use.
        self.forger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.client_id = "ringfence-console"
        self.client_secret = secrets.token_urlsafe(24)
        self.claims: dict[str, Any] = {}
        self.mode = "good"
        self.codes: dict[str, dict[str, Any]] = {}
        self.jwks_hits = 0
        self.token_hits = 0
        self.app = self._build()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.issuer = ""
        self.base = ""  # where the endpoints are: the issuer without a trailing slash
        self.now = lambda: int(time.time())  # tests point this at the relying party's clock

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token",
                "jwks_uri": f"{self.base}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            self.jwks_hits += 1
            return {"keys": [self.key.as_dict(private=False)]}

        @app.get("/authorize")
        def authorize(request: Request) -> Any:
            q = request.query_params
            if q.get("client_id") != self.client_id or q.get("response_type") != "code":
                return JSONResponse({"error": "unauthorized_client"}, status_code=400)
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "nonce": q.get("nonce"),
                "challenge": q.get("code_challenge"),
                "redirect_uri": q.get("redirect_uri"),
            }
            return RedirectResponse(
                f"{q.get('redirect_uri')}?code={code}&state={q.get('state')}", status_code=302
            )

        @app.post("/token")
        def token(
            request: Request,
            grant_type: str = Form(),
            code: str = Form(),
            redirect_uri: str = Form(),
            code_verifier: str = Form(),
        ) -> Any:
            self.token_hits += 1
            expected = (
                "Basic "
                + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            )
            if request.headers.get("authorization") != expected:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            grant = self.codes.pop(code, None)
            if grant_type != "authorization_code" or grant is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            if grant["redirect_uri"] != redirect_uri:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            if create_s256_code_challenge(code_verifier) != grant["challenge"]:
                return JSONResponse({"error": "invalid_grant", "why": "pkce"}, status_code=400)
            return {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(grant["nonce"]),
            }

        return app

    def id_token(self, nonce: str | None) -> str:
        now = self.now()
        claims = {
            "iss": self.issuer,
            "sub": "00u-ann",
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            # Okta and Google send it with the email scope; tests drop or falsify it to check
            # that an unverified email is never trusted.
            "email_verified": True,
            **self.claims,
        }
        claims = {k: v for k, v in claims.items() if v is not OMIT}
        key = self.key
        if self.mode == "forged":
            key = self.forger
        elif self.mode == "wrong_aud":
            claims["aud"] = "someone-else"
        elif self.mode == "wrong_nonce":
            claims["nonce"] = "replayed-nonce"
        elif self.mode == "expired":
            claims["exp"] = now - 3600
            claims["iat"] = now - 7200
        elif self.mode == "wrong_iss":
            claims["iss"] = "https://idp.evil.example"
        elif self.mode == "hs256_public":
            # Algorithm confusion: HMAC "signed" with the provider's public key, which anyone
            # can fetch from the JWKS, hoping the verifier uses that key as the HMAC secret.
            header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"k1"}').rstrip(b"=")
            body = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=")
            secret = self.key.as_pem(private=False)
            mac = hmac.new(secret, header + b"." + body, hashlib.sha256).digest()
            sig = base64.urlsafe_b64encode(mac).rstrip(b"=")
            return f"{header.decode()}.{body.decode()}.{sig.decode()}"
        elif self.mode == "alg_none":
            header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=")
            body = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=")
            return f"{header.decode()}.{body.decode()}."
        return jwt.encode({"alg": "RS256", "kid": str(key.kid)}, claims, key)

    def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.issuer = self.base  # Auth0-style tests set it to base + "/"
        config = uvicorn.Config(self.app, log_level="error", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("loopback OIDC provider did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def wire_sso(app: Any, runtime: Any, provider: LoopbackOidcProvider, group_roles: Any) -> Any:
    """Point ``app``'s OIDC settings at ``provider`` (client secret in the vault, the
    provider's clock on the runtime's) and give it an HTTP client; returns that client for the
    caller to close."""
    import httpx

    from ringfence.identity.settings import IdentitySettings

    provider.mode = "good"
    provider.now = lambda: int(runtime.clock.now().timestamp())
    runtime.vault.put("oidc-client-secret", provider.client_secret)
    app.state.identity_settings = IdentitySettings(
        oidc_issuer=provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret_ref="vault:oidc-client-secret",
        oidc_redirect_uri="https://rf.example/auth/oidc/callback",
        oidc_group_roles=group_roles,
        mfa_required_roles=["admin"],  # analysts without MFA: these tests are about SSO
    )
    http = httpx.Client(timeout=5)
    app.state.oidc_http = http
    return http

"""Response headers every control-plane answer carries (ASGI middleware, no buffering).

Answers may hold a secret shown once (a new token, a client secret, a TOTP enrolment), so
nothing may be cached: ``Cache-Control: no-store`` (RFC 6749 §5.1 asks it of token responses;
we apply it to every API answer). JSON is never to be sniffed or framed. A response that set
its own value keeps it (the console's pages, the stylesheet, the interactive API docs).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DEFAULTS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
# The API's JSON never needs to load anything; the docs page (Swagger UI, when enabled) sets
# its own policy (api/docs.py).
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_NO_CSP_PATHS = ("/api/docs",)
_HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = _DEFAULTS
        if path.startswith(("/api/", "/auth/", "/scim/")) and not path.startswith(_NO_CSP_PATHS):
            extra = (*_DEFAULTS, _API_CSP)
        if scope.get("scheme") == "https":
            # Only over HTTPS (browsers ignore it on plain HTTP, as RFC 6797 says they must).
            extra = (*extra, _HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in extra if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""Request-body guard (ASGI middleware): who may send a body, how large, and JSON-only bodies.

Runs before any route and before a body is read. A caller may send up to
``ANONYMOUS_MAX_BODY`` bytes without being known (the route then authenticates as usual: a
sign-in-free route such as a questionnaire link still works). Anything larger is admitted only
once the caller is authenticated from the request's headers (bearer token or console session
with its CSRF token) and holds the scopes the prefix's limit asks for — or, on a route whose
path is the credential (a questionnaire link), once that link is open. A refused caller gets
401/403 (or the link's 404/409/410) as soon as the declared ``Content-Length`` or the streamed
bytes pass the allowance: an unauthenticated client cannot make the server hold more than
``ANONYMOUS_MAX_BODY`` of its body. Admitted bodies are capped per prefix (413 without
buffering past the cap) and must be JSON (or NDJSON) unless the prefix takes any type (415);
those prefixes' large documents go to the route as they arrive (counted, not buffered here).
The middleware never logs a body or a credential: both may carry secrets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ringfence.api.problems import ProblemResponse, problem
from ringfence.core.errors import RingfenceError

DEFAULT_MAX_BODY = 1024 * 1024  # 1 MiB: ample for any inventory object
# What any caller may send before it is known: the largest JSON body a sign-in-free route
# takes from a stranger is a few KiB (identity's /auth caps its bodies at the same 64 KiB).
ANONYMOUS_MAX_BODY = 64 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Raises RingfenceError unless the caller the headers name holds ``scopes`` (401 none or a bad
# credential, 403 too few scopes or a session without its CSRF token). api/deps.py has it.
Admit = Callable[[Scope, frozenset[str]], Awaitable[None]]
# Raises RingfenceError unless the credential in the path (a questionnaire link) is valid.
PathAdmit = Callable[[Scope], Awaitable[None]]


@dataclass(frozen=True)
class BodyLimit:
    """The body a prefix takes: at most ``max_bytes``; over ``ANONYMOUS_MAX_BODY`` only from a
    caller holding ``scopes`` (empty: any authenticated caller) or, with ``by_path``, when the
    path's own credential is valid (headers are then not looked at)."""

    max_bytes: int
    scopes: frozenset[str] = frozenset()
    any_content_type: bool = False
    by_path: PathAdmit | None = None


_JSON_TYPES = frozenset(
    {"application/json", "application/x-ndjson", "application/jsonl", "application/json-seq"}
)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in _JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def set_body_limit(
    app: Any,
    prefix: str,
    max_bytes: int,
    *,
    any_content_type: bool = False,
    scopes: Iterable[str] = ("write",),
    by_path: PathAdmit | None = None,
) -> None:
    """Let the routes under ``prefix`` take bodies up to ``max_bytes`` (longest prefix wins).

    For capabilities that accept larger documents (evidence uploads, NDJSON batches); call it
    next to the ``include_router`` line in ``api/app.py``. A body over ``ANONYMOUS_MAX_BODY``
    is admitted only from a caller holding ``scopes`` (by default ``write``: a raised limit is
    for those who may change something there; pass the scope the routes need, ``()`` for any
    authenticated caller), or, with ``by_path``, when the path's credential is valid.
    ``any_content_type`` lifts the JSON-only rule for routes whose job is to read other
    formats (e.g. DLP scanning of CSV).
    """
    app.state.body_limits[prefix] = BodyLimit(
        max_bytes, frozenset(scopes), any_content_type, by_path
    )


def _refusal(exc: RingfenceError, path: str) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="ringfence"'} if exc.status == 401 else None
    return ProblemResponse(exc.to_problem(path), status_code=exc.status, headers=headers)


class BodyTooLarge(RingfenceError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


def _counted(receive: Receive, read: list[bytes], size: int, cap: int) -> Receive:
    """``receive`` for a body streamed to the route: the chunks the guard already ``read``
    first, then the rest, raising 413 (the app's problem handler answers) past ``cap``."""
    pending = list(read)
    total = size

    async def counted() -> Message:
        nonlocal total
        if pending:
            return {"type": "http.request", "body": pending.pop(0), "more_body": True}
        message = await receive()
        if message["type"] == "http.request":
            total += len(message.get("body", b""))
            if total > cap:
                raise BodyTooLarge(f"request body exceeds {cap} bytes")
        return message

    return counted


class BodyGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        admit: Admit,
        max_body: int = DEFAULT_MAX_BODY,
        prefix: str = "/api/",
        limits: dict[str, BodyLimit] | None = None,
    ) -> None:
        self.app = app
        self.admit = admit
        self.default = BodyLimit(max_body)
        self.prefix = prefix
        # Shared with app.state.body_limits, so limits registered later still apply.
        self.limits = limits if limits is not None else {}

    def _limit(self, path: str) -> BodyLimit:
        best, limit = "", self.default
        for prefix, candidate in self.limits.items():
            if path.startswith(prefix) and len(prefix) > len(best):
                best, limit = prefix, candidate
        return limit

    async def _refused(self, scope: Scope, limit: BodyLimit) -> Response | None:
        """None when the caller may send more than ANONYMOUS_MAX_BODY here; else the answer."""
        try:
            if limit.by_path is not None:
                await limit.by_path(scope)
            else:
                await self.admit(scope, limit.scopes)
        except RingfenceError as exc:
            return _refusal(exc, scope["path"])
        except OperationalError:
            # Locked or unreachable store while looking the caller (or link) up: as the app's
            # handler answers it, never a 500 and never the SQL.
            resp = problem(
                503,
                "unavailable",
                "Service unavailable",
                "the store is busy or unreachable; retry shortly",
                scope["path"],
            )
            resp.headers["Retry-After"] = "1"
            return resp
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        limit = self._limit(path)
        cap = limit.max_bytes
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            await self._too_large(scope, receive, send, path, cap)
            return
        # Known before a byte of the body is read: a stranger announcing a large body is
        # answered at once (and with Expect: 100-continue never sends it).
        admitted = cap <= ANONYMOUS_MAX_BODY
        if not admitted and declared is not None and int(declared) > ANONYMOUS_MAX_BODY:
            refused = await self._refused(scope, limit)
            if refused is not None:
                await refused(scope, receive, send)
                return
            admitted = True
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            if admitted and limit.any_content_type:
                # A known caller's document (no JSON check to make): handed to the route as it
                # arrives, still counted against the cap, so it is not held twice.
                with suppress(ClientDisconnect):  # the client left mid-body: nobody to answer
                    await self.app(scope, _counted(receive, chunks, size, cap), send)
                return
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await self._too_large(scope, receive, send, path, cap)
                return
            if not admitted and size > ANONYMOUS_MAX_BODY:
                # A streamed body (no Content-Length) passing the allowance: who is it?
                refused = await self._refused(scope, limit)
                if refused is not None:
                    await refused(scope, receive, send)
                    return
                admitted = True
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        del chunks
        if body and not limit.any_content_type and not _is_json(headers.get("content-type", "")):
            resp = problem(
                415,
                "unsupported_media_type",
                "Unsupported media type",
                "request bodies must be JSON (Content-Type: application/json)",
                path,
            )
            await resp(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, path: str, cap: int
    ) -> None:
        resp = problem(
            413,
            "payload_too_large",
            "Payload too large",
            f"request body exceeds {cap} bytes",
            path,
        )
        await resp(scope, receive, send)

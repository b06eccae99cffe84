"""Request-body guard (ASGI middleware): size cap and JSON-only bodies, before any route runs.

A body over the cap is refused with 413 without being buffered beyond the cap (declared
``Content-Length`` or the streamed bytes, whichever shows it first); a non-empty body that is
not JSON (or NDJSON) is refused with 415. The middleware never logs a body: it may carry secrets.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ringfence.api.problems import problem

DEFAULT_MAX_BODY = 1024 * 1024  # 1 MiB: ample for any inventory object
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


_JSON_TYPES = frozenset(
    {"application/json", "application/x-ndjson", "application/jsonl", "application/json-seq"}
)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in _JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def set_body_limit(
    app: Any, prefix: str, max_bytes: int, *, any_content_type: bool = False
) -> None:
    """Let the routes under ``prefix`` take bodies up to ``max_bytes`` (longest prefix wins).

    For capabilities that accept larger documents (evidence uploads, NDJSON batches); call it
    next to the ``include_router`` line in ``api/app.py``. ``any_content_type`` lifts the
    JSON-only rule for routes whose job is to read other formats (e.g. DLP scanning of CSV).
    """
    app.state.body_limits[prefix] = max_bytes
    if any_content_type:
        app.state.body_open_types.add(prefix)


class BodyGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        prefix: str = "/api/",
        limits: dict[str, int] | None = None,
        open_types: set[str] | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.prefix = prefix
        # Shared with app.state.body_limits, so limits registered later still apply.
        self.limits = limits if limits is not None else {}
        self.open_types = open_types if open_types is not None else set()

    def _cap(self, path: str) -> int:
        best, cap = "", self.max_body
        for prefix, limit in self.limits.items():
            if path.startswith(prefix) and len(prefix) > len(best):
                best, cap = prefix, limit
        return cap

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
        cap = self._cap(path)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            await self._too_large(scope, receive, send, path, cap)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await self._too_large(scope, receive, send, path, cap)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        open_type = any(path.startswith(p) for p in self.open_types)
        if body and not open_type and not _is_json(headers.get("content-type", "")):
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

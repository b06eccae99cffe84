"""Shared machinery of the vendor fakes: fault switches, request log, loopback server thread.

The fakes are loopback-only test doubles of SaaS APIs (paths, field names, pagination, rate
limit and error shapes as the vendors document them). They never listen on anything but
127.0.0.1 and never hold a real credential: the expected bearer token is a test string.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

FAULT_KINDS = ("rate_limit", "server_error", "malformed", "wrong_shape")


@dataclass
class Faults:
    """One-shot switches: make page N of a list route fail in a given way."""

    armed: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    retry_after: int = 2
    fired: list[tuple[str, str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, kind: str, route: str, page: int = 2, times: int = 1) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        with self._lock:
            self.armed.setdefault((route, page), []).extend([kind] * times)

    def take(self, route: str, page: int) -> str | None:
        with self._lock:
            queue = self.armed.get((route, page))
            if not queue:
                return None
            kind = queue.pop(0)
            self.fired.append((kind, route, page))
            return kind


class FakeVendor:
    """Base of one vendor fake: token check, request log, fault responses, Starlette app."""

    vendor = "fake"

    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.faults = Faults()
        self.requests: list[tuple[str, str]] = []
        self.actions: list[tuple[str, str]] = []
        self.app = Starlette(
            routes=self.routes(),
            middleware=[Middleware(BaseHTTPMiddleware, dispatch=self._middleware)],
        )

    def routes(self) -> list[Any]:
        raise NotImplementedError

    def init_kwargs(self) -> dict[str, Any]:
        return {"token": self.token}

    def reset(self) -> None:
        """Back to the seeded state (data, faults, logs) while a server keeps running it."""
        app = self.app
        type(self).__init__(self, **self.init_kwargs())
        self.app = app  # the running server holds this app; its routes read ``self``

    def auth_header(self) -> str:
        return f"Bearer {self.token}"

    async def _middleware(self, request: Request, call_next: Callable[[Request], Any]) -> Response:
        self.requests.append((request.method, request.url.path))
        if request.headers.get("authorization") != self.auth_header():
            return self.unauthorized()
        response: Response = await call_next(request)
        return response

    def unauthorized(self) -> Response:
        return JSONResponse({"message": "Bad credentials"}, status_code=401)

    # vendor-specific fault bodies -------------------------------------------------------
    def rate_limited(self) -> Response:
        return JSONResponse(
            {"error": "rate limited"},
            status_code=429,
            headers={"Retry-After": str(self.faults.retry_after)},
        )

    def server_error(self) -> Response:
        return JSONResponse({"error": "internal"}, status_code=503)

    def fault(self, route: str, page: int) -> Response | None:
        kind = self.faults.take(route, page)
        if kind is None:
            return None
        if kind == "rate_limit":
            return self.rate_limited()
        if kind == "server_error":
            return self.server_error()
        if kind == "malformed":
            return Response('{"truncated": [', media_type="application/json")
        return JSONResponse({"unexpected": "shape"} if kind == "wrong_shape" else {})


def page_slice(items: list[Any], offset: int, limit: int) -> tuple[list[Any], int | None, int]:
    """(items of this page, next offset or None, 1-based page number)."""
    limit = max(1, limit)
    chunk = items[offset : offset + limit]
    nxt = offset + limit if offset + limit < len(items) else None
    return chunk, nxt, offset // limit + 1


def int_param(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        return default


class RunningFake:
    """A fake served by uvicorn on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, fake: FakeVendor) -> None:
        self.fake = fake
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(fake.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            daemon=True,
            name=f"fake-{fake.vendor}",
        )

    def start(self) -> RunningFake:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"fake {self.fake.vendor} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> RunningFake:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(fake: FakeVendor) -> RunningFake:
    """Start ``fake`` on a free loopback port; use as a context manager or call ``stop()``."""
    return RunningFake(fake).start()

"""A stand-in SaaS API for the demo's gateway routes: answers any path with JSON on loopback.

The real vendors' hosts cannot be reached from a demo machine, so the demo points every route
at this server instead. It records what reached it, so the demo can show that the gateway
injected the upstream credential (it reports only *that* an Authorization header arrived,
never its value).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class DemoUpstream:
    def __init__(self) -> None:
        self.hits = 0

        async def any_path(request: Request) -> JSONResponse:
            self.hits += 1
            body = await request.body()
            return JSONResponse(
                {
                    "upstream": "demo-saas",
                    "method": request.method,
                    "path": request.url.path,
                    "received_bytes": len(body),
                    "credential_injected": "authorization" in request.headers
                    or any(h.startswith("x-api-key") for h in request.headers),
                    "records": [
                        {"id": "0035e000001", "name": "Acme Corp", "tier": "enterprise"},
                        {"id": "0035e000002", "name": "Globex", "tier": "mid-market"},
                    ],
                }
            )

        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self.app = Starlette(routes=[Route("/{path:path}", any_path, methods=methods)])


class ServerThread:
    """Run an ASGI app with uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: Any, port: int = 0, name: str = "server") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", proxy_headers=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True, name=name
        )

    def start(self, timeout: float = 15.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self._thread.name} did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

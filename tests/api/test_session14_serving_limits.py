"""Session 14: the API's protocol (api/serving.py) — connection cap, kept-alive connections.

The loopback test of ``ringfence serve`` itself is tests/cli/test_session14_serve_slow_senders.py;
these run the same ``api_server_config`` in-process with small limits: a request beyond
``max_connections`` is 503 problem+json with Retry-After; the head deadline also holds for a
later request on a kept-alive connection, and the body deadline for a body that keeps
dribbling after the route has already answered (a stranger's refused upload).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from ringfence.api import create_app
from ringfence.api.serving import ServingLimits, api_server_config
from tests.api.conftest import Api

LIMITS = ServingLimits(head_timeout=1.5, body_timeout=2.0, max_connections=3, max_uploads=4)
SLACK = 1.5


@contextmanager
def _served(api: Api) -> Iterator[int]:
    config = api_server_config(
        create_app(api.runtime),
        host="127.0.0.1",
        port=0,
        limits=LIMITS,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(20)


def _closed_within(
    sock: socket.socket, seconds: float, dribble: bytes = b""
) -> tuple[float, bytes]:
    """Send ``dribble`` a byte every 0.5 s until the server closes; (elapsed, what it said)."""
    start = time.monotonic()
    got = b""
    sock.settimeout(0.5)
    i = 0
    while time.monotonic() - start < seconds:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if i < len(dribble):
                try:
                    sock.sendall(dribble[i : i + 1])
                except OSError:
                    break
                i += 1
            continue
        except OSError:
            break
        if not chunk:
            return time.monotonic() - start, got
        got += chunk
    return float("inf"), got


def test_a_request_beyond_the_connection_cap_is_503_problem_json(api: Api) -> None:
    with _served(api) as port:
        idle = [
            socket.create_connection(("127.0.0.1", port)) for _ in range(LIMITS.max_connections)
        ]
        time.sleep(0.2)
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
            assert r.status_code == 503, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "unavailable" and r.headers["retry-after"] == "5"
        finally:
            for s in idle:
                s.close()
        time.sleep(0.3)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).status_code == 200


def test_a_kept_alive_connection_dribbling_its_next_request_is_cut_off(api: Api) -> None:
    with _served(api) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        took, said = _closed_within(sock, 10, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert took <= LIMITS.head_timeout + SLACK, took
        assert said.startswith(b"HTTP/1.1 408 ") and b"request_timeout" in said


def test_a_body_still_dribbling_after_the_answer_is_cut_off(api: Api) -> None:
    with _served(api) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        # A stranger announcing 1 MiB is refused at once (ee6889b); the body keeps coming.
        sock.sendall(
            b"POST /api/v1/vendor-risk/document-uploads/Acme HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/pdf\r\nContent-Length: 1048576\r\n\r\n%PDF"
        )
        took, said = _closed_within(sock, 10, b"x" * 100)
        assert said.startswith(b"HTTP/1.1 401 "), said[:100]
        assert took <= LIMITS.body_timeout + SLACK, took


def test_a_malformed_request_is_400_problem_json(api: Api) -> None:
    with _served(api) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost x\r\n\r\n")
        _took, said = _closed_within(sock, 5)
        assert said.startswith(b"HTTP/1.1 400 ") and b"application/problem+json" in said

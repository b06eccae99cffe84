"""Session 14: ``ringfence serve`` cuts off clients that send a request too slowly.

Stock uvicorn reads a request head or body for as long as the client takes: connections
dribbling a byte per second (slowloris) were held open for ever, each one a connection slot
and, mid-body, the memory the route reads into. Now a head must arrive within
RINGFENCE_API_HEAD_TIMEOUT_SECONDS and a body within RINGFENCE_API_BODY_TIMEOUT_SECONDS
(408 problem+json, connection closed), whatever the pace; normal requests are served
meanwhile. Against the real command on loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.test_serve import _free_port

HEAD_TIMEOUT = 2.0
BODY_TIMEOUT = 3.0
SLACK = 1.5  # the close may come up to one dribbled byte and the scheduler later
SLOW = 8  # dribbling connections at once


@pytest.fixture(scope="module")
def api_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    exe = str(Path(sys.executable).with_name("ringfence"))
    data = str(tmp_path_factory.mktemp("slow") / "rf")
    subprocess.run([exe, "init", "--data-dir", data], check=True, capture_output=True)
    port = _free_port()
    env = {
        **os.environ,
        "RINGFENCE_API_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
        "RINGFENCE_API_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "RINGFENCE_AUDIT_ANCHOR_SECONDS": "0",
        "RINGFENCE_RESPOND_WATCH_SECONDS": "0",
    }
    proc = subprocess.Popen(
        [exe, "serve", "--no-gateway", "--port", str(port), "--data-dir", data],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
    assert "Traceback" not in err


async def _dribble(port: int, first: bytes, rest: bytes, give_up: float) -> tuple[float, bytes]:
    """Send ``first`` at once, then ``rest`` a byte a second; return when the server closed
    the connection (seconds since the first byte of the dribble, what it answered)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.monotonic()
    writer.write(first)
    answer = bytearray()

    async def read() -> None:
        while chunk := await reader.read(4096):
            answer.extend(chunk)

    reading = asyncio.create_task(read())
    try:
        for byte in rest:
            if reading.done():
                break
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait([reading], timeout=1.0)
        await asyncio.wait_for(reading, timeout=max(0.1, give_up - (time.monotonic() - start)))
    except (TimeoutError, ConnectionError):
        pass
    finally:
        reading.cancel()
        writer.close()
    closed = reading.done() and not reading.cancelled()
    return (time.monotonic() - start) if closed else float("inf"), bytes(answer)


async def _normal_requests(port: int, seconds: float) -> list[int]:
    codes = []
    async with httpx.AsyncClient(timeout=5) as client:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            r = await client.get(f"http://127.0.0.1:{port}/api/v1/health")
            codes.append(r.status_code)
            await asyncio.sleep(0.3)
    return codes


def _run(port: int, first: bytes, rest: bytes, limit: float) -> list[tuple[float, bytes]]:
    async def main() -> list[tuple[float, bytes]]:
        slow = [_dribble(port, first, rest, limit + 10) for _ in range(SLOW)]
        *closed, codes = await asyncio.gather(*slow, _normal_requests(port, limit))
        # Served meanwhile, promptly.
        assert codes and set(codes) == {200}, codes  # type: ignore[arg-type]
        return closed  # type: ignore[return-value]

    return asyncio.run(main())


def _timeout_answer(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"content-type: application/problem+json" in head.lower()
    problem = json.loads(body)
    assert problem["code"] == "request_timeout"
    return problem  # type: ignore[no-any-return]


def test_a_head_sent_a_byte_a_second_is_cut_off_at_the_head_timeout(api_port: int) -> None:
    head = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 60 + b"\r\n\r\n"
    for took, answer in _run(api_port, b"G", head[1:], HEAD_TIMEOUT):
        assert took <= HEAD_TIMEOUT + SLACK, took
        assert "head" in str(_timeout_answer(answer)["detail"])


def test_a_silent_connection_is_closed_at_the_head_timeout(api_port: int) -> None:
    for took, answer in _run(api_port, b"", b"", HEAD_TIMEOUT):
        assert took <= HEAD_TIMEOUT + SLACK, took
        _timeout_answer(answer)


def test_a_body_sent_a_byte_a_second_is_cut_off_at_the_body_timeout(api_port: int) -> None:
    body = json.dumps({"username": "someone@example.com", "password": "x" * 40}).encode()
    head = (
        b"POST /api/v1/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    for took, answer in _run(api_port, head, body, BODY_TIMEOUT):
        assert took <= BODY_TIMEOUT + SLACK, took
        assert "body" in str(_timeout_answer(answer)["detail"])


def test_a_head_over_64_kib_is_431(api_port: int) -> None:
    headers = {f"X-Pad-{i}": "a" * 1000 for i in range(70)}
    r = httpx.get(f"http://127.0.0.1:{api_port}/api/v1/health", headers=headers, timeout=5)
    assert r.status_code == 431
    assert r.json()["code"] == "request_header_fields_too_large"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RINGFENCE_API_HEAD_TIMEOUT_SECONDS", "soon"),
        ("RINGFENCE_API_BODY_TIMEOUT_SECONDS", "0"),
        ("RINGFENCE_API_MAX_CONNECTIONS", "-1"),
        ("RINGFENCE_API_MAX_CONCURRENT_UPLOADS", "0"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    exe = str(Path(sys.executable).with_name("ringfence"))
    r = subprocess.run(
        [exe, "serve", "--no-gateway", "--port", str(_free_port()), "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, variable: value},
        timeout=60,
    )
    assert r.returncode != 0
    assert variable in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr

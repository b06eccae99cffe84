"""Sinks against real local listeners: UDP and TCP syslog, an HTTP receiver (webhook, HEC)."""

from __future__ import annotations

import hashlib
import hmac
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConfigError
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.sinks import (
    SplunkHecSink,
    SyslogSink,
    WebhookSink,
    build_sinks,
    cef_payload,
    deliver_due,
    rfc5424,
)
from ringfence.runtime import Runtime


def finding(clock: FixedClock, entity: str = "bob|evil=1") -> Finding:
    return Finding(
        "rf_rule",
        "Title | with pipe",
        "high",
        "rule",
        entity,
        "bob did = a thing\nnext",
        clock.now(),
    )


@pytest.fixture
def udp() -> Iterator[tuple[socket.socket, int]]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    yield s, s.getsockname()[1]
    s.close()


class _Tcp(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    received: list[bytes]


class _TcpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        data = self.rfile.read()
        self.server.received.append(data)  # type: ignore[attr-defined]


@pytest.fixture
def tcp() -> Iterator[_Tcp]:
    server = _Tcp(("127.0.0.1", 0), _TcpHandler)
    server.received = []
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()


class _Http(ThreadingHTTPServer):
    requests: list[tuple[str, dict[str, str], bytes]]
    status: int


class _HttpHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        srv: Any = self.server
        srv.requests.append((self.path, dict(self.headers), body))
        self.send_response(srv.status)
        self.end_headers()
        self.wfile.write(b'{"text":"Success","code":0}')

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def http() -> Iterator[_Http]:
    server = _Http(("127.0.0.1", 0), _HttpHandler)
    server.requests, server.status = [], 200
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()


def alert_payload(runtime: Runtime, clock: FixedClock) -> dict[str, Any]:
    (a,) = AlertStore(runtime.store, clock).raise_findings([finding(clock)])
    return a.finding


def test_cef_and_rfc5424_escaping(runtime: Runtime, clock: FixedClock) -> None:
    f = alert_payload(runtime, clock)
    cef = cef_payload(f)
    assert cef.startswith("CEF:0|Ringfence|Ringfence|1|rf_rule|Title \\| with pipe|8|")
    assert "msg=bob did \\= a thing\\nnext" in cef and "suser=bob|evil\\=1" in cef
    line = rfc5424(f, fmt="cef", hostname="rf1")
    assert line.startswith("<83>1 2026-01-01T00:00:00.000Z rf1 ringfence - alert [ringfence@32473 ")


def test_syslog_udp_delivery(runtime: Runtime, clock: FixedClock, udp: Any) -> None:
    sock, port = udp
    SyslogSink("siem", "127.0.0.1", port, "udp", "cef").send(alert_payload(runtime, clock))
    data, _ = sock.recvfrom(65535)
    assert data.startswith(b"<83>1 ") and b"CEF:0|Ringfence" in data


def test_syslog_tcp_octet_counted_json(runtime: Runtime, clock: FixedClock, tcp: _Tcp) -> None:
    SyslogSink("siem", "127.0.0.1", tcp.server_address[1], "tcp", "json").send(
        alert_payload(runtime, clock)
    )
    for _ in range(50):
        if tcp.received:
            break
        threading.Event().wait(0.05)
    (raw,) = tcp.received
    length, _, msg = raw.partition(b" ")
    assert int(length) == len(msg)
    ocsf = orjson.loads(msg.split(b"] ", 1)[1])
    assert ocsf["class_uid"] == 2004


def test_webhook_is_signed(runtime: Runtime, clock: FixedClock, http: _Http) -> None:
    url = f"http://127.0.0.1:{http.server_address[1]}/hook"
    WebhookSink("soar", url, SecretStr("k3y")).send(alert_payload(runtime, clock))
    (_path, headers, body) = http.requests[0]
    ts = headers["X-Ringfence-Timestamp"]
    want = hmac.new(b"k3y", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Ringfence-Signature"] == f"sha256={want}"
    assert orjson.loads(body)["finding_info"]["analytic"]["uid"] == "rf_rule"


def test_splunk_hec(runtime: Runtime, clock: FixedClock, http: _Http) -> None:
    url = f"http://127.0.0.1:{http.server_address[1]}"
    SplunkHecSink("splunk", url, SecretStr("hec-token")).send(alert_payload(runtime, clock))
    (path, headers, body) = http.requests[0]
    assert path == "/services/collector/event"
    assert headers["Authorization"] == "Splunk hec-token"
    evt = orjson.loads(body)
    assert evt["sourcetype"] == "ocsf:detection_finding" and evt["event"]["class_uid"] == 2004


def test_outbox_retries_a_sink_that_is_down_and_loses_nothing(
    runtime: Runtime, clock: FixedClock, http: _Http
) -> None:
    alerts = AlertStore(runtime.store, clock, sinks=["soar", "ghost"])
    alerts.raise_findings([finding(clock, "a"), finding(clock, "b")])
    url = f"http://127.0.0.1:{http.server_address[1]}/hook"
    sinks = {"soar": WebhookSink("soar", url)}
    http.status = 503
    r = deliver_due(runtime.store, sinks, clock)
    assert (r.delivered, r.failed, r.unknown_sink) == (0, 2, 2)
    r = deliver_due(runtime.store, sinks, clock)  # not due yet: backoff
    assert (r.delivered, r.failed) == (0, 0)
    http.status = 200
    clock.advance(seconds=6)
    r = deliver_due(runtime.store, sinks, clock)
    assert r.delivered == 2
    assert len(http.requests) == 4
    clock.advance(timedelta(hours=2).total_seconds())
    assert deliver_due(runtime.store, sinks, clock).delivered == 0  # never twice


def test_sink_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"never in monitor\.yaml"):
        build_sinks([{"name": "x", "type": "webhook", "url": "http://h", "secret": "plain"}])
    with pytest.raises(ConfigError, match="not set"):
        build_sinks([{"name": "x", "type": "splunk_hec", "url": "http://h", "token_env": "NOPE_X"}])
    with pytest.raises(ConfigError, match="unknown type"):
        build_sinks([{"name": "x", "type": "pager"}])
    with pytest.raises(ConfigError, match="missing 'host'"):
        build_sinks([{"name": "x", "type": "syslog"}])
    built = build_sinks([{"name": "s", "type": "syslog", "host": "127.0.0.1", "protocol": "tcp"}])
    assert isinstance(built["s"], SyslogSink)

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


def _self_signed(tmp: Any) -> tuple[str, str]:
    from datetime import UTC, datetime
    from datetime import timedelta as td
    from ipaddress import ip_address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - td(minutes=5))
        .not_valid_after(now + td(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def test_syslog_over_tls_verifies_the_receiver(
    runtime: Runtime, clock: FixedClock, tmp_path: Any
) -> None:
    import ssl

    from ringfence.monitor.sinks import SinkError

    cert, key = _self_signed(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    chunks = []
                    while data := tls.recv(65536):
                        chunks.append(data)
                    received.append(b"".join(chunks))
            except (ssl.SSLError, OSError):
                received.append(b"")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    payload = alert_payload(runtime, clock)
    # Configured as monitor.yaml documents it (the configuration path once refused `tls`).
    spec = {"name": "siem", "type": "syslog", "host": "127.0.0.1", "port": port}
    configured = build_sinks([{**spec, "protocol": "tls", "ca_file": cert}])["siem"]
    assert isinstance(configured, SyslogSink) and configured.ca_file == cert
    configured.send(payload)
    with pytest.raises(ConfigError, match="ca_file goes with protocol tls"):
        build_sinks([{**spec, "protocol": "udp", "ca_file": cert}])
    defaulted = build_sinks([{"name": "s", "type": "syslog", "host": "h", "protocol": "tls"}])
    assert isinstance(defaulted["s"], SyslogSink) and defaulted["s"].port == 6514  # RFC 5425
    with pytest.raises(SinkError, match="CERTIFICATE_VERIFY_FAILED"):
        SyslogSink("siem", "127.0.0.1", port, "tls", "cef").send(payload)  # system CAs only
    t.join(10)
    listener.close()
    length, _, msg = received[0].partition(b" ")
    assert int(length) == len(msg) and b"CEF:0|Ringfence" in msg


class _SmtpHandler(socketserver.StreamRequestHandler):
    """A minimal real SMTP receiver (RFC 5321 happy path) for the e-mail sink."""

    def handle(self) -> None:
        srv: Any = self.server
        self.wfile.write(b"220 test ESMTP\r\n")
        while line := self.rfile.readline():
            cmd = line.strip().upper()
            if cmd.startswith((b"EHLO", b"HELO")):
                self.wfile.write(b"250 test\r\n")
            elif cmd.startswith((b"MAIL", b"RCPT", b"RSET", b"NOOP")):
                srv.envelope.append(line.strip().decode())
                self.wfile.write(b"250 ok\r\n")
            elif cmd == b"DATA":
                self.wfile.write(b"354 go\r\n")
                body = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(data)
                srv.messages.append(b"".join(body))
                self.wfile.write(b"250 queued\r\n")
            elif cmd == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 no\r\n")


def test_email_sink_over_smtp(runtime: Runtime, clock: FixedClock) -> None:
    from ringfence.monitor.sinks import EmailSink, SinkError

    server = _Tcp(("127.0.0.1", 0), _SmtpHandler)
    server.envelope, server.messages = [], []  # type: ignore[attr-defined]
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        sink = EmailSink(
            "mail",
            "127.0.0.1",
            server.server_address[1],
            "rf@example.com",
            ["soc@example.com"],
            starttls=False,
        )
        payload = alert_payload(runtime, clock)
        sink.send(payload)
        msg = server.messages[0].decode()  # type: ignore[attr-defined]
        assert "Subject: [Ringfence HIGH] Title | with pipe" in msg
        assert "rcpt TO:<soc@example.com>" in server.envelope  # type: ignore[attr-defined]
        with pytest.raises(SinkError, match="SMTP"):
            EmailSink(
                "mail",
                "127.0.0.1",
                server.server_address[1],
                "rf@example.com",
                ["soc@example.com"],
                starttls=True,
            ).send(payload)
    finally:
        server.shutdown()
        server.server_close()

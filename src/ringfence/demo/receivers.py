"""Loopback stand-ins for the organisation's SIEM and mail server, for the demo only.

Playbooks notify the security team through a monitor sink and vendors by e-mail; in the demo
those go to two real servers on 127.0.0.1: an HTTP receiver of the webhook sink (it checks
the HMAC signature the sink sends) and an SMTP server (aiosmtpd). What they received is listed
at ``GET /received`` on the receiver, so the tour can show a drill's notification arriving.
They keep at most the last 200 messages in memory and never listen beyond loopback; the
receiver takes only signed notices of at most 1 MiB, stamped within five minutes (what a real
SIEM endpoint checking the sink's signature would do). ``/received`` is open on loopback: it
is the demo's window into what arrived.
"""

from __future__ import annotations

import hmac
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from typing import Any

import orjson
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ringfence.demo.upstream import ServerThread
from ringfence.monitor.sinks import sign

KEEP = 200
MAX_BODY = 1 << 20
MAX_SKEW_SECONDS = 300


@dataclass
class Inbox:
    """What the stand-ins received, newest last; safe to read from any thread."""

    webhooks: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEEP))
    mails: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEEP))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        with self.lock:
            return {"webhooks": list(self.webhooks), "mails": list(self.mails)}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def webhook_app(inbox: Inbox, secret: SecretStr) -> Starlette:
    async def hook(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) > MAX_BODY:
            return JSONResponse({"error": f"body must declare ≤ {MAX_BODY} bytes"}, status_code=413)
        body = await request.body()
        ts = request.headers.get("x-ringfence-timestamp", "")
        given = request.headers.get("x-ringfence-signature", "").encode("utf-8", "replace")
        expected = sign(secret, ts, body).encode()
        if not ts.isdigit() or not hmac.compare_digest(given, expected):
            return JSONResponse({"error": "bad or missing signature"}, status_code=401)
        if abs(time.time() - int(ts)) > MAX_SKEW_SECONDS:  # a replayed old notice
            return JSONResponse({"error": "timestamp outside 5 minutes"}, status_code=401)
        try:
            finding = orjson.loads(body)
        except orjson.JSONDecodeError:
            finding = None
        if not isinstance(finding, dict):
            return JSONResponse({"error": "body is not a JSON object"}, status_code=400)
        info = finding.get("finding_info")
        with inbox.lock:
            inbox.webhooks.append(
                {
                    "received_at": _now(),
                    "signature": "verified",
                    "severity": finding.get("severity"),
                    "title": info.get("title") if isinstance(info, dict) else None,
                    "message": finding.get("message"),
                }
            )
        return Response(status_code=204)

    async def received(request: Request) -> Response:
        return JSONResponse(inbox.snapshot())

    return Starlette(
        routes=[
            Route("/hook", hook, methods=["POST"]),
            Route("/received", received, methods=["GET"]),
        ]
    )


class _MailHandler:
    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content or b"")
        with self._inbox.lock:
            self._inbox.mails.append(
                {
                    "received_at": _now(),
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "subject": str(msg.get("Subject", "")),
                }
            )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receivers:
    """The webhook receiver (``url``) and the SMTP server (``smtp_port``), started together."""

    def __init__(self, secret: SecretStr) -> None:
        self.inbox = Inbox()
        self._http = ServerThread(webhook_app(self.inbox, secret), name="demo-siem")
        self._smtp = Controller(_MailHandler(self.inbox), hostname="127.0.0.1", port=_free_port())
        self.url = self._http.url
        self.smtp_port = int(self._smtp.port)

    def start(self) -> Receivers:
        self._http.start()
        self._smtp.start()
        return self

    def stop(self) -> None:
        self._smtp.stop()
        self._http.stop()

    def monitor_yaml(self, secret_ref: str, sender: str) -> str:
        """The demo's ``monitor.yaml``: the playbooks' ``secops`` and ``vendor-mail`` sinks."""
        return (
            "# Written by `make demo` on each start: sinks pointing at its loopback stand-ins.\n"
            "sinks:\n"
            f"  - {{name: secops, type: webhook, url: '{self.url}/hook', "
            f"secret_vault: '{secret_ref}'}}\n"
            f"  - {{name: vendor-mail, type: email, host: 127.0.0.1, port: {self.smtp_port}, "
            f"from: '{sender}', to: ['{sender}'], starttls: false}}\n"
        )

"""Review 9: a line break in an alert title (sender-controlled route name) neither forges a
CEF / syslog line, nor breaks the e-mail Subject, nor blocks the other outbox items."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.models import OutboxItem
from ringfence.monitor.sinks import EmailSink, cef_payload, deliver_due, rfc5424
from ringfence.runtime import Runtime
from tests.monitor.test_sinks import _SmtpHandler, _Tcp

EVIL = "API monitoring: auth burst on r\r\nCEF:0|Evil|Forged|1|x|y|10|\x00\u2028"


def _finding(clock: FixedClock, title: str, entity: str) -> Finding:
    return Finding("apimon:auth_burst", title, "high", "apimon", entity, "x\ny", clock.now())


def _payload(runtime: Runtime, clock: FixedClock, title: str = EVIL) -> dict[str, Any]:
    (a,) = AlertStore(runtime.store, clock).raise_findings([_finding(clock, title, "route:r")])
    return a.finding


@pytest.mark.parametrize("fmt", ["cef", "json"])
def test_a_title_with_line_breaks_stays_on_one_syslog_line(
    runtime: Runtime, clock: FixedClock, fmt: str
) -> None:
    f = _payload(runtime, clock)
    f["finding_info"]["analytic"]["uid"] = "rule\nwith|break"
    line = rfc5424(f, fmt=fmt, hostname="rf1")
    for ch in ("\r", "\n", "\x00"):
        assert ch not in line
    if fmt == "cef":
        assert "\u2028" not in line
        cef = cef_payload(f)
        assert cef.count("|") - cef.count("\\|") == 7  # the 7 header separators, no more
        assert "r  CEF:0\\|Evil\\|Forged" in cef
        assert "msg=x\\ny" in cef  # extension keeps the newline, escaped


def test_email_subject_of_a_title_with_line_breaks(runtime: Runtime, clock: FixedClock) -> None:
    server = _Tcp(("127.0.0.1", 0), _SmtpHandler)
    server.envelope, server.messages = [], []  # type: ignore[attr-defined]
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        sink = EmailSink(
            "mail", "127.0.0.1", server.server_address[1], "rf@example.com", ["soc@x"], False
        )
        sink.send(_payload(runtime, clock))
        msg = server.messages[0].decode()  # type: ignore[attr-defined]
        subject = next(ln for ln in msg.split("\r\n") if ln.startswith("Subject:"))
        assert subject.startswith("Subject: [Ringfence HIGH] API monitoring: auth burst on r")
        assert "\nCEF:0|Evil" not in msg.split("\r\n\r\n", 1)[0]  # no forged header line
    finally:
        server.shutdown()
        server.server_close()


class _Picky:
    """A sink that fails with an unexpected exception on one payload and records the rest."""

    name = "picky"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, finding: dict[str, Any]) -> None:
        title = finding["finding_info"]["title"]
        if "bad" in title:
            raise ValueError("Header values may not contain linefeed or carriage return")
        self.sent.append(title)


def test_one_item_that_raises_does_not_block_or_repeat_the_others(
    runtime: Runtime, clock: FixedClock
) -> None:
    alerts = AlertStore(runtime.store, clock, sinks=["picky"])
    for i, title in enumerate(["good 1", "bad\r\none", "good 2"]):
        alerts.raise_findings([_finding(clock, title, f"e{i}")])
        clock.advance(seconds=1)
    sink = _Picky()
    r = deliver_due(runtime.store, {"picky": sink}, clock)
    assert (r.delivered, r.failed) == (2, 1)
    assert sorted(sink.sent) == ["good 1", "good 2"]
    clock.advance(seconds=3600 * 2)
    r = deliver_due(runtime.store, {"picky": sink}, clock)
    assert (r.delivered, r.failed) == (0, 1)
    assert sorted(sink.sent) == ["good 1", "good 2"]  # never sent twice
    with runtime.store.session() as s:
        (bad,) = s.scalars(select(OutboxItem).where(OutboxItem.delivered_at.is_(None)))
        assert bad.last_error is not None and bad.last_error.startswith("picky: ValueError")
        assert bad.attempts == 2

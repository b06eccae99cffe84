"""Alert sinks (syslog RFC 5424 over UDP/TCP/TLS with an optional CEF payload, OCSF JSON webhook
signed with HMAC-SHA256, Splunk HEC, Slack-compatible webhook, e-mail over SMTP) and the
outbox deliverer.

Delivery reads due outbox rows, sends each through its sink, and marks it delivered only after
the sink accepted it; a failure records the error and schedules a retry with exponential
backoff (5 s doubling, capped at 1 h), so a sink that is down loses nothing. Sink secrets
(HMAC key, HEC token) come from an environment variable or the vault and are never logged,
stored in the outbox, or put in an error message.

Alert titles and messages carry sender-controlled text (a route name, a user name): every
field that lands in a header or a one-line format (e-mail Subject, CEF header, syslog
structured data) has its control characters (CR, LF, NUL, ...) replaced, CEF's own escaping
is applied, and a sink that raises anything on one item fails that item only — the others
are still delivered and nothing is sent twice because of it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson
from pydantic import SecretStr
from sqlalchemy import select

from ringfence.core.clock import Clock
from ringfence.core.errors import ConfigError
from ringfence.monitor.models import OutboxItem
from ringfence.store.db import Store

_SYSLOG_SEV = {"critical": 2, "high": 3, "medium": 4, "low": 5, "informational": 6}
_CEF_SEV = {"critical": 10, "high": 8, "medium": 5, "low": 3, "informational": 1}
FACILITY_AUTHPRIV = 10
MAX_BACKOFF = timedelta(hours=1)


class SinkError(Exception):
    """A delivery failed; the message names the sink and the cause, never a secret."""


class Sink(Protocol):
    name: str

    def send(self, finding: dict[str, Any]) -> None: ...


def _sev(finding: dict[str, Any]) -> str:
    return str(finding.get("severity", "medium")).lower()


# C0 and C1 controls, DEL, and the Unicode line / paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(v: str) -> str:
    """``v`` with every control character (CR, LF, TAB, NUL ...) replaced by a space."""
    return _CONTROL.sub(" ", v)


def _sd_escape(v: str) -> str:
    return one_line(v).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _cef_header(v: str) -> str:
    # CEF: newlines are allowed only in extension values; | and \ are escaped in the header.
    return one_line(v).replace("\\", "\\\\").replace("|", "\\|")


def _cef_ext(v: str) -> str:
    v = v.replace("\\", "\\\\").replace("=", "\\=").replace("\r", "\\r").replace("\n", "\\n")
    return one_line(v)


def cef_payload(finding: dict[str, Any]) -> str:
    info = finding.get("finding_info") or {}
    analytic = info.get("analytic") or {}
    ext = {
        "rt": str(finding.get("time", "")),
        "msg": str(finding.get("message", "")),
        "cnt": str(finding.get("count", 1)),
        "suser": str(((finding.get("resources") or [{}])[0]).get("name", "")),
        "cs1Label": "alertId",
        "cs1": str(info.get("uid", "")),
        "cs2Label": "ocsfClass",
        "cs2": str(finding.get("class_uid", 2004)),
    }
    head = "|".join(
        _cef_header(x)
        for x in (
            "CEF:0",
            "Ringfence",
            "Ringfence",
            "1",
            str(analytic.get("uid", "ringfence")),
            str(info.get("title", "alert")),
        )
    )
    sev = _CEF_SEV.get(_sev(finding), 5)
    return f"{head}|{sev}|" + " ".join(f"{k}={_cef_ext(v)}" for k, v in ext.items())


def rfc5424(finding: dict[str, Any], *, fmt: str, hostname: str, app: str = "ringfence") -> str:
    pri = FACILITY_AUTHPRIV * 8 + _SYSLOG_SEV.get(_sev(finding), 4)
    ms = finding.get("time")
    stamp = (
        (
            datetime.fromtimestamp(ms / 1000, UTC)
            if isinstance(ms, int | float)
            else datetime.now(UTC)
        )
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
    info = finding.get("finding_info") or {}
    sd = (
        f'[ringfence@32473 alertId="{_sd_escape(str(info.get("uid", "")))}" '
        f'rule="{_sd_escape(str((info.get("analytic") or {}).get("uid", "")))}" '
        f'severity="{_sd_escape(_sev(finding))}"]'
    )
    msg = cef_payload(finding) if fmt == "cef" else orjson.dumps(finding).decode()
    return f"<{pri}>1 {stamp} {hostname} {app} - alert {sd} {msg}"


@dataclass
class SyslogSink:
    name: str
    host: str
    port: int
    protocol: str = "udp"  # udp | tcp | tls
    fmt: str = "cef"  # cef | json
    hostname: str = "ringfence"
    timeout: float = 5.0
    ca_file: str | None = None  # tls: CA bundle to verify the receiver (default: system)

    def send(self, finding: dict[str, Any]) -> None:
        line = rfc5424(finding, fmt=self.fmt, hostname=self.hostname).encode()
        framed = f"{len(line)} ".encode() + line  # RFC 6587 / 5425 octet counting
        try:
            if self.protocol == "udp":
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(line[:65000], (self.host, self.port))
            elif self.protocol == "tls":
                # RFC 5425: certificate and host name always verified
                ctx = ssl.create_default_context(cafile=self.ca_file)
                with (
                    socket.create_connection((self.host, self.port), timeout=self.timeout) as raw,
                    ctx.wrap_socket(raw, server_hostname=self.host) as s,
                ):
                    s.sendall(framed)
            else:
                with socket.create_connection((self.host, self.port), timeout=self.timeout) as s:
                    s.sendall(framed)
        except (OSError, ssl.SSLError) as exc:
            raise SinkError(f"syslog {self.host}:{self.port}/{self.protocol}: {exc}") from None


def slack_escape(v: str) -> str:
    """Slack's own escaping for message text: ``&``, ``<`` and ``>`` as entities, so text from
    an event (a User-Agent, a route name) cannot become ``<!channel>``, ``<@U123>`` or a
    ``<https://…|disguised link>``."""
    return v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sign(secret: SecretStr, timestamp: str, body: bytes) -> str:
    mac = hmac.new(
        secret.get_secret_value().encode(), timestamp.encode() + b"." + body, hashlib.sha256
    )
    return "sha256=" + mac.hexdigest()


@dataclass
class WebhookSink:
    """POSTs the OCSF finding; ``X-Ringfence-Signature`` = HMAC-SHA256 over "<ts>.<body>"."""

    name: str
    url: str
    secret: SecretStr | None = None
    timeout: float = 10.0
    slack: bool = False

    def send(self, finding: dict[str, Any]) -> None:
        if self.slack:
            sev = _sev(finding).upper()
            text = slack_escape(str(finding.get("message", "")))
            # no previews: a link in sender-controlled text must not unfurl into the channel
            body = orjson.dumps(
                {"text": f"[{sev}] {text}", "unfurl_links": False, "unfurl_media": False}
            )
        else:
            body = orjson.dumps(finding)
        ts = str(int(datetime.now(UTC).timestamp()))
        headers = {"Content-Type": "application/json", "X-Ringfence-Timestamp": ts}
        if self.secret is not None:
            headers["X-Ringfence-Signature"] = sign(self.secret, ts, body)
        _post(self.name, self.url, body, headers, self.timeout)


@dataclass
class SplunkHecSink:
    name: str
    url: str  # base URL, e.g. https://splunk:8088
    token: SecretStr
    sourcetype: str = "ocsf:detection_finding"
    index: str | None = None
    timeout: float = 10.0

    def send(self, finding: dict[str, Any]) -> None:
        event: dict[str, Any] = {
            "time": (finding.get("time") or 0) / 1000,
            "sourcetype": self.sourcetype,
            "source": "ringfence",
            "event": finding,
        }
        if self.index:
            event["index"] = self.index
        headers = {
            "Authorization": f"Splunk {self.token.get_secret_value()}",
            "Content-Type": "application/json",
        }
        url = self.url.rstrip("/") + "/services/collector/event"
        _post(self.name, url, orjson.dumps(event), headers, self.timeout)


def _post(name: str, url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    try:
        r = httpx.post(url, content=body, headers=headers, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        # the URL may be the credential (Slack): never in an error message
        detail = str(exc).replace(url, "<url>")
        raise SinkError(f"{name}: {type(exc).__name__}: {detail}") from None
    if r.status_code >= 300:
        raise SinkError(f"{name}: HTTP {r.status_code}")


@dataclass
class EmailSink:
    """Plain-text e-mail over SMTP (STARTTLS when ``starttls``; login when a password is set)."""

    name: str
    host: str
    port: int
    sender: str
    recipients: list[str]
    starttls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = 10.0

    def send(self, finding: dict[str, Any]) -> None:
        import smtplib
        from email.message import EmailMessage

        info = finding.get("finding_info") or {}
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        title = one_line(str(info.get("title", "alert")))
        msg["Subject"] = f"[Ringfence {_sev(finding).upper()}] {title}"[:200]
        msg.set_content(
            f"{finding.get('message', '')}\n\nalert: {info.get('uid', '')}\n"
            f"rule: {(info.get('analytic') or {}).get('uid', '')}\n"
            f"count: {finding.get('count', 1)}\n\n"
            + orjson.dumps(finding, option=orjson.OPT_INDENT_2).decode()
        )
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username and self.password is not None:
                    smtp.login(self.username, self.password.get_secret_value())
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise SinkError(
                f"{self.name}: SMTP {self.host}:{self.port}: {type(exc).__name__}"
            ) from None


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    unknown_sink: int = 0


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=5 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def deliver_due(
    store: Store, sinks: Mapping[str, Sink], clock: Clock, limit: int = 500
) -> DeliveryReport:
    """Send due outbox items; mark delivered or reschedule. An item is only marked delivered
    after its sink accepted it (at-least-once: a crash between the two sends it again).

    Concurrent runs (two overlapping ``ringfence monitor deliver`` from cron while a sink is
    slow) do not send the same item twice on PostgreSQL: the items a run took are row-locked
    until it commits and other runs skip them (``FOR UPDATE SKIP LOCKED``); before, both runs
    read the same due items and each sent them."""
    report = DeliveryReport()
    now = clock.now()
    with store.session() as s:
        items = list(
            s.scalars(
                select(OutboxItem)
                .where(OutboxItem.delivered_at.is_(None), OutboxItem.next_attempt_at <= now)
                .order_by(OutboxItem.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for item in items:
            sink = sinks.get(item.sink)
            if sink is None:
                report.unknown_sink += 1
                item.last_error = f"no sink named {item.sink!r} is configured"
                item.next_attempt_at = now + MAX_BACKOFF
                continue
            try:
                sink.send(item.payload)
            except Exception as exc:  # any failure is this item's; the others still go
                item.attempts += 1
                item.last_error = (
                    str(exc) if isinstance(exc, SinkError) else _unexpected(item.sink, exc)
                )[:1000]
                item.next_attempt_at = now + backoff(item.attempts)
                report.failed += 1
            else:
                item.attempts += 1
                item.delivered_at = now
                item.last_error = None
                report.delivered += 1
    return report


def _unexpected(sink: str, exc: Exception) -> str:
    return one_line(f"{sink}: {type(exc).__name__}: {str(exc)[:200]}")


def _secret(spec: Mapping[str, Any], key: str, vault: Any = None) -> SecretStr | None:
    env = spec.get(f"{key}_env")
    ref = spec.get(f"{key}_vault")
    if env:
        value = os.environ.get(str(env))
        if value is None:
            raise ConfigError(f"sink {spec.get('name')!r}: environment variable {env} is not set")
        return SecretStr(value)
    if ref:
        if vault is None:
            raise ConfigError(f"sink {spec.get('name')!r}: vault reference needs a vault")
        got = vault.get(str(ref))
        return got if isinstance(got, SecretStr) else SecretStr(str(got))
    if key in spec:
        raise ConfigError(
            f"sink {spec.get('name')!r}: put {key} in an env variable ({key}_env) or the "
            f"vault ({key}_vault), never in monitor.yaml"
        )
    return None


# Hosts whose incoming-webhook URLs carry the credential in their path.
_SLACK_HOOK_HOSTS = ("slack.com", "slack-gov.com")


def _webhook_url(spec: Mapping[str, Any], kind: str, vault: Any) -> str:
    """``url``, or the URL named by ``url_env`` / ``url_vault`` (exactly one of the three).
    A Slack webhook URL is the credential itself, so a literal one is refused."""
    name = spec.get("name")
    given = [k for k in ("url", "url_env", "url_vault") if spec.get(k)]
    if len(given) != 1:
        raise ConfigError(f"sink {name!r}: give exactly one of url, url_env, url_vault")
    if given[0] == "url":
        url = str(spec["url"])
        host = (urlsplit(url).hostname or "").lower()
        if kind == "slack" and any(host == h or host.endswith("." + h) for h in _SLACK_HOOK_HOSTS):
            raise ConfigError(
                f"sink {name!r}: a Slack webhook URL is a credential: put it in an environment "
                "variable (url_env) or the vault (url_vault), never in monitor.yaml"
            )
        return url
    secret = _secret(spec, "url", vault)
    assert secret is not None  # url_env / url_vault is set
    return secret.get_secret_value()


def build_sinks(specs: list[Any], vault: Any = None) -> dict[str, Sink]:
    out: dict[str, Sink] = {}
    for spec in specs:
        if not isinstance(spec, dict) or not spec.get("name") or not spec.get("type"):
            raise ConfigError("monitor.yaml: every sink needs a name and a type")
        name, kind = str(spec["name"]), str(spec["type"])
        try:
            if kind == "syslog":
                proto = str(spec.get("protocol", "udp"))
                fmt = str(spec.get("format", "cef"))
                if proto not in ("udp", "tcp", "tls") or fmt not in ("cef", "json"):
                    raise ConfigError(f"sink {name!r}: protocol udp|tcp|tls, format cef|json")
                ca_file = spec.get("ca_file")
                if ca_file is not None and proto != "tls":
                    raise ConfigError(f"sink {name!r}: ca_file goes with protocol tls")
                out[name] = SyslogSink(
                    name,
                    str(spec["host"]),
                    int(spec.get("port", 6514 if proto == "tls" else 514)),  # RFC 5425 / 5426
                    proto,
                    fmt,
                    ca_file=str(ca_file) if ca_file is not None else None,
                )
            elif kind in ("webhook", "slack"):
                out[name] = WebhookSink(
                    name,
                    _webhook_url(spec, kind, vault),
                    _secret(spec, "secret", vault),
                    slack=kind == "slack",
                )
            elif kind == "splunk_hec":
                token = _secret(spec, "token", vault)
                if token is None:
                    raise ConfigError(f"sink {name!r}: splunk_hec needs token_env or token_vault")
                out[name] = SplunkHecSink(name, str(spec["url"]), token, index=spec.get("index"))
            elif kind == "email":
                rcpt = spec["to"]
                out[name] = EmailSink(
                    name,
                    str(spec["host"]),
                    int(spec.get("port", 587)),
                    str(spec["from"]),
                    [str(r) for r in (rcpt if isinstance(rcpt, list) else [rcpt])],
                    starttls=bool(spec.get("starttls", True)),
                    username=spec.get("username"),
                    password=_secret(spec, "password", vault),
                )
            else:
                raise ConfigError(
                    f"sink {name!r}: unknown type {kind!r} "
                    "(syslog, webhook, slack, splunk_hec, email)"
                )
        except KeyError as exc:
            raise ConfigError(f"sink {name!r}: missing {exc.args[0]!r}") from None
    return out

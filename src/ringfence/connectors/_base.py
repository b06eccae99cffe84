"""The shared SaaS connector base: authenticated httpx client, retries, pagination, parsing.

Every vendor connector is configured by a base URL and a credential *reference*
(``vault:NAME`` or ``env:NAME``); the secret is resolved once, kept in the client's headers and
never logged, printed or put into an error message. Transport is an ``httpx.BaseTransport`` so
tests use loopback fakes or ``httpx.MockTransport`` — never monkeypatching. Retries honour each
vendor's rate-limit signals through one small hook per vendor. Every URL a request goes to
(a path, or a next-page link a vendor sent) is resolved against its client's base URL and must
have the same scheme, host and port: a vendor response must never steer the connector, and its
credential, to another host or down to plaintext http.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr

from ringfence.connectors._model import (
    ActionResult,
    AuditCheckpoint,
    AuditPullReport,
    ConnectorError,
    DiscoveredApp,
    DiscoveredGrant,
    DiscoveredPerson,
    NewClientSecret,
    PullResult,
    Snapshot,
)
from ringfence.core.clock import Clock, SystemClock
from ringfence.core.errors import ValidationError
from ringfence.core.logging import get_logger
from ringfence.core.secretrefs import OWN_ENV_PROBLEM, names_own_env
from ringfence.store.vault import RESERVED_PREFIXES, is_reserved

log = get_logger(__name__)

T = TypeVar("T")
Page = list[dict[str, Any]]
AuditCallback = Callable[[Page], None]
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Deepest JSON nesting accepted from a vendor (their records nest a handful of levels). A
# deeper body is a malformed response: parsing it could raise RecursionError, and what reads
# the records afterwards (repr, the audit hand-over's orjson) has limits of its own.
MAX_JSON_DEPTH = 128


class SecretSource(Protocol):
    """What the connector needs from the vault (``ringfence.store.vault.Vault`` fits)."""

    def get(self, name: str) -> SecretStr: ...


def check_credential_ref(ref: str, setting: str = "credential reference") -> tuple[str, str]:
    """``(kind, name)`` of a ``vault:NAME`` / ``env:NAME`` reference; ValidationError otherwise.

    A reference naming Ringfence's own configuration is refused like everywhere else a
    reference is accepted: a ``RINGFENCE_*`` environment variable (the master key, the store's
    URL) or a reserved vault name (TOTP seeds, signing keys) would be sent to ``base_url`` —
    which whoever edits connectors.yaml chooses — as the Authorization header. A string that
    is not a reference at all may be a pasted secret: the error does not repeat it.
    """
    kind, sep, name = ref.partition(":")
    if not sep or not name or kind not in ("vault", "env"):
        shown = f"{kind}:..." if sep and kind.isalpha() and len(kind) <= 10 else "the value given"
        raise ValidationError(
            f"{setting} ({shown}) must look like vault:NAME or env:NAME; "
            "scheme must be vault: or env:"
        )
    if kind == "env" and names_own_env(name):
        raise ValidationError(f"{setting} {ref!r} {OWN_ENV_PROBLEM}", code="reserved_secret")
    if kind == "vault" and is_reserved(name):
        raise ValidationError(
            f"{setting} {ref!r} is one of Ringfence's own keys (reserved vault names: "
            f"{', '.join(RESERVED_PREFIXES)}); reference a secret of your own",
            code="reserved_secret",
        )
    return kind, name


def resolve_credential(ref: str, secrets: SecretSource | None) -> str:
    """Turn ``vault:NAME`` / ``env:NAME`` into the secret value (never echoed in errors)."""
    kind, name = check_credential_ref(ref)
    if kind == "env":
        value = os.environ.get(name)
        if not value:
            raise ValidationError(f"credential reference {ref!r}: environment variable is unset")
        return value
    if secrets is None:
        raise ValidationError(f"credential reference {ref!r} needs the vault, none was given")
    return secrets.get(name).get_secret_value()


_DEFAULT_PORTS = {"http": 80, "https": 443}


class JSONTooDeep(ValueError):
    """A JSON body nested deeper than ``MAX_JSON_DEPTH``."""


def load_json(response: httpx.Response) -> Any:
    """``response.json()``, with a body nested deeper than ``MAX_JSON_DEPTH`` (or so deep the
    parser runs out of stack) raised as ``JSONTooDeep``, a ValueError like any other
    unparsable body."""
    try:
        body = response.json()
    except RecursionError:
        raise JSONTooDeep(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:  # iterative: the check itself must not recurse
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            if depth > MAX_JSON_DEPTH:
                raise JSONTooDeep(f"nested more than {MAX_JSON_DEPTH} levels deep")
            stack.extend((v, depth + 1) for v in value if isinstance(v, dict | list))
    return body


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port with the default port filled in (httpx lower-cases the scheme
    and host and drops a default port, so ``HTTPS://Host:443`` and ``https://host`` match)."""
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def check_api_url(vendor: str, name: str, url: str) -> None:
    """The rule for every URL a credential is sent to: https (plain http only to a loopback
    test server), a host, no userinfo. ValidationError naming the setting otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ValidationError(f"{vendor}: {name} {url!r} is not an http(s) URL")
    if "@" in parts.netloc:
        raise ValidationError(f"{vendor}: {name} must not carry credentials (user@host)")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValidationError(
            f"{vendor}: {name} {url!r} is plaintext http; only loopback test servers may use http"
        )


@dataclass(frozen=True)
class AuditStream:
    """One audit log a connector reads, and the monitor parser (source) its records are for.

    A vendor may keep several logs behind different endpoints (Google's Reports API has one
    per application; Microsoft has Graph directory audits and sign-ins, and the Office 365
    Management Activity API): each is pulled, paged and resumed on its own."""

    name: str
    source: str


@dataclass(frozen=True)
class ConnectorConfig:
    """How to reach one SaaS tenant. ``options`` carries vendor extras (org, audit base...)."""

    vendor: str
    base_url: str
    credential_ref: str
    options: Mapping[str, str] = field(default_factory=dict)
    page_size: int = 100
    timeout: float = 30.0
    max_retries: int = 4
    max_wait: float = 120.0  # longest rate-limit pause we accept before giving up
    max_pages: int = 100_000  # per listing; a bound against endless pagination
    max_body_bytes: int = 32 * 1024 * 1024  # one response; a bound against memory exhaustion

    def __post_init__(self) -> None:
        check_api_url(self.vendor, "base_url", self.base_url)
        check_credential_ref(self.credential_ref, f"{self.vendor}: credential")
        for name, value in self.options.items():
            if name.endswith("_base_url") and value:  # another API host (Slack audit, SCIM)
                check_api_url(self.vendor, name, value)
            if name.endswith("_credential_ref") and value:  # e.g. GitHub's action credential
                check_credential_ref(value, f"{self.vendor}: option {name}")
        if not 1 <= self.page_size <= 1000:
            raise ValidationError(f"{self.vendor}: page_size must be 1..1000")
        if self.max_retries < 0:
            raise ValidationError(f"{self.vendor}: max_retries must be >= 0")
        if self.max_pages < 1:
            raise ValidationError(f"{self.vendor}: max_pages must be >= 1")

    def option(self, name: str, default: str | None = None) -> str:
        value = self.options.get(name, default)
        if value is None or value == "":
            raise ValidationError(f"{self.vendor}: connector option {name!r} is required")
        return value


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """RFC 9110 Retry-After: delta-seconds or an HTTP-date; None when absent/garbled."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def epoch_delay(value: str | None, now: datetime) -> float | None:
    """Seconds until an epoch-seconds reset header (Okta, GitHub); None when absent/garbled."""
    if value is None or not value.strip().isdigit():
        return None
    return max(0.0, float(value.strip()) - now.timestamp())


class Connector:
    """Base of every vendor connector. Subclasses implement the pulls and the actions."""

    vendor: str = "generic"
    auth_scheme: str = "Bearer"
    # The ``options`` of connectors.yaml this connector reads: any other is a config error
    # (a misspelt option must not be silently ignored).
    known_options: frozenset[str] = frozenset()

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        secrets: SecretSource | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self._sleep = sleep
        self._secrets = secrets
        self._transport = transport
        token = resolve_credential(config.credential_ref, secrets)
        self._client = self._make_client(config.base_url, token)
        self._extra_clients: list[httpx.Client] = []
        self._pause_until: float | None = None
        self.waits: list[float] = []  # every pause taken, for operators and tests
        self._pulled: dict[str, PullResult[Any]] | None = None  # see once_per_snapshot

    # -- plumbing ---------------------------------------------------------------------------
    def _make_client(self, base_url: str, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=self._transport,
            timeout=self.config.timeout,
            follow_redirects=False,
            headers={
                "Authorization": f"{self.auth_scheme} {token}",
                "Accept": "application/json",
                "User-Agent": "ringfence-connector/0.1",
            },
        )

    def _client_for(self, base_url: str, credential_ref: str | None = None) -> httpx.Client:
        """A second client for another API host of the same vendor (e.g. Slack audit/SCIM)."""
        check_api_url(self.vendor, "API base URL", base_url)  # the config checked; so do we
        ref = credential_ref or self.config.credential_ref
        client = self._make_client(base_url, resolve_credential(ref, self._secrets))
        self._extra_clients.append(client)
        return client

    def close(self) -> None:
        self._client.close()
        for c in self._extra_clients:
            c.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def error(self, message: str, operation: str, http_status: int | None = None) -> ConnectorError:
        return ConnectorError(
            message, vendor=self.vendor, operation=operation, http_status=http_status
        )

    # -- vendor hooks -----------------------------------------------------------------------
    def rate_limit_delay(self, response: httpx.Response) -> float | None:
        """Seconds to wait if ``response`` is a rate-limit refusal, else None."""
        if response.status_code == 429:
            delay = parse_retry_after(response.headers.get("Retry-After"), self.clock.now())
            return delay if delay is not None else -1.0  # -1: rate limited, use backoff
        return None

    def quota_exhausted_delay(self, response: httpx.Response) -> float | None:
        """Seconds to wait before the *next* call when a success says the quota is spent."""
        return None

    def error_detail(self, response: httpx.Response) -> str:
        """A short vendor error description from the body (vendor error shapes differ)."""
        try:
            body = load_json(response)
        except ValueError:
            return response.text[:200]
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict):
                return str(err.get("message") or err.get("code") or err)[:200]
            for key in ("errorSummary", "message", "error", "detail"):
                if key in body:
                    return str(body[key])[:200]
        return str(body)[:200]

    def path_id(self, value: object, operation: str) -> str:
        """An id (vendor-supplied or stored) as one URL path segment, percent-encoded whole.

        Refused: an empty id, ``.`` / ``..`` and any id holding a slash or backslash; such an
        id could retarget a request at another resource (``../../users/ceo`` turning a token
        revocation into deleting a user), and no vendor issues one."""
        text = str(value)
        if text in {"", ".", ".."} or "/" in text or "\\" in text:
            raise self.error(f"refusing the id {text[:80]!r} as a URL path segment", operation)
        return quote(text, safe="")

    def check_body(self, body: Any, operation: str) -> None:
        """Vendors that report errors inside a 200 (Slack) override this."""

    # -- requests ---------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        return float(min(self.config.max_wait, 0.5 * (2**attempt)))

    def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        if seconds > 0:
            self._sleep(seconds)

    def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        client: httpx.Client | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with retries on rate limits, 5xx and transport errors; 4xx → ConnectorError.

        ``idempotent=False`` (a POST that creates something, e.g. a new client secret): retried
        only after a 429, which the vendor answers without acting; after a 5xx or a transport
        error the request may have taken effect, so it is not repeated."""
        client = client or self._client
        try:
            target = client.build_request(method, url).url
        except httpx.InvalidURL:
            raise self.error("malformed response: an unusable link", operation) from None
        self._check_target(client, target, operation)
        if self._pause_until is not None:
            remaining = self._pause_until - self.clock.monotonic()
            self._pause_until = None
            if remaining > 0:
                self._wait(min(remaining, self.config.max_wait))
        attempt = 0
        while True:
            try:
                resp = self._send(client, method, url, params, json, data, operation)
            except httpx.TransportError as exc:
                if attempt >= self.config.max_retries or not idempotent:
                    raise self.error(
                        f"unreachable after {attempt + 1} attempts ({type(exc).__name__})",
                        operation,
                    ) from None
                self._wait(self._backoff(attempt))
                attempt += 1
                continue
            limited = self.rate_limit_delay(resp)
            if limited is not None:
                if attempt >= self.config.max_retries:
                    raise self.error(
                        f"still rate limited after {attempt + 1} attempts", operation, 429
                    )
                delay = self._backoff(attempt) if limited < 0 else limited
                if delay > self.config.max_wait:
                    raise self.error(
                        f"rate limited for {delay:.0f}s, longer than max_wait "
                        f"{self.config.max_wait:.0f}s",
                        operation,
                        resp.status_code,
                    )
                log.info("connector.rate_limited", vendor=self.vendor, op=operation, wait=delay)
                self._wait(delay)
                attempt += 1
                continue
            if resp.status_code >= 500:
                if attempt >= self.config.max_retries or not idempotent:
                    raise self.error(
                        f"HTTP {resp.status_code} after {attempt + 1} attempts: "
                        f"{self.error_detail(resp)}",
                        operation,
                        resp.status_code,
                    )
                self._wait(self._backoff(attempt))
                attempt += 1
                continue
            if resp.status_code >= 400:
                raise self.error(
                    f"HTTP {resp.status_code}: {self.error_detail(resp)}",
                    operation,
                    resp.status_code,
                )
            if 300 <= resp.status_code < 400:
                raise self.error(
                    f"unexpected redirect HTTP {resp.status_code}", operation, resp.status_code
                )
            spent = self.quota_exhausted_delay(resp)
            if spent is not None:
                self._pause_until = self.clock.monotonic() + spent
            return resp

    def _check_target(self, client: httpx.Client, target: httpx.URL, operation: str) -> None:
        """Refuse a URL outside the client's own origin (scheme, host, port), or one carrying
        userinfo. ``target`` is already resolved against the client's base URL, so a relative
        link, an upper-case scheme or an explicit default port cannot slip past."""
        allowed = _origin(client.base_url)
        scheme, host, port = _origin(target)
        if target.userinfo:
            raise self.error("refusing a link with credentials (userinfo) in it", operation)
        if host != allowed[1]:
            raise self.error(f"refusing to follow a link to a foreign host {host}", operation)
        if scheme != allowed[0]:
            raise self.error(
                f"refusing to follow a {scheme or 'scheme-less'} link to {host}: "
                f"the API is {allowed[0]}",
                operation,
            )
        if port != allowed[2]:
            raise self.error(
                f"refusing to follow a link to port {port} of {host}: the API is on {allowed[2]}",
                operation,
            )

    def _send(
        self,
        client: httpx.Client,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, Any] | None,
        operation: str,
    ) -> httpx.Response:
        """Send and read the body, refusing one larger than ``max_body_bytes`` (memory cap)."""
        request = client.build_request(method, url, params=params, json=json, data=data)
        self._check_target(client, request.url, operation)  # what is sent is what was checked
        resp = client.send(request, stream=True)
        limit = self.config.max_body_bytes
        try:
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise self.error(f"response of {declared} bytes exceeds {limit}", operation)
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in resp.iter_bytes():  # decoded (gzip...): the limit is on what we keep
                    size += len(chunk)
                    if size > limit:
                        raise self.error(f"response exceeds {limit} bytes", operation)
                    chunks.append(chunk)
            except httpx.DecodingError:
                raise self.error(
                    "malformed response: body does not match its Content-Encoding", operation
                ) from None
        finally:
            resp.close()
        # The body is decoded now: a rebuilt response still saying Content-Encoding: gzip
        # would be decoded a second time (and fail on every compressed answer).
        headers = resp.headers.copy()
        for name in ("Content-Encoding", "Content-Length"):
            headers.pop(name, None)
        return httpx.Response(
            resp.status_code, headers=headers, content=b"".join(chunks), request=request
        )

    def json_body(self, resp: httpx.Response, operation: str) -> Any:
        try:
            body = load_json(resp)
        except JSONTooDeep as exc:
            raise self.error(
                f"malformed response: JSON body {exc}", operation, resp.status_code
            ) from None
        except ValueError:
            raise self.error(
                "malformed response: body is not JSON", operation, resp.status_code
            ) from None
        self.check_body(body, operation)
        return body

    def advance(self, seen: set[str], nxt: str | None, operation: str) -> str | None:
        """The next page link/token, refusing a repeat: a looping API must not hang a pull."""
        if not nxt:
            return None
        if nxt in seen:
            raise self.error("malformed response: pagination repeats a previous page", operation)
        if len(seen) + 1 >= self.config.max_pages:  # the first page needed no link
            raise self.error(f"more than {self.config.max_pages} pages; stopping", operation)
        seen.add(nxt)
        return nxt

    def next_link(self, resp: httpx.Response) -> str | None:
        nxt = resp.links.get("next", {}).get("url")
        return str(nxt) if nxt else None

    # -- collecting -------------------------------------------------------------------------
    def collect(
        self, operation: str, pages: Iterator[Page], parse: Callable[[dict[str, Any]], T]
    ) -> PullResult[T]:
        """Parse page by page; a bad page stops the pull, earlier pages are kept."""
        result: PullResult[T] = PullResult()
        try:
            for page in pages:
                parsed: list[T] = []
                for raw in page:
                    try:
                        parsed.append(parse(raw))
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        raise self.error(
                            f"malformed record on page {result.pages + 1}: {exc!r}", operation
                        ) from None
                result.items.extend(parsed)
                result.pages += 1
        except ConnectorError as exc:
            result.error = exc
        return result

    # -- what every connector offers ------------------------------------------------------------
    def people(self) -> PullResult[DiscoveredPerson]:
        raise NotImplementedError

    def apps(self) -> PullResult[DiscoveredApp]:
        raise NotImplementedError

    def grants(self) -> PullResult[DiscoveredGrant]:
        raise NotImplementedError

    def audit_log(
        self, on_page: AuditCallback, *, since: datetime | None = None, max_pages: int | None = None
    ) -> AuditPullReport:
        raise NotImplementedError

    @classmethod
    def check_options(cls, options: Mapping[str, str]) -> None:
        """Refuse option values this connector cannot use (ValidationError); names are
        checked against ``known_options`` by the config loader."""

    def audit_streams(self) -> tuple[AuditStream, ...]:
        """The audit logs this connector reads, in pull order (one by default)."""
        return (AuditStream("audit", self.vendor),)

    def audit_stream(
        self,
        stream: str,
        on_page: AuditCallback,
        *,
        since: datetime | None = None,
        max_pages: int | None = None,
        checkpoint: AuditCheckpoint | None = None,
    ) -> AuditPullReport:
        """Pull one of ``audit_streams()`` (a vendor with one log: ``audit_log``).

        ``checkpoint``: what the last pull of this log returned in ``report.checkpoint``; the
        logs that resume by time (Google, the Management Activity API) start from it (less
        their overlap) when ``since`` is not given and skip the ids it has seen. The others
        ignore it and return none."""
        if stream not in {s.name for s in self.audit_streams()}:
            raise ValidationError(f"{self.vendor}: no audit stream {stream!r}")
        return self.audit_log(on_page, since=since, max_pages=max_pages)

    def revoke_grant(self, grant: DiscoveredGrant) -> ActionResult:
        raise NotImplementedError

    def suspend_app(self, app: DiscoveredApp) -> ActionResult:
        raise NotImplementedError

    def deactivate_person(self, person: DiscoveredPerson) -> ActionResult:
        raise NotImplementedError

    # Client-secret rotation, in two phases so that the caller can store the new secret before
    # the old ones stop working: mint, then retire every other secret of the app.
    def client_app(self, client_id: str) -> str:
        """The vendor's id of the app whose OAuth client id is ``client_id`` (read-only)."""
        raise NotImplementedError(f"the {self.vendor} connector cannot rotate client secrets")

    def add_client_secret(self, client_id: str) -> NewClientSecret:
        raise NotImplementedError(f"the {self.vendor} connector cannot rotate client secrets")

    def retire_client_secrets(self, app_id: str, keep: str, retired: list[str]) -> None:
        """Remove every secret of the app but ``keep``, appending each removed id to
        ``retired`` as it goes (so a failure part-way still tells what was removed)."""
        raise NotImplementedError(f"the {self.vendor} connector cannot rotate client secrets")

    def snapshot(self) -> Snapshot:
        """People, apps and grants in one pull: a list that two of them derive from (Okta's
        users and apps, Google's and Slack's user grants, Entra's service principals) is read
        from the vendor once (``once_per_snapshot``), not once per caller — for Google that is
        one token listing per user instead of two, against the tenant's API quota."""
        with self._one_snapshot():
            return Snapshot(
                vendor=self.vendor, people=self.people(), apps=self.apps(), grants=self.grants()
            )

    @contextmanager
    def _one_snapshot(self) -> Iterator[None]:
        outer = self._pulled is None
        if outer:
            self._pulled = {}
        try:
            yield
        finally:
            if outer:
                self._pulled = None

    def pulled_in_this_snapshot(self, name: str) -> PullResult[Any] | None:
        """What ``name`` (a ``once_per_snapshot`` method) already pulled in the snapshot
        being taken, if it ran; None outside a snapshot."""
        got = self._pulled.get(name) if self._pulled is not None else None
        return _copy(got) if got is not None else None

    def run_audit(
        self,
        operation: str,
        pages: Iterator[tuple[Page, str | None]],
        on_page: AuditCallback,
        max_pages: int | None,
    ) -> AuditPullReport:
        """Drive an audit page iterator (page, resume-token) into the callback."""
        report = AuditPullReport()
        try:
            for page, resume in pages:
                on_page(page)
                report.pages += 1
                report.records += len(page)
                report.resume = resume
                if max_pages is not None and report.pages >= max_pages:
                    break
        except ConnectorError as exc:
            report.error = exc
        return report


# -- small parsing helpers -------------------------------------------------------------------
def _copy(result: PullResult[T]) -> PullResult[T]:
    return PullResult(items=list(result.items), error=result.error, pages=result.pages)


def once_per_snapshot(
    method: Callable[[Any], PullResult[T]],
) -> Callable[[Any], PullResult[T]]:
    """A list pull read from the vendor once per ``snapshot()``: later calls in the same
    snapshot get a copy of the first result (callers may change their copy). Outside a
    snapshot every call pulls afresh, so nothing stale outlives it."""

    @functools.wraps(method)
    def pull(self: Connector) -> PullResult[T]:
        memo = self._pulled
        if memo is None:
            return method(self)
        name = method.__name__
        if name not in memo:
            memo[name] = method(self)
        return _copy(memo[name])

    return pull


def as_list(
    body: Any, key: str | None, what: str, *, may_omit: bool = False
) -> list[dict[str, Any]]:
    """``body[key]`` (or body) as a list of objects, else ValueError naming ``what``.

    ``may_omit``: the vendor leaves the key out of an empty page (Google does).
    """
    if key is not None and not isinstance(body, dict):
        raise ValueError(f"{what}: expected an object with {key!r}")
    value = body.get(key) if key is not None else body
    if key is not None and key not in body:
        if not may_omit:
            raise ValueError(f"{what}: expected an object with {key!r}")
        value = []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{what}: expected a list of objects")
    return value


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (with Z), epoch seconds or epoch milliseconds → aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        num = float(value)
        if num > 1e11:
            num /= 1000.0
        try:
            return datetime.fromtimestamp(num, UTC)
        except (OverflowError, OSError):  # 1e20, inf: a malformed record, not a crash
            raise ValueError(f"timestamp out of range: {value!r}"[:80]) from None
    if isinstance(value, str):
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def req_str(obj: dict[str, Any], key: str) -> str:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"field {key!r} must be a string")
    return str(value)


def split_page(
    body: Any, key: str | None, operation: str, connector: Connector, *, may_omit: bool = False
) -> Page:
    try:
        return as_list(body, key, operation, may_omit=may_omit)
    except ValueError as exc:
        raise connector.error(f"malformed response: {exc}", operation) from None

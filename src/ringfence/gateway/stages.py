"""The gateway pipeline's stages, each a small function over one request ``Exchange``.

authenticate → authorize → rate-limit → validate → inspect (DLP) → broker → (forward, audit in
``app``). A stage either returns normally or raises ``Deny`` (a 4xx/5xx with a stable code); a
dependency that cannot answer raises ``UnavailableError`` and the gateway fails closed (503).
Stages never log or echo a token, a credential or a body value.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from cryptography import x509

from ringfence.core.errors import AuthenticationError, UnavailableError
from ringfence.core.levels import DataClass
from ringfence.gateway.clients import secret_matches, split_api_key
from ringfence.gateway.inspect import (
    FORM,
    Inspector,
    hidden_part_encoding,
    is_form,
    redact_bytes,
    redact_form,
    redact_json,
    redact_text,
    scan_bytes,
    unreadable_text,
)
from ringfence.gateway.policy import (
    ClientInfo,
    CompiledOperation,
    CompiledRoute,
    IntegrationInfo,
    PolicySnapshot,
)
from ringfence.gateway.ratelimit import LimitDecision, PendingHit, RateLimiter
from ringfence.gateway.schema import compile_raw
from ringfence.gateway.tokens import cert_thumbprint

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Never forwarded upstream: routing, identity and provenance headers a client could spoof.
STRIP_UPSTREAM = HOP_BY_HOP | {
    b"host",
    b"content-length",
    b"authorization",
    b"x-api-key",
    b"cookie",
    b"forwarded",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-proto",
    b"x-forwarded-port",
    b"x-forwarded-prefix",
    b"x-real-ip",
    b"x-original-url",
    b"x-rewrite-url",
    b"x-http-method-override",
    b"x-http-method",
    b"x-method-override",
    b"x-request-id",
    b"x-client-cert",
    b"x-ssl-client-cert",
    b"accept-encoding",
    b"expect",
}
STRIP_DOWNSTREAM = HOP_BY_HOP | {b"content-length", b"set-cookie", b"server", b"x-request-id"}


class Deny(Exception):
    """Refuse the request with ``status`` and a stable ``code`` (problem+json)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or []
        self.extra = extra or {}


@dataclass(slots=True)
class Exchange:
    """Everything one request accumulates on its way through the pipeline."""

    request_id: str
    method: str
    path: str
    query: bytes
    headers: dict[bytes, bytes]
    client_ip: str | None
    snapshot: PolicySnapshot | None = None
    segs: tuple[str, ...] = ()
    route: CompiledRoute | None = None
    rest: tuple[str, ...] = ()
    op: CompiledOperation | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    client: ClientInfo | None = None
    integration: IntegrationInfo | None = None
    auth: str = "none"
    scopes: frozenset[str] = frozenset()
    claims: dict[str, Any] = field(default_factory=dict)
    cert_thumbprint: str | None = None
    body: bytes = b""
    document: Any = None  # the parsed JSON body, when the Python path parsed it
    json_body: bool = False  # the body is JSON (checked raw, or parsed into ``document``)
    limit: LimitDecision | None = None
    dlp: dict[str, Any] = field(default_factory=dict)
    bytes_out: int = 0
    upstream_status: int | None = None
    endpoint: str | None = None
    api_key_id: str | None = None


# -- authenticate ----------------------------------------------------------------------------


def authenticate(
    ex: Exchange, snap: PolicySnapshot, now_ts: float, local_revoked: set[str]
) -> None:
    auth = ex.headers.get(b"authorization")
    api_key = ex.headers.get(b"x-api-key")
    if auth is not None and auth[:7].lower() == b"bearer ":
        token = auth[7:].strip().decode("latin-1")
        claims = snap.verifier.verify(token, now_ts)
        if claims["jti"] in local_revoked:
            raise AuthenticationError("token revoked", code="token_revoked")
        client = snap.clients.get(str(claims.get("client_id", "")))
        if client is None or client.revoked:
            raise AuthenticationError("client unknown or revoked", code="client_revoked")
        bound = (
            (claims.get("cnf") or {}).get("x5t#S256")
            if isinstance(claims.get("cnf"), dict)
            else None
        )
        if bound is not None and bound != ex.cert_thumbprint:
            raise AuthenticationError(
                "token is bound to a client certificate that was not presented",
                code="certificate_mismatch",
            )
        token_scopes = frozenset(str(claims.get("scope", "")).split())
        ex.client, ex.claims, ex.auth = client, claims, "jwt"
        # Scopes removed from the client since issuance stop working at once.
        ex.scopes = token_scopes & client.scopes
    elif api_key is not None or (auth is not None and auth[:7].lower() == b"apikey "):
        raw = (api_key if api_key is not None else auth[7:]).strip().decode("latin-1")  # type: ignore[index]
        prefix = split_api_key(raw)
        info = snap.api_keys.get(prefix) if prefix else None
        if info is None or not secret_matches(raw, info.hash):
            raise AuthenticationError("invalid API key", code="api_key_invalid")
        if info.revoked:
            raise AuthenticationError("API key revoked", code="api_key_revoked")
        if info.expires_ts is not None and info.expires_ts <= now_ts:
            raise AuthenticationError("API key expired", code="api_key_expired")
        client = snap.clients.get(info.client_id)
        if client is None or client.revoked:
            raise AuthenticationError("client unknown or revoked", code="client_revoked")
        ex.client, ex.auth = client, "api_key"
        ex.claims = dict(client.claims)
        ex.scopes = info.scopes & client.scopes
        ex.api_key_id = info.id
    else:
        raise AuthenticationError("credentials required (Bearer token or API key)")
    ex.integration = snap.integrations.get(ex.client.integration_id)


# -- authorize -------------------------------------------------------------------------------


# Claims the gateway writes into every token (tokens.issue_access_token, TokenService.token):
# they follow from the client's identity, not from its registered claims.
_TOKEN_OWN_CLAIMS = frozenset(
    {"iss", "sub", "aud", "client_id", "iat", "nbf", "exp", "jti", "scope", "cnf", "integration_id"}
)


def authorize(ex: Exchange) -> None:
    route, op, integ = ex.route, ex.op, ex.integration
    assert route is not None and op is not None
    if integ is None:
        raise Deny(403, "integration_unknown", "the client's integration is unknown")
    if integ.status != "active":
        raise Deny(403, f"integration_{integ.status}", f"integration is {integ.status}")
    if integ.id not in route.integration_ids:
        raise Deny(403, "route_not_granted", "this integration may not call this route")
    missing = op.scopes - ex.scopes
    if missing:
        raise Deny(
            403,
            "insufficient_scope",
            f"missing scope: {' '.join(sorted(missing))}",
            headers=[
                (
                    b"www-authenticate",
                    _scope_challenge(op.scopes),
                )
            ],
        )
    for param, claim in op.bind:
        value = ex.claims.get(claim)
        if value is None or str(value) != ex.path_params.get(param):
            raise Deny(403, "object_forbidden", f"{param} does not belong to this client")
        # A claim of the client's is judged as the client holds it now, not as it was when
        # the token was issued (up to 15 minutes ago); the gateway's own claims are fixed.
        if claim not in _TOKEN_OWN_CLAIMS:
            current = ex.client.claims.get(claim) if ex.client is not None else None
            if current is None or str(current) != str(value):
                raise Deny(403, "object_forbidden", f"{param} does not belong to this client")
    if op.deprecated:
        raise Deny(410, "deprecated", "this operation is deprecated and no longer served")


def _scope_challenge(scopes: frozenset[str]) -> bytes:
    return f'Bearer error="insufficient_scope", scope="{" ".join(sorted(scopes))}"'.encode()


# -- rate limit ------------------------------------------------------------------------------


def begin_rate_limit(ex: Exchange, limiter: RateLimiter) -> PendingHit | None:
    """The route's limit hit, sent now (see ``RateLimiter.begin``); None without a limit."""
    route, integ = ex.route, ex.integration
    assert route is not None and integ is not None
    if route.rate_limit is None:
        return None
    return limiter.begin(route.rate_limit, route.name, integ.id)


async def finish_rate_limit(ex: Exchange, limiter: RateLimiter, pending: PendingHit | None) -> None:
    """The verdict of ``begin_rate_limit``'s hit, then the operation's quota (only when the
    route's limit allowed the request, so a refused request never counts against it)."""
    route, op, integ = ex.route, ex.op, ex.integration
    assert route is not None and op is not None and integ is not None
    if pending is not None:
        ex.limit = await pending.decision()
        if not ex.limit.allowed:
            raise over_limit(ex.limit)
    if op.quota is not None:
        quota = await limiter.hit(op.quota, route.name, op.method, op.template, integ.id)
        if not quota.allowed:
            raise Deny(
                429, "quota_exceeded", "flow quota exceeded", headers=limit_headers(quota, True)
            )


def over_limit(d: LimitDecision) -> Deny:
    """The refusal of a request the route's limit did not allow (``finish_rate_limit``)."""
    return Deny(429, "rate_limited", "rate limit exceeded", headers=limit_headers(d, True))


# ``b"%d" % n`` of the values a route's limit headers repeat on every request (its limit, the
# seconds to the window's reset): ≈ 1.4k instructions each, a lookup instead. Bounded.
_DECIMALS: dict[int, bytes] = {}


def _decimal(n: int) -> bytes:
    text = b"%d" % n
    if len(_DECIMALS) >= 1024:
        _DECIMALS.clear()
    _DECIMALS[n] = text
    return text


def limit_headers(d: LimitDecision, retry: bool = False) -> list[tuple[bytes, bytes]]:
    limit, reset = d.limit, d.reset_seconds
    reset_text = _DECIMALS.get(reset) or _decimal(reset)
    out = [
        (b"ratelimit-limit", _DECIMALS.get(limit) or _decimal(limit)),
        (b"ratelimit-remaining", b"%d" % d.remaining),
        (b"ratelimit-reset", reset_text),
    ]
    if retry:
        out.append((b"retry-after", reset_text))
    return out


# -- validate --------------------------------------------------------------------------------


def _read_content_type(raw: bytes) -> tuple[str, bool, bool]:
    """A request Content-Type value: (its media type, lower case; whether a charset parameter
    other than UTF-8 is declared; whether it names JSON anywhere, as ``validate`` asks)."""
    text = raw.decode("latin-1")
    media, _, params = text.partition(";")
    other_charset = False
    for p in params.split(";"):
        k, _, v = p.partition("=")
        if k.strip().lower() == "charset" and v.strip().strip('"').lower() not in ("utf-8", "utf8"):
            other_charset = True
            break
    return media.strip().lower(), other_charset, "json" in text.lower()


# Clients send the same few Content-Type values on every request: their reading is kept
# (bounded: short values only, and reset when full).
_CONTENT_TYPES: dict[bytes, tuple[str, bool, bool]] = {}


def content_type_of(raw: bytes) -> tuple[str, bool, bool]:
    """``_read_content_type``, remembered for short values."""
    known = _CONTENT_TYPES.get(raw)
    if known is None:
        known = _read_content_type(raw)
        if len(raw) <= 128:
            if len(_CONTENT_TYPES) >= 256:
                _CONTENT_TYPES.clear()
            _CONTENT_TYPES[raw] = known
    return known


def check_content_type(ex: Exchange) -> None:
    route = ex.route
    assert route is not None
    raw = ex.headers.get(b"content-type")
    if raw is None:
        raise Deny(415, "unsupported_media_type", "a request body needs a Content-Type")
    media, other_charset, _ = content_type_of(raw)
    if media not in route.content_types:
        raise Deny(415, "unsupported_media_type", "content type not accepted by this route")
    if other_charset:
        raise Deny(415, "unsupported_media_type", "only UTF-8 bodies are accepted")


def check_structure(
    doc: Any, max_depth: int, max_items: int, max_string: int, body_len: int | None = None
) -> None:
    """Depth, array/object size and string length caps (400 on violation).

    The body length bounds what the walk can find: a body shorter than ``max_string`` holds no
    longer string, one shorter than ``2 * max_items`` no bigger container, one with fewer
    brackets than ``max_depth`` no deeper nesting — so most bodies skip most of the walk.
    """
    n = body_len if body_len is not None else 1 << 62
    need_str = n > max_string
    need_size = n >= 2 * max_items
    stack: list[tuple[Any, int]] = [(doc, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        if depth > max_depth:
            raise Deny(400, "too_deep", f"JSON nesting exceeds depth {max_depth}")
        if need_size and len(value) > max_items:
            raise Deny(400, "too_many_items", f"an array or object exceeds {max_items} items")
        children = value.values() if type(value) is dict else value
        if need_str and type(value) is dict:
            for k in value:
                if len(k) > max_string:
                    raise Deny(400, "string_too_long", "an object key is too long")
        for child in children:
            t = type(child)
            if t is dict or t is list:
                push((child, depth + 1))
            elif need_str and t is str and len(child) > max_string:
                raise Deny(400, "string_too_long", f"a string exceeds {max_string} characters")


def _bracket_count(body: bytes) -> int:
    return body.count(b"[") + body.count(b"{")


def parse_json(body: bytes, max_depth: int) -> Any:
    # orjson refuses nesting deeper than 1024 without recursing further (a 10,000-deep document
    # fails fast); check_structure then enforces the route's own, smaller depth.
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc).lower() or "recursion" in str(exc).lower():
            raise Deny(400, "too_deep", f"JSON nesting exceeds depth {max_depth}") from None
        raise Deny(400, "invalid_json", "request body is not valid JSON") from None


def _first_copies(body: bytes) -> Any:
    """The body read keeping the first copy of each repeated key; None when no object repeats
    a key (the body was parsed and structure-checked already)."""
    repeated = False

    def first_wins(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                repeated = True
            else:
                out[k] = v
        return out

    try:
        doc = json.loads(body, object_pairs_hook=first_wins)
    except (ValueError, RecursionError):
        # Not reached: Python's json reads all that orjson does, and a route's max_depth
        # (at most 512) keeps the body under the recursion limit.
        return None
    return doc if repeated else None


def schema_errors(validator: Any, doc: Any, limit: int = 5) -> list[dict[str, str]]:
    """Locations and failed keywords only: never the offending values."""
    out: list[dict[str, str]] = []
    for err in validator.iter_errors(doc):
        loc = "/" + "/".join(str(p) for p in err.absolute_path)
        item = {"field": loc, "problem": str(err.validator)}
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set((err.schema or {}).get("properties", {}))
            extra = sorted(k for k in err.instance if k not in allowed)[:5]
            item["properties"] = ", ".join(extra)
        out.append(item)
        if len(out) >= limit:
            break
    return out


_CAPS_ONLY = compile_raw(True)  # a JSON body on a route without a request schema


def validate(ex: Exchange) -> None:
    route, op = ex.route, ex.op
    assert route is not None and op is not None
    limits = route.limits
    validator = op.request_validator
    schema_valid: bool | None = None  # None: the schema was not evaluated yet
    if ex.body:
        check_content_type(ex)  # so a Content-Type is there
        if content_type_of(ex.headers[b"content-type"])[2]:
            ex.json_body = True
            # The C check on the raw bytes answers True only for a body the path below would
            # accept (well-formed, within the caps, valid under the schema): then nothing is
            # parsed. Anything else — including every refusal — takes that path, which
            # decides and names the problem.
            raw = validator.raw if validator is not None else _CAPS_ONLY
            if raw is not None and raw.valid(
                ex.body, limits.max_depth, limits.max_array_items, limits.max_string_length
            ):
                return
            doc = parse_json(ex.body, limits.max_depth)
            if type(doc) is str and len(doc) > limits.max_string_length:
                raise Deny(400, "string_too_long", "the body string is too long")
            n = len(ex.body)
            if type(doc) is dict or type(doc) is list:
                # The body's length bounds the strings and containers it can hold, and its
                # bracket count how deep it can nest: when only the depth is in question
                # (``depth_only``) and the route schema bounds how deep a valid document
                # nests, a valid document needs neither the walk nor the bracket count. An
                # invalid one is walked first when it could be too deep, so the decision
                # (too_deep before schema_violation) is the same as always walking.
                depth_only = n <= limits.max_string_length and n < 2 * limits.max_array_items
                bound = validator.depth_bound if validator is not None else None
                if (
                    depth_only
                    and validator is not None
                    and bound is not None
                    and bound <= limits.max_depth
                ):
                    schema_valid = validator.is_valid(doc)
                    walk = not schema_valid and _bracket_count(ex.body) > limits.max_depth
                else:
                    walk = not depth_only or _bracket_count(ex.body) > limits.max_depth
                if walk:
                    check_structure(
                        doc, limits.max_depth, limits.max_array_items, limits.max_string_length, n
                    )
            ex.document = doc
    if validator is not None:
        if not ex.body:
            raise Deny(400, "body_required", "this operation requires a JSON body")
        if schema_valid is None:
            schema_valid = validator.is_valid(ex.document)
        if not schema_valid:
            errors = schema_errors(validator, ex.document)
            raise Deny(
                400,
                "schema_violation",
                "request body does not match the route schema",
                extra={"errors": errors},
            )
        # orjson keeps the last copy of a repeated key and the schema judged that one; an
        # upstream whose parser keeps the first ({"amount": -5, "amount": 5}) would act on a
        # copy nobody checked. The raw check only accepts a body whose every copy is valid;
        # here the first copies must be valid too.
        if type(ex.document) is dict or type(ex.document) is list:
            first = _first_copies(ex.body)
            if first is not None and not validator.is_valid(first):
                raise Deny(
                    400,
                    "duplicate_key",
                    "a JSON object in the body repeats a key, and the first copy does not "
                    "match the route schema",
                )


# -- inspect (DLP) ---------------------------------------------------------------------------


def inspect_body(
    body: bytes,
    document: Any,
    inspector: Inspector,
    clearance: DataClass,
    action: str,
    direction: str,
    record: dict[str, Any],
    content_type: str = "",
    is_json: bool = False,
    utf8_checked: bool = False,
) -> bytes | None:
    """Scan a body; summary into ``record[direction]``; returns a replacement body or None.

    A JSON body (parsed into ``document``, or checked raw: ``is_json``) is classified as
    JSON — field by field, key names as context — and redacted from that same analysis, so
    whatever the verdict counted is what the redaction removes. A form-encoded body
    (``content_type``) is inspected decoded, as its upstream will read it: percent-encoding
    (``alice%40example.com``) hides nothing. ``utf8_checked``: the caller knows the body is
    valid UTF-8 (a JSON request body ``validate`` accepted: the raw check and orjson both
    refuse anything else), so it is not checked again."""
    # a body DLP cannot read is the client's fault for a request, the upstream's for a
    # response (bad gateway)
    refused = 400 if direction == "request" else 502
    try:
        if not utf8_checked and not body.isascii():  # ASCII is valid UTF-8
            body.decode("utf-8")  # the built-in inspectors read the bytes: only checked here
    except UnicodeDecodeError:
        raise Deny(refused, "invalid_encoding", f"{direction} body is not UTF-8") from None
    is_json = is_json or document is not None
    if not is_json and (why := unreadable_text(body, content_type)) is not None:
        raise Deny(
            refused, "unreadable_encoding", f"{direction} body cannot be inspected by DLP ({why})"
        )
    if not is_json and (encoding := hidden_part_encoding(body, content_type)) is not None:
        raise Deny(
            refused,
            "part_encoding_rejected",
            f"{direction} body has a multipart part in {encoding!r} transfer encoding, which "
            "DLP cannot inspect",
        )
    form = not is_json and is_form(content_type)
    ctype = "application/json" if is_json else (FORM if form else "text/plain")
    try:
        hits = scan_bytes(inspector, body, None, ctype)
    except Exception:
        raise UnavailableError("DLP inspector failed", code="dlp_unavailable") from None
    if not hits:
        return None
    counts: dict[str, int] = {}
    top = DataClass.PUBLIC
    above: set[str] = set()
    for h in hits:
        counts[h.type_id] = counts.get(h.type_id, 0) + 1
        top = max(top, h.data_class)
        if h.data_class > clearance:
            above.add(h.type_id)
    summary: dict[str, Any] = {"types": counts, "class": top.label}
    record[direction] = summary
    if not above:
        return None
    summary["above_clearance"] = sorted(above)
    summary["action"] = action
    if action == "block":
        raise Deny(
            403,
            "dlp_blocked",
            f"{direction} carries data above the destination's clearance "
            f"({clearance.label}): {', '.join(sorted(above))}",
            extra={"data_types": sorted(above)},
        )
    if action == "redact":
        try:
            own = redact_bytes(inspector, body, ctype)
        except Exception:
            raise UnavailableError("DLP redaction failed", code="dlp_unavailable") from None
        if own is not None:
            return own[0]
        if is_json:
            if document is None:
                document = orjson.loads(body)  # checked raw before: well-formed
            redacted, _ = redact_json(document, inspector)
            return orjson.dumps(redacted)
        if form:
            return redact_form(body.decode("utf-8"), inspector).encode()
        return redact_text(body.decode("utf-8"), hits).encode()
    return None  # alert: forward, the audit event carries the finding


# -- mTLS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientCertPolicy:
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    header: bytes
    cas: tuple[x509.Certificate, ...]

    def trusts(self, ip: str | None) -> bool:
        if ip is None or not self.trusted_proxies:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.trusted_proxies)


def client_certificate(
    scope: dict[str, Any],
    headers: dict[bytes, bytes],
    client_ip: str | None,
    policy: ClientCertPolicy,
) -> str | None:
    """The SHA-256 thumbprint of a verified client certificate, or None."""
    der: bytes | None = None
    tls = (scope.get("extensions") or {}).get("tls") or {}
    precomputed = tls.get("ringfence_x5t#S256")
    if precomputed:
        return str(precomputed)  # verified by the TLS layer against the configured CA
    chain = tls.get("client_cert_chain") or []
    if chain:
        der = x509.load_pem_x509_certificate(str(chain[0]).encode()).public_bytes(encoding=_DER)
        return cert_thumbprint(der)  # verified by the TLS layer against the configured CA
    raw = headers.get(policy.header)
    if raw is None:
        return None
    if not policy.trusts(client_ip):
        raise Deny(400, "untrusted_client_cert_header", "client certificate header not accepted")
    try:
        text = unquote(raw.decode("latin-1"))
        if "BEGIN CERTIFICATE" in text:
            cert = x509.load_pem_x509_certificate(text.encode())
        else:
            cert = x509.load_der_x509_certificate(base64.b64decode(text))
    except Exception:
        raise AuthenticationError(
            "malformed client certificate", code="certificate_invalid"
        ) from None
    if policy.cas and not _issued_by_trusted(cert, policy.cas):
        raise AuthenticationError(
            "client certificate not issued by a trusted CA", code="certificate_untrusted"
        )
    return cert_thumbprint(cert.public_bytes(_DER))


def _issued_by_trusted(cert: x509.Certificate, cas: tuple[x509.Certificate, ...]) -> bool:
    """RFC 5280 path validation of a client certificate against the configured CAs."""
    import datetime as _dt

    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    verifier = (
        PolicyBuilder()
        .store(Store(list(cas)))
        .time(_dt.datetime.now(_dt.UTC))
        .build_client_verifier()
    )
    try:
        verifier.verify(cert, [])
    except (VerificationError, ValueError):
        return False
    return True


from cryptography.hazmat.primitives.serialization import Encoding as _Encoding  # noqa: E402

_DER = _Encoding.DER

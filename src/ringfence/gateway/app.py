"""The gateway ASGI application: built-in endpoints plus the proxy pipeline, fail closed.

Raw ASGI (no framework on the hot path): the request is matched against the in-memory policy
snapshot, then passes authenticate → authorize → rate-limit → validate → inspect → broker →
forward (a lean pooled keep-alive HTTP/1.1 client, only to the route's registered upstream, no
redirects, capped response) and always ends with one audit event. Any dependency failure
(policy, rate-limit storage, vault, DLP) answers 503 problem+json and is audited; nothing is
forwarded unchecked. No database call happens on the hot path. Never logs a token, a
credential or a body.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import ipaddress
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from cryptography import x509
from limits import parse as parse_limit
from prometheus_client import generate_latest

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.errors import RingfenceError, UnavailableError
from ringfence.core.logging import get_logger
from ringfence.gateway import fastpath
from ringfence.gateway.asgi import (
    BODY_METHODS,
    QUERY_OK,
    Receive,
    Send,
    byte_table,
    checked_body,
    has_byte,
    read_body,
    send_body,
)
from ringfence.gateway.audit import AuditEvent, AuditSink, MemoryAuditSink
from ringfence.gateway.clients import claim_assertion_jti, revoke_token, touch_api_keys
from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.fastpath import (
    FastPath,
    Plan,
    audit_line_native,
    iso_utc,
    request_id,
    static_credential,
)
from ringfence.gateway.httpproto import _Cycle
from ringfence.gateway.inspect import (
    NO_TYPE,
    Inspector,
    default_inspector,
    response_type_of,
    textual,
)
from ringfence.gateway.oauth import OAuthError, ReplayCache, TokenService, parse_form
from ringfence.gateway.paths import PathRejected, canonical_path, encode_segments
from ringfence.gateway.policy import (
    CompiledRoute,
    PolicyHolder,
    PolicySnapshot,
    PolicyWatcher,
    ResolvedCredential,
)
from ringfence.gateway.ratelimit import PendingHit, RateLimiter
from ringfence.gateway.stages import (
    STRIP_DOWNSTREAM,
    STRIP_UPSTREAM,
    ClientCertPolicy,
    Deny,
    Exchange,
    authenticate,
    authorize,
    begin_rate_limit,
    client_certificate,
    finish_rate_limit,
    inspect_body,
    limit_headers,
    over_limit,
    validate,
)
from ringfence.gateway.support import Metrics, UpstreamTokens
from ringfence.gateway.upstream import UpstreamError, UpstreamPool, UpstreamTooLarge
from ringfence.gateway.usage import UsageCounter, record_usage
from ringfence.store.db import Store

_log = get_logger("ringfence.gateway")
_audit_line = audit_line_native
PROBLEM = b"application/problem+json"
# Bodies up to this size are validated and inspected while the rate-limit verdict is on its
# way; larger ones wait for it first (see ``Gateway._proxy``).
OVERLAP_MAX_BODY = 65536
Scope = dict[str, Any]
_LINE_BREAK = byte_table(re.compile(rb"[\r\n\x00]"))
_RESERVED = frozenset({"healthz", "readyz", "metrics", "oauth", ".well-known"})
_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    410: "Gone",
    413: "Payload too large",
    414: "URI too long",
    415: "Unsupported media type",
    429: "Too many requests",
    431: "Request header fields too large",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


class Gateway:
    """The ASGI app. Build with ``build_gateway`` (or directly in tests)."""

    def __init__(
        self,
        *,
        holder: PolicyHolder,
        config: GatewayConfig,
        store: Store | None = None,
        limiter: RateLimiter | None = None,
        audit: AuditSink | None = None,
        inspector: Inspector | None = None,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        watch: bool = True,
        freeze_gc: bool = False,
    ) -> None:
        self.holder = holder
        self.config = config
        self.store = store
        self.limiter = limiter or RateLimiter.memory()
        self.audit: AuditSink = audit or MemoryAuditSink()
        self.inspector = inspector or default_inspector()
        self.clock = clock or SystemClock()
        self.metrics = Metrics()
        self._transport = transport
        self._client: httpx.AsyncClient | None = None  # upstream OAuth token requests only
        self._pool = UpstreamPool()
        self._upstream_tokens: UpstreamTokens | None = None
        self._watch = watch
        self._watcher: PolicyWatcher | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._freeze_gc = freeze_gc
        self._frozen_version: int | None = None
        self._gc_keeper: asyncio.Task[None] | None = None
        self._key_use: dict[str, datetime] = {}
        self.usage = UsageCounter()
        # the native fast path (gateway/fastpath.py): one table per policy snapshot
        self._fast: FastPath | None = None
        self._fast_on = fastpath.AVAILABLE and config.fast_path != "off"
        self._fast_verify = config.fast_path == "verify"
        # the audit line of a JSONL sink written natively (``_record``); same switch
        self._audit_lines = (
            _audit_line is not None
            and config.fast_path != "off"
            and getattr(self.audit, "accepts_lines", False) is True
        )
        self.fast_mismatches = 0  # verify mode: plans that differed from the Python path
        self.fast_verified = 0  # verify mode: plans the Python path agreed with
        self._system_clock = type(self.clock) is SystemClock
        self._oauth_limit = parse_limit(config.oauth_rate_limit)
        self.tokens = TokenService(
            issuer=config.issuer,
            audience=config.audience,
            ttl_seconds=config.token_ttl_seconds,
            token_endpoint=config.issuer.rstrip("/") + "/oauth/token",
            assertion_audience=config.assertion_audience,
            # a client assertion is single-use across every process sharing the store
            replay=ReplayCache(
                {},
                shared=None if store is None else functools.partial(claim_assertion_jti, store),
            ),
        )
        cas: tuple[x509.Certificate, ...] = ()
        if config.client_ca_file is not None:
            cas = tuple(x509.load_pem_x509_certificates(config.client_ca_file.read_bytes()))
        self.cert_policy = ClientCertPolicy(
            trusted_proxies=tuple(
                ipaddress.ip_network(c, strict=False) for c in config.trusted_proxies
            ),
            header=config.client_cert_header.encode(),
            cas=cas,
        )
        self.metrics_allow = tuple(
            ipaddress.ip_network(c, strict=False) for c in config.metrics_allow
        )

    # -- lifecycle -----------------------------------------------------------------------------
    async def startup(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_connections=512, max_keepalive_connections=256),
                timeout=httpx.Timeout(15.0),
            )
            self._upstream_tokens = UpstreamTokens(self._client, self.clock)
        if self.holder.snapshot is None:
            await asyncio.to_thread(self.holder.reload)
        if self._watch and self._watcher is None:
            self._watcher = PolicyWatcher(self.holder, self.config.poll_interval_seconds)
            self._watcher.start()
        if self.store is not None and self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_key_use())
        if self._freeze_gc and self._gc_keeper is None:
            self._refreeze()
            await self._recheck_policy()
            self._gc_keeper = asyncio.get_running_loop().create_task(self._keep_gc_frozen())

    async def shutdown(self) -> None:
        if self._watcher is not None:
            await self._watcher.stop()
            self._watcher = None
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        if self._gc_keeper is not None:
            self._gc_keeper.cancel()
            self._gc_keeper = None
        await self._write_key_use()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self._pool.aclose()
        await self.limiter.aclose()
        await self.audit.aclose()

    # A worker's heap after startup is ~170k tracked objects (modules, the ORM, the DLP
    # catalogue, the policy snapshot) that live as long as the process; a full collection walks
    # them all (~150 ms here), stalling every request in flight — the p99 tail under load.
    # Frozen, they are skipped, so collections only walk what requests allocate.
    def _refreeze(self) -> None:
        gc.unfreeze()  # a replaced snapshot's cycles become collectable again
        gc.collect()
        gc.freeze()
        snap = self.holder.snapshot
        self._frozen_version = snap.version if snap is not None else None

    def refreeze_if_policy_changed(self) -> bool:
        """After a policy change: one full collection, then freeze again (True if done)."""
        snap = self.holder.snapshot
        if snap is None or snap.version == self._frozen_version:
            return False
        self._refreeze()
        return True

    async def _keep_gc_frozen(self) -> None:
        while True:
            await asyncio.sleep(5)
            await self.refreeze_and_recheck()

    async def refreeze_and_recheck(self) -> None:
        """``refreeze_if_policy_changed``, then the policy re-checked (``_recheck_policy``)."""
        if self.refreeze_if_policy_changed():
            await self._recheck_policy()

    async def _recheck_policy(self) -> None:
        """After a full collection: it held the GIL (seconds on a large heap of a loaded
        machine), so the watcher could not mark the policy fresh meanwhile, and requests would
        be refused as "policy stale" until its next pass."""
        await asyncio.to_thread(self.holder.reload)

    async def _flush_key_use(self) -> None:
        while True:
            await asyncio.sleep(5)
            await self._write_key_use()

    async def _write_key_use(self) -> None:
        used, self._key_use = self._key_use, {}
        if used and self.store is not None:
            try:
                await asyncio.to_thread(touch_api_keys, self.store, used)
            except Exception as exc:
                _log.warning("api_key_last_used_failed", error_type=type(exc).__name__)
        counts = self.usage.take()
        if counts and self.store is not None:
            try:
                await asyncio.to_thread(record_usage, self.store, counts)
            except Exception as exc:
                _log.warning("gateway_usage_failed", error_type=type(exc).__name__)

    # -- ASGI ----------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)[:200]})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        if self._client is None:
            await self.startup()
        plan: Plan | None = None
        if self._fast_on:
            try:
                plan = self._plan(scope)
            except Exception as exc:  # the Python path decides; never a reason to refuse
                _log.error("gateway_fast_path_error", error_type=type(exc).__name__)
        size = 0
        dup_auth = False
        if plan is not None:
            headers: dict[bytes, bytes] = plan[3]
        else:
            headers, size, dup_auth = self._request_headers(scope)
        ex = self._exchange(scope, headers, request_id())
        status = 500
        reason = "ok"
        decision = "allow"
        extra_headers: list[tuple[bytes, bytes]] = []
        try:
            if plan is not None:
                planned = self._planned(ex, plan)
                status, extra_headers = await self._pipeline(ex, plan[0], receive, send, planned)
                return
            self._screen(ex, size, dup_auth)
            if ex.segs and ex.segs[0] in _RESERVED:
                ex.endpoint = "/" + "/".join(ex.segs)
                status, reason = await self._builtin(ex, scope, receive, send)
                decision = "allow" if status < 400 else "deny"
                return
            status, extra_headers = await self._proxy(ex, scope, receive, send)
        except Deny as d:
            status, reason = d.status, d.code
            decision = "deny" if status < 500 else "error"
            await self._problem(
                send, ex, d.status, d.code, d.detail, d.headers + extra_headers, d.extra
            )
        except RingfenceError as e:
            status = e.status if e.status != 500 else 503
            reason, decision = e.code, ("deny" if status < 500 else "error")
            hdrs = [(b"www-authenticate", b'Bearer realm="ringfence"')] if status == 401 else []
            await self._problem(send, ex, status, e.code, e.message, hdrs, {})
        except Exception as exc:  # fail closed: anything unexpected is a 503, audited
            status, reason, decision = 503, "gateway_error", "error"
            _log.error(
                "gateway_unexpected_error", error_type=type(exc).__name__, request_id=ex.request_id
            )
            await self._problem(
                send,
                ex,
                503,
                "gateway_error",
                "the gateway could not decide; request refused",
                [],
                {},
            )
        finally:
            self._record(ex, status, decision, reason, started)

    # The "http" scope's handler, for a server that calls it directly (gateway/httpproto.py:
    # one coroutine fewer a request than ``__call__``, which only dispatches to it).
    asgi_http = _http

    def _request_headers(self, scope: Scope) -> tuple[dict[bytes, bytes], int, bool]:
        """The request's headers as a dict (repeats joined), their size, and whether a
        security-relevant one is repeated."""
        headers: dict[bytes, bytes] = {}
        size = 0
        dup_auth = False
        for k, v in scope["headers"]:
            size += len(k) + len(v)
            if k in headers:
                if k in (
                    b"authorization",
                    b"x-api-key",
                    b"content-length",
                    b"content-type",
                    b"host",
                    self.cert_policy.header,
                ):
                    dup_auth = True
                headers[k] = headers[k] + b", " + v
            else:
                headers[k] = v
        return headers, size, dup_auth

    def _screen(self, ex: Exchange, size: int, dup_auth: bool) -> None:
        """Header, query and path checks of every request; ``ex.segs`` set (Deny raised)."""
        if size > self.config.max_header_bytes:
            raise Deny(431, "headers_too_large", "request headers too large")
        if dup_auth:
            raise Deny(400, "duplicate_header", "a security-relevant header is repeated")
        if len(ex.query) > self.config.max_query_bytes:
            raise Deny(414, "query_too_long", "query string too long")
        if ex.query and not QUERY_OK.fullmatch(ex.query):
            raise Deny(400, "query_rejected", "query string has characters not allowed")
        try:
            ex.segs = canonical_path(ex.path.split("?", 1)[0])
        except PathRejected as exc:
            raise Deny(400, "path_rejected", str(exc)) from None

    # -- built-in endpoints ----------------------------------------------------------------------
    async def _builtin(
        self, ex: Exchange, scope: Scope, receive: Receive, send: Send
    ) -> tuple[int, str]:
        path = "/" + "/".join(ex.segs)
        if path == "/healthz" and ex.method == "GET":
            await send_body(send, 200, b"application/json", b'{"status":"ok"}', ex.request_id)
            return 200, "ok"
        if path == "/readyz" and ex.method == "GET":
            try:
                snap = self.holder.current()
            except UnavailableError as exc:
                raise Deny(503, exc.code, exc.message) from None
            if self.limiter is not None and not await self.limiter.ping():
                raise Deny(503, "ratelimit_unavailable", "rate-limit storage unreachable")
            ready: dict[str, Any] = {
                "status": "ready",
                "policy_version": snap.version,
                "routes": len(snap.routes),
            }
            out_of_service = snap.unavailable_routes
            if out_of_service:
                # the process serves the others: names only (the reasons are in the log)
                ready["unavailable_routes"] = sorted(out_of_service)
            body = orjson.dumps(ready)
            await send_body(send, 200, b"application/json", body, ex.request_id)
            return 200, "ok"
        if path == "/metrics" and ex.method == "GET":
            if not _address_in(ex.client_ip, self.metrics_allow):
                # the metrics name every integration and route with its traffic: an integration
                # calling the gateway (or anyone who reaches it) is not their audience
                raise Deny(404, "route_not_found", "no route for this path")
            await send_body(
                send,
                200,
                b"text/plain; version=0.0.4",
                generate_latest(self.metrics.registry),
                ex.request_id,
            )
            return 200, "ok"
        if path == "/.well-known/jwks.json" and ex.method == "GET":
            snap = self.holder.current()
            await send_body(
                send,
                200,
                b"application/json",
                snap.keys.jwks,
                ex.request_id,
                [(b"cache-control", b"public, max-age=60")],
            )
            return 200, "ok"
        if path in ("/oauth/token", "/oauth/introspect", "/oauth/revoke"):
            if ex.method != "POST":
                raise Deny(405, "method_not_allowed", "use POST", headers=[(b"allow", b"POST")])
            # Per-address limit: client authentication is the brute-force / CPU target here.
            decision = await self.limiter.hit(self._oauth_limit, "oauth", self._oauth_address(ex))
            if not decision.allowed:
                raise Deny(
                    429,
                    "rate_limited",
                    "too many token endpoint requests",
                    headers=limit_headers(decision, True),
                )
            return await self._oauth(path, ex, scope, receive, send)
        raise Deny(404, "not_found", "no such endpoint")

    def _oauth_address(self, ex: Exchange) -> str:
        """The address the /oauth/* limit counts: the peer's, or behind a trusted proxy the
        client address that proxy appended to X-Forwarded-For (its last entry; earlier ones
        are the client's to write). Without this every client behind the proxy shared one
        budget, and one guesser locked them all out of the token endpoint."""
        peer = ex.client_ip or "-"
        forwarded = ex.headers.get(b"x-forwarded-for")
        if forwarded is None or not self.cert_policy.trusts(ex.client_ip):
            return peer
        try:
            return str(ipaddress.ip_address(forwarded.rsplit(b",", 1)[-1].strip().decode()))
        except (UnicodeDecodeError, ValueError):
            return peer

    async def _oauth(
        self, path: str, ex: Exchange, scope: Scope, receive: Receive, send: Send
    ) -> tuple[int, str]:
        snap = self.holder.current()
        body = await read_body(receive, 16_384, ex.headers)
        now = self.clock.now().timestamp()
        try:
            thumb = client_certificate(scope, ex.headers, ex.client_ip, self.cert_policy)
            form = parse_form(body, ex.headers.get(b"content-type"))
            auth = ex.headers.get(b"authorization")
            # an assertion's jti is claimed in the store: off the event loop
            blocking = "client_assertion" in form and self.store is not None
            recorded: list[tuple[str, str, int]] = []
            call: Callable[[], Any]
            if path == "/oauth/token":
                call = functools.partial(self.tokens.token, snap, form, auth, thumb, now)
            elif path == "/oauth/introspect":
                call = functools.partial(
                    self.tokens.introspect, snap, form, auth, thumb, now, self.holder.local_revoked
                )
            else:
                call = functools.partial(
                    self.tokens.revoke,
                    snap,
                    form,
                    auth,
                    thumb,
                    now,
                    lambda j, c, e: recorded.append((j, c, e)),
                )
            out = await asyncio.to_thread(call) if blocking else call()
            if path != "/oauth/revoke":
                result = out
            else:
                for jti, cid, exp in recorded:
                    self.holder.local_revoked.add(jti)
                    if self.store is not None:
                        await asyncio.to_thread(
                            revoke_token, self.store, self.clock, jti=jti, client_id=cid, exp=exp
                        )
                result = {}
        except OAuthError as err:
            hdrs = [(b"cache-control", b"no-store")]
            if err.status == 401:
                hdrs.append((b"www-authenticate", b'Basic realm="ringfence"'))
            await send_body(
                send, err.status, b"application/json", orjson.dumps(err.body()), ex.request_id, hdrs
            )
            return err.status, err.error
        except Deny:
            raise
        await send_body(
            send,
            200,
            b"application/json",
            orjson.dumps(result),
            ex.request_id,
            [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")],
        )
        return 200, "ok"

    # -- the proxy pipeline ----------------------------------------------------------------------
    async def _proxy(
        self, ex: Exchange, scope: Scope, receive: Receive, send: Send
    ) -> tuple[int, list[tuple[bytes, bytes]]]:
        snap = self.holder.current()
        route = self._decide(ex, scope, snap, self.clock.now().timestamp())
        fast = self._fast
        if ex.auth == "jwt" and fast is not None and fast.snapshot is snap:
            bearer = ex.headers.get(b"authorization")
            if bearer is not None:
                fast.remember(bearer[7:].strip(), ex)
        authorize(ex)
        return await self._pipeline(ex, route, receive, send, None)

    def _decide(
        self, ex: Exchange, scope: Scope, snap: PolicySnapshot, now_ts: float
    ) -> CompiledRoute:
        """Route, operation and authentication of a proxied request (Deny / errors raised)."""
        ex.snapshot = snap
        if ex.method in ("TRACE", "CONNECT", "TRACK"):
            raise Deny(405, "method_not_allowed", f"{ex.method} is never allowed")
        found = snap.find_route(ex.segs)
        if found is None:
            raise Deny(404, "route_not_found", "no route for this path")
        route, rest = found
        ex.route, ex.rest = route, rest
        op, allowed = route.match(rest, ex.method)
        if op is None:
            if allowed:
                raise Deny(
                    405,
                    "method_not_allowed",
                    "method not allowed on this path",
                    headers=[(b"allow", ", ".join(sorted(set(allowed))).encode())],
                )
            raise Deny(404, "route_not_found", "no operation for this path")
        ex.op = op
        if op.params:
            ex.path_params = {
                name: rest[i]
                for i, name in zip(
                    [i for i, s in enumerate(op.segments) if s is None], op.params, strict=True
                )
            }
        ex.cert_thumbprint = client_certificate(scope, ex.headers, ex.client_ip, self.cert_policy)
        authenticate(ex, snap, now_ts, self.holder.local_revoked)
        return route

    def _plan(self, scope: Scope) -> Plan | None:
        """The native plan of this request (``gateway/fastpath.py``), or None: the Python
        path decides. Only on a fresh policy, with no token revoked by this process since
        it was loaded, and without TLS details (client certificates are the Python path's)."""
        snap = self.holder.fresh()
        if snap is None or self.holder.local_revoked or "extensions" in scope:
            return None
        fast = self._fast
        if fast is None or fast.snapshot is not snap:
            fast = self._fast = FastPath(
                snap,
                cert_header=self.cert_policy.header,
                max_header_bytes=self.config.max_header_bytes,
                max_query_bytes=self.config.max_query_bytes,
            )
        table = fast.table
        raw, query = scope.get("raw_path"), scope.get("query_string", b"")
        headers = scope["headers"]
        if table is None or type(raw) is not bytes or type(query) is not bytes:
            return None
        if type(headers) is not list:
            return None
        now = time.time() if self._system_clock else self.clock.now().timestamp()
        plan: Plan | None = table.plan(scope["method"], raw, query, headers, now)
        if plan is not None and self._fast_verify:
            if not self._plan_agrees(scope, plan, now):
                self.fast_mismatches += 1
                _log.error("gateway_fast_path_mismatch", route=plan[0].name)
                return None
            self.fast_verified += 1
        return plan

    def _plan_agrees(self, scope: Scope, plan: Plan, now: float) -> bool:
        """Verify mode: the Python path's own steps up to ``authorize`` on the same request
        accept it with the same route, operation, identity, headers and upstream head."""
        probe = "fast-path-verify"
        headers, size, dup_auth = self._request_headers(scope)
        ex = self._exchange(scope, headers, probe)
        try:
            self._screen(ex, size, dup_auth)
            if ex.segs and ex.segs[0] in _RESERVED:
                return False
            route = self._decide(ex, scope, self.holder.current(), now)
            authorize(ex)
            out = self._client_headers(ex)
            cred = route.credential
            if cred is not None:
                value = static_credential(cred)
                if value is None:
                    return False
                out = _with_credential(out, cred, value)
        except Exception:
            return False
        fast = self._exchange(scope, plan[3], probe)
        planned = self._planned(fast, plan)
        return (
            route is fast.route
            and ex.op is fast.op
            and ex.client is fast.client
            and ex.integration is fast.integration
            and ex.scopes == fast.scopes
            and ex.claims == fast.claims
            and ex.auth == fast.auth
            and ex.path_params == fast.path_params
            and list(ex.headers.items()) == list(fast.headers.items())
            and self._upstream_head(ex, route, out) == self._planned_head(fast, planned)
        )

    def _exchange(self, scope: Scope, headers: dict[bytes, bytes], request_id: str) -> Exchange:
        client = scope.get("client")
        # positional: the dataclass's 26-parameter __init__ binds keywords at ≈ 4k instructions
        # more a request (request_id, method, path, query, headers, client_ip)
        return Exchange(
            request_id,
            scope["method"],
            scope.get("raw_path", b"").decode("latin-1") or scope["path"],
            scope.get("query_string", b""),
            headers,
            client[0] if client else None,
        )

    def _planned(self, ex: Exchange, plan: Plan) -> tuple[bytes, bytes, bytes]:
        """The Python path's state after ``authorize``, from a native plan (``_plan``); the
        upstream head's parts."""
        route, op, grant, _headers, head_start, head_headers, rest = plan
        fast = self._fast
        assert fast is not None
        ex.snapshot = fast.snapshot
        ex.route, ex.op = route, op
        if rest is not None:
            ex.rest = rest
        if rest is not None and op.params:
            ex.path_params = {
                name: rest[i]
                for i, name in zip(
                    [i for i, s in enumerate(op.segments) if s is None], op.params, strict=True
                )
            }
        ex.client, ex.claims, ex.auth = grant.client, grant.claims, "jwt"
        ex.scopes, ex.integration = grant.scopes, grant.integration
        return head_start, head_headers, fast.extras[route.name].credential_line

    async def _pipeline(
        self,
        ex: Exchange,
        route: CompiledRoute,
        receive: Receive,
        send: Send,
        planned: tuple[bytes, bytes, bytes] | None,
    ) -> tuple[int, list[tuple[bytes, bytes]]]:
        """Rate limit, body checks, DLP, broker, forward: after ``authorize``. ``planned``:
        the upstream head's parts from the native plan (else the broker builds it)."""
        assert ex.op is not None
        # The rate-limit hit leaves now and Redis answers while the body is read and checked;
        # its verdict is awaited before anything is forwarded, and it takes precedence over a
        # refusal of the body (as when it was checked first): a request is never forwarded
        # unchecked, and every request that reached this point counts against the limit.
        # A large body waits for the verdict before it is validated and inspected, so a
        # client over its limit cannot make the gateway parse and scan megabytes for a 429.
        pending = begin_rate_limit(ex, self.limiter)
        decided = pending is None and ex.op.quota is None
        try:
            # under the gateway's own protocol the whole body is usually here already: taken
            # without ``receive``'s await, with ``read_body``'s checks
            cycle = getattr(send, "__self__", None)
            whole = cycle.whole_body() if type(cycle) is _Cycle else None
            if whole is not None:
                ex.body = checked_body(whole, route.limits.max_body_bytes, ex.headers)
            else:
                ex.body = await read_body(receive, route.limits.max_body_bytes, ex.headers)
            if not decided and len(ex.body) > OVERLAP_MAX_BODY:
                decided = True
                await self._limit_verdict(ex, pending)
            validate(ex)
            if route.dlp_request and ex.body:
                replaced = inspect_body(
                    ex.body,
                    ex.document,
                    self.inspector,
                    route.clearance,
                    route.dlp_action,
                    "request",
                    ex.dlp,
                    ex.headers.get(b"content-type", b"").decode("latin-1"),
                    ex.json_body,
                    ex.json_body,  # validate() accepted it as JSON: valid UTF-8
                )
                if replaced is not None:
                    ex.body = replaced
        except (Deny, RingfenceError) as refused:
            if not decided:
                decided = True
                await self._limit_verdict(ex, pending)  # 429 / 503 first
            if isinstance(refused, Deny) and ex.limit is not None:
                refused.headers.extend(limit_headers(ex.limit))
            raise
        except BaseException:
            if pending is not None and not decided:
                pending.discard()
            raise
        if not decided:
            if pending is not None and ex.op.quota is None:
                # ``_limit_verdict`` of the usual request (a route limit, no quota), inline
                try:
                    ex.limit = await pending.decision()
                    if not ex.limit.allowed:
                        raise over_limit(ex.limit)
                except (Deny, RingfenceError):
                    ex.dlp = {}
                    raise
            else:
                await self._limit_verdict(ex, pending)
        rl_headers = limit_headers(ex.limit) if ex.limit is not None else []
        try:
            if planned is None:
                head = self._upstream_head(ex, route, await self._broker(ex, route))
            else:
                head = self._planned_head(ex, planned)
            await self._forward(ex, route, head, send, rl_headers)
        except Deny as d:
            d.headers.extend(rl_headers)
            raise
        return 200, rl_headers

    async def _limit_verdict(self, ex: Exchange, pending: PendingHit | None) -> None:
        """The limiter's verdict (429 / 503 raised); a refused request's audit record does not
        describe an inspection of a body that was never forwarded."""
        try:
            await finish_rate_limit(ex, self.limiter, pending)
        except (Deny, RingfenceError):
            ex.dlp = {}
            raise

    async def _broker(self, ex: Exchange, route: CompiledRoute) -> list[tuple[bytes, bytes]]:
        out = self._client_headers(ex)
        cred = route.credential
        if cred is not None:
            value = static_credential(cred)
            if value is None:
                assert self._upstream_tokens is not None
                value = "Bearer " + await self._upstream_tokens.token(route)
            out = _with_credential(out, cred, value)
        return out

    def _client_headers(self, ex: Exchange) -> list[tuple[bytes, bytes]]:
        """The request's headers that go upstream, then the gateway's own (no credential)."""
        strip = STRIP_UPSTREAM
        conn = ex.headers.get(b"connection")
        named = (
            {n.strip().lower().encode() for n in conn.decode("latin-1").split(",")}
            if conn
            else set()
        )
        out = [
            (k, v)
            for k, v in ex.headers.items()
            if k not in strip and k not in named and k != self.cert_policy.header
        ]
        # one search over all values (``b"\r" in v`` per value costs CPython a TypeError each)
        if has_byte(b" ".join([v for _k, v in out]), _LINE_BREAK):
            raise Deny(400, "header_rejected", "a header value contains a line break")
        out.append((b"x-request-id", ex.request_id.encode()))
        out.append((b"accept-encoding", b"identity"))
        return out

    def _planned_head(self, ex: Exchange, planned: tuple[bytes, bytes, bytes]) -> bytes:
        """``_upstream_head`` of a planned request: the same bytes from the plan's parts."""
        return b"".join(
            [
                planned[0],
                b"content-length: %d\r\n" % len(ex.body)
                if ex.body or ex.method in BODY_METHODS
                else b"",
                planned[1],
                b"x-request-id: ",
                ex.request_id.encode(),
                b"\r\naccept-encoding: identity\r\n",
                planned[2],
                b"\r\n",
            ]
        )

    def _upstream_head(
        self, ex: Exchange, route: CompiledRoute, headers: list[tuple[bytes, bytes]]
    ) -> bytes:
        target = route.upstream_path + encode_segments(ex.rest)
        if ex.query:
            target += "?" + ex.query.decode("latin-1")
        return b"".join(
            [
                f"{ex.method} {target or '/'} HTTP/1.1\r\nhost: {route.upstream_host}\r\n".encode(),
                b"content-length: %d\r\n" % len(ex.body)
                if ex.body or ex.method in BODY_METHODS
                else b"",
                *[k + b": " + v + b"\r\n" for k, v in headers],
                b"\r\n",
            ]
        )

    async def _forward(
        self,
        ex: Exchange,
        route: CompiledRoute,
        head: bytes,
        send: Send,
        rl_headers: list[tuple[bytes, bytes]],
    ) -> None:
        assert ex.op is not None
        limits = route.limits
        try:
            response = await self._pool.request(
                route.upstream_scheme,
                route.upstream_hostname,
                route.upstream_port,
                head,
                ex.body,
                cap=limits.max_response_bytes,
                deadline_s=limits.timeout_seconds,
            )
        except TimeoutError:
            self.metrics.upstream_errors.labels(route.name, "timeout").inc()
            raise Deny(504, "upstream_timeout", "upstream did not answer in time") from None
        except UpstreamTooLarge:
            self.metrics.upstream_errors.labels(route.name, "too_large").inc()
            raise Deny(
                502, "upstream_too_large", "upstream response exceeds the size cap"
            ) from None
        except UpstreamError as exc:
            self.metrics.upstream_errors.labels(route.name, exc.kind).inc()
            raise Deny(502, "upstream_unreachable", "upstream could not be reached") from None
        if 300 <= response.status < 400:
            self.metrics.upstream_errors.labels(route.name, "redirect").inc()
            raise Deny(502, "upstream_redirect", "upstream answered with a redirect; refused")
        body = response.body
        # one pass over the upstream's headers: the first Content-Type and Content-Encoding
        # (as header_value finds them) and the ones that go downstream
        raw_ctype = raw_encoding = None
        out_headers: list[tuple[bytes, bytes]] = []
        for k, v in response.headers:
            name = k.lower()
            if name == b"content-type":
                if raw_ctype is None:
                    raw_ctype = v
            elif name == b"content-encoding" and raw_encoding is None:
                raw_encoding = v
            if name not in STRIP_DOWNSTREAM:
                out_headers.append((k, v))
        rtype = response_type_of(raw_ctype) if raw_ctype is not None else NO_TYPE
        ctype, media = rtype.ctype, rtype.media
        encoding = (
            raw_encoding.decode("latin-1").strip().lower() if raw_encoding is not None else ""
        )
        if (
            body
            and encoding not in ("", "identity")
            and (route.dlp_response or ex.op.response_validator is not None)
        ):
            # We asked for identity; an encoded body could not be inspected, so it is refused.
            self.metrics.upstream_errors.labels(route.name, "encoding").inc()
            raise Deny(502, "upstream_encoding", "upstream response is encoded; cannot inspect")
        validator = ex.op.response_validator
        if (
            body
            and not rtype.strict_json
            and validator is not None
            and 200 <= response.status < 300
        ):
            # The route declares a JSON response: a success in another type is not what it
            # promised (an error page of the upstream's passes, to the DLP rules below).
            raise Deny(502, "upstream_invalid", "upstream response is not JSON")
        # ``unreadable_text(body, ctype)``: the declared charset (read once per value), then NULs
        unreadable = (
            (rtype.charset_problem or ("NUL bytes" if body.find(b"\x00") >= 0 else None))
            if body and route.dlp_response
            else None
        )
        if unreadable is not None:
            self._uninspectable(ex, route, media, unreadable)
        elif body and "json" in media and (validator is not None or route.dlp_response):
            doc: Any = None
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                if ex.op.response_validator is not None:
                    raise Deny(502, "upstream_invalid", "upstream response is not JSON") from None
            if ex.op.response_validator is not None and not ex.op.response_validator.is_valid(doc):
                raise Deny(
                    502,
                    "upstream_schema_violation",
                    "upstream response does not match the route schema",
                )
            if route.dlp_response:
                replaced = inspect_body(
                    body, doc, self.inspector, route.clearance, route.dlp_action, "response", ex.dlp
                )
                if replaced is not None:
                    body = replaced
        elif body and route.dlp_response and textual(ctype):
            replaced = inspect_body(
                body,
                None,
                self.inspector,
                route.clearance,
                route.dlp_action,
                "response",
                ex.dlp,
                ctype,
            )
            if replaced is not None:
                body = replaced
        elif body and route.dlp_response:
            self._uninspectable(ex, route, media, "not a text type")
        out_headers.append((b"content-length", b"%d" % len(body)))
        out_headers.append((b"x-request-id", ex.request_id.encode()))
        out_headers.extend(rl_headers)
        ex.bytes_out = len(body)
        # Under the gateway's own HTTP protocol the answer leaves in one call (the same bytes
        # as the two ASGI messages); any other server, or an uncommon case, takes send().
        cycle = getattr(send, "__self__", None)
        if type(cycle) is not _Cycle or not cycle.respond(response.status, out_headers, body):
            await send(
                {"type": "http.response.start", "status": response.status, "headers": out_headers}
            )
            await send({"type": "http.response.body", "body": body})
        ex.upstream_status = response.status

    def _uninspectable(self, ex: Exchange, route: CompiledRoute, media: str, why: str) -> None:
        """A response DLP cannot read (a binary type, a charset other than UTF-8, NUL bytes):
        refused unless the route allows it; either way the audit record says so."""
        ex.dlp["response"] = {"inspected": False, "media_type": media[:100], "reason": why}
        if route.dlp_uninspectable != "allow":
            self.metrics.upstream_errors.labels(route.name, "uninspectable").inc()
            raise Deny(
                502,
                "upstream_uninspectable",
                f"upstream response ({media[:100] or 'no declared type'}: {why}) cannot be "
                "inspected by DLP, so it is refused (the route may allow it with "
                "dlp.uninspectable: allow)",
            )

    # -- responses and audit ---------------------------------------------------------------
    async def _problem(
        self,
        send: Send,
        ex: Exchange,
        status: int,
        code: str,
        detail: str,
        headers: list[tuple[bytes, bytes]],
        extra: dict[str, Any],
    ) -> None:
        body: dict[str, Any] = {
            "type": f"https://ringfence.dev/problems/{code}",
            "title": _TITLES.get(status, "Error"),
            "status": status,
            "detail": detail,
            "code": code,
            "request_id": ex.request_id,
        }
        body.update(extra)
        if status == 401 and not any(k == b"www-authenticate" for k, _ in headers):
            headers = [*headers, (b"www-authenticate", b'Bearer realm="ringfence"')]
        raw = orjson.dumps(body)
        ex.bytes_out = len(raw)
        await send_body(send, status, PROBLEM, raw, ex.request_id, headers)

    def _record(
        self, ex: Exchange, status: int, decision: str, reason: str, started: float
    ) -> None:
        if ex.upstream_status is not None:
            status = ex.upstream_status
        now = self.clock.now()
        if ex.api_key_id is not None and decision == "allow":
            self._key_use[ex.api_key_id] = now
        if decision == "allow" and ex.integration and ex.route and ex.op:
            self.usage.add(
                ex.integration.name,
                ex.op.scopes,
                f"{ex.route.name} {ex.method} {ex.op.template}",
                now,
            )
        elapsed = time.perf_counter() - started
        integ = ex.integration
        route = ex.route
        try:
            fields = (
                iso_utc(now) or now.astimezone(UTC).isoformat(),
                ex.request_id,
                ex.method,
                status,
                decision,
                reason,
                int(elapsed * 1e6 + 0.5) / 1000,  # round(ms, 3): ≈ 1k instructions
                ex.client_ip,
                (ex.headers.get(b"user-agent") or b"").decode("latin-1")[:200] or None,
                integ.name if integ else None,
                integ.id if integ else None,
                ex.client.client_id if ex.client else None,
                ex.auth,
                route.name if route else None,
                ex.op.template if ex.op else ex.endpoint,
                None if (ex.op or ex.endpoint) else ex.path.split("?", 1)[0][:200],
                route.upstream_host if route else None,
                len(ex.body),
                ex.bytes_out,
                ex.dlp,
            )
            # A JSONL sink's line written natively (the bytes orjson writes for the event,
            # without the event: ≈ 16k instructions less); anything unusual builds the event.
            line = _audit_line(*fields) if self._audit_lines else None
            if line is None or (self._fast_verify and not self._audit_line_agrees(line, fields)):
                self.audit.emit(AuditEvent(*fields))
            else:
                self.audit.emit_line(line)  # type: ignore[attr-defined]
        except Exception as exc:
            _log.error("audit_emit_failed", error_type=type(exc).__name__)
        self.metrics.requests.record(
            integ.name if integ else "-", route.name if route else "-", decision, elapsed
        )

    def _audit_line_agrees(self, line: bytes, fields: tuple[Any, ...]) -> bool:
        """Verify mode: the native audit line is the line the sink writes for the event."""
        expected = orjson.dumps(AuditEvent(*fields), option=orjson.OPT_APPEND_NEWLINE)
        if line == expected:
            return True
        self.fast_mismatches += 1
        _log.error("gateway_audit_line_mismatch")
        return False


def _with_credential(
    out: list[tuple[bytes, bytes]], cred: ResolvedCredential, value: str
) -> list[tuple[bytes, bytes]]:
    """The broker's last step: the brokered credential replaces any header of its name."""
    header = b"authorization" if cred.scheme != "header" else cred.header.lower().encode()
    out = [(k, v) for k, v in out if k != header]
    out.append((header, value.encode("latin-1")))
    return out


def build_gateway(
    store: Store,
    vault: Any,
    *,
    config: GatewayConfig | None = None,
    redis_url: str | None = None,
    clock: Clock | None = None,
    audit: AuditSink | None = None,
    inspector: Inspector | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    freeze_gc: bool = False,
) -> Gateway:
    """A gateway over a store + vault; Redis-backed limits when ``redis_url`` is given.

    ``freeze_gc``: the gateway owns the process (a server worker) and keeps its long-lived
    heap out of the garbage collector's generations (see ``Gateway._refreeze``).
    """
    from ringfence.gateway.audit import JsonlAuditSink

    config = config or GatewayConfig()
    url = redis_url or config.redis_url
    limiter = (
        RateLimiter.redis(url, config.redis_prefix, timeout=config.redis_timeout_seconds)
        if url
        else RateLimiter.memory()
    )
    if audit is None and config.audit_file is not None:
        audit = JsonlAuditSink(Path(config.audit_file))
    holder = PolicyHolder(store, vault, config)
    inspector = inspector or default_inspector(config.dlp_engine, store)
    return Gateway(
        holder=holder,
        config=config,
        store=store,
        limiter=limiter,
        audit=audit,
        inspector=inspector,
        clock=clock,
        transport=transport,
        freeze_gc=freeze_gc,
    )


def _address_in(ip: str | None, networks: tuple[Any, ...]) -> bool:
    """Whether the peer address ``ip`` is in one of ``networks`` (unparsable or none: no)."""
    if ip is None or not networks:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in networks)

"""The native fast path (``gateway/fastpath.py``, ``csrc/gateway/_fastpath.c``) may only
decline, never decide differently.

Three ways of looking for a difference:
- every request of the gateway suite (the OWASP modules included) runs in verify mode
  (``conftest.gw_config``): each plan is checked against the Python path's own steps, and a
  difference fails the test;
- generated requests (paths, queries, headers, tokens, methods; hostile and ordinary) are
  planned here in verify mode: the table must never plan one the Python path decides
  otherwise, and must not crash on any bytes;
- the same requests — OWASP-style attacks and ordinary calls — are sent end to end to a
  gateway with the fast path and one without, on the same estate: the same status, the same
  answer, the same headers forwarded upstream and the same audit record.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringfence.gateway import fastpath
from ringfence.gateway.app import Gateway, build_gateway
from ringfence.gateway.asgi import QUERY_OK
from ringfence.gateway.audit import MemoryAuditSink
from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.stages import STRIP_UPSTREAM
from ringfence.runtime import Runtime
from tests.gateway.conftest import Env, Template

needs_extension = pytest.mark.skipif(
    not fastpath.AVAILABLE, reason="the _fastpath extension is not built"
)


def test_the_extension_is_built_in_ci() -> None:
    """Optional for a user's build (every request then takes the Python path), required in CI."""
    if os.environ.get("RINGFENCE_REQUIRE_SERVICES") == "1":
        assert fastpath.AVAILABLE, "csrc/gateway/_fastpath.c was not built"


def scope_of(
    method: str,
    raw_path: bytes,
    headers: list[tuple[bytes, bytes]],
    query: bytes = b"",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        **extra,
    }


async def warm(env: Env) -> str:
    """A token the Python path has verified once (so the table keeps its grant)."""
    token = await env.token(env.a)
    r = await env.get("/crm/contacts", token)
    assert r.status_code == 200
    return token


# -- the table against the Python path's own steps ---------------------------------------------


@needs_extension
async def test_an_ordinary_request_is_planned_and_verified(env: Env) -> None:
    token = await warm(env)
    r = await env.get("/crm/contacts/c-1", token, headers={"user-agent": "sync/1"})
    assert r.status_code == 200
    assert env.gateway.fast_verified >= 1
    assert env.gateway.fast_mismatches == 0


@needs_extension
async def test_every_stripped_header_is_stripped_and_the_rest_forwarded(env: Env) -> None:
    token = await warm(env)
    auth = (b"authorization", b"Bearer " + token.encode())
    gw = env.gateway
    for name in sorted(STRIP_UPSTREAM | {b"x-custom", b"user-agent", b"x-upstream-key"}):
        if name in (b"authorization",):
            continue
        plan = gw._plan(scope_of("GET", b"/crm/contacts", [auth, (name, b"v1")]))
        if name == gw.cert_policy.header:
            assert plan is None
            continue
        assert plan is not None, name
        forwarded = plan[5]
        assert (name + b": v1\r\n" in forwarded) == (name not in STRIP_UPSTREAM), name
    assert gw.fast_mismatches == 0


@needs_extension
async def test_the_query_characters_are_the_python_paths(env: Env) -> None:
    token = await warm(env)
    auth = (b"authorization", b"Bearer " + token.encode())
    for byte in range(256):
        q = b"a" + bytes([byte])
        plan = env.gateway._plan(scope_of("GET", b"/crm/contacts", [auth], q))
        assert (plan is not None) == (QUERY_OK.fullmatch(q) is not None), byte
    assert env.gateway.fast_mismatches == 0


@needs_extension
async def test_what_the_table_declines(env: Env) -> None:
    token = await warm(env)
    auth = (b"authorization", b"Bearer " + token.encode())
    gw = env.gateway
    ok = scope_of("GET", b"/crm/contacts", [auth])
    assert gw._plan(ok) is not None
    declined = [
        scope_of("GET", b"/crm/contacts", []),  # no credentials
        scope_of("GET", b"/crm/contacts", [(b"authorization", b"Bearer nope")]),
        scope_of("GET", b"/crm/contacts", [auth, auth]),  # repeated
        scope_of("GET", b"/crm/%63ontacts", [auth]),  # percent-encoding: Python decides
        scope_of("GET", b"/crm/../crm/contacts", [auth]),
        scope_of("GET", b"/crm//contacts", [auth]),
        scope_of("GET", b"/crm/contacts\\", [auth]),
        scope_of("DELETE", b"/crm/contacts/c-1", [auth]),  # scope not granted
        scope_of("PUT", b"/crm/contacts", [auth]),  # 405
        scope_of("GET", b"/crm/v1/contacts", [auth]),  # deprecated
        scope_of("GET", b"/crm/tenants/t-a/invoices", [auth]),  # bound parameter
        scope_of("GET", b"/crm/contacts", [auth, (b"x-client-cert", b"abc")]),
        scope_of("GET", b"/crm/contacts", [auth, (b"Host", b"x")]),  # not ASGI-lower-case
        scope_of("GET", b"/crm/contacts", [auth, (b"x-a", b"a\r\nb: c")]),
        scope_of("GET", b"/crm/contacts", [auth, (b"connection", b"close, x-a\x0b")]),
        scope_of("GET", b"/healthz", [auth]),
        scope_of("TRACE", b"/crm/contacts", [auth]),
        scope_of("GET", b"/crm/contacts", [auth], b"a=" + b"x" * 5000),  # 414
        scope_of("GET", b"/crm/contacts", [auth], extensions={"tls": {}}),
        scope_of("GET", b"/crm/contacts", [auth, (b"x-big", b"x" * 20_000)]),  # 431
    ]
    for scope in declined:
        assert gw._plan(scope) is None, scope["raw_path"]
    env.rt.clock.advance(minutes=20)  # type: ignore[attr-defined]
    assert gw._plan(ok) is None  # expired: the Python path answers token_expired
    assert gw.fast_mismatches == 0


@needs_extension
async def test_a_token_revoked_here_turns_the_fast_path_off_until_the_next_snapshot(
    env: Env,
) -> None:
    token = await warm(env)
    auth = (b"authorization", b"Bearer " + token.encode())
    ok = scope_of("GET", b"/crm/contacts", [auth])
    assert env.gateway._plan(ok) is not None
    env.gateway.holder.local_revoked.add("some-other-jti")
    assert env.gateway._plan(ok) is None


@needs_extension
async def test_a_new_snapshot_starts_with_an_empty_table(env: Env) -> None:
    token = await warm(env)
    ok = scope_of("GET", b"/crm/contacts", [(b"authorization", b"Bearer " + token.encode())])
    assert env.gateway._plan(ok) is not None
    env.gateway.holder.reload(force=True)
    assert env.gateway._plan(ok) is None  # the Python path verifies the token again


_SEGMENTS = [
    "crm",
    "crm-r",
    "contacts",
    "c-1",
    "c~1",
    "tenants",
    "t-a",
    "invoices",
    "v1",
    "extra",
    "notes",
    "pii",
    "exports",
    "healthz",
    "oauth",
    ".",
    "..",
    "",
    "%2F",
    "%63",
    "a b",
    "x\\y",
    "é",
    "[x]",
    "{y}",
    "a'b",
    'q"',
    "<p>",
    "@:=",
    "\x00",
    "\x7f",
]
_PATHS = [
    "crm/contacts",
    "crm/contacts",
    "crm/contacts/c-1",
    "crm/contacts/x<y>{z}",
    "crm/pii",
    "crm/extra",
    "crm-r/pii",
    "crm/exports",
    "crm/tenants/t-a/invoices",
]
_HEADER_NAMES = sorted(
    {n.decode() for n in STRIP_UPSTREAM}
    | {"user-agent", "x-custom", "x-upstream-key", "content-type", "x-client-cert", "X-Up"}
)
_VALUES = ["v", "", "keep-alive", "close, x-custom", "X-Custom , te", "a\r\nb", "\x00", "é", " x "]


@st.composite
def requests(draw: st.DrawFn, tokens: list[str]) -> dict[str, Any]:
    """Mostly ordinary requests with one or two things changed, some wholly hostile."""
    hostile = draw(st.integers(0, 3)) == 0
    if hostile:
        segs = draw(st.lists(st.sampled_from(_SEGMENTS), min_size=0, max_size=5))
    else:
        segs = draw(st.sampled_from(_PATHS)).split("/")
        if draw(st.integers(0, 3)) == 0:
            segs[draw(st.integers(0, len(segs) - 1))] = draw(st.sampled_from(_SEGMENTS))
    tail = draw(st.sampled_from(["", "/", "//"])) if draw(st.integers(0, 5)) == 0 else ""
    path = "/" + "/".join(segs) + tail
    method = "GET"
    if hostile or draw(st.integers(0, 3)) == 0:
        method = draw(st.sampled_from(["POST", "DELETE", "PUT", "get", "TRACE", "HEAD", "GET"]))
    token = draw(st.sampled_from([*tokens, "forged.token.x", ""]))
    scheme = "Bearer "
    if draw(st.integers(0, 3)) == 0:
        scheme = draw(st.sampled_from(["bearer ", "BEARER  ", "Basic ", "", "Bearer\t"]))
    pad = draw(st.sampled_from(["", " ", "\t", "\x0b"])) if draw(st.integers(0, 3)) == 0 else ""
    auth = (scheme + token + pad).encode("latin-1")
    headers: list[tuple[bytes, bytes]] = []
    if draw(st.integers(0, 9)) > 0:
        headers.append((b"authorization", auth))
    extra = st.tuples(st.sampled_from(_HEADER_NAMES), st.sampled_from(_VALUES))
    if hostile:
        extra = st.tuples(
            st.sampled_from(_HEADER_NAMES) | st.text(min_size=1, max_size=6),
            st.sampled_from(_VALUES) | st.text(max_size=8),
        )
    for name, value in draw(st.lists(extra, max_size=5 if hostile else 2)):
        headers.insert(
            draw(st.integers(0, len(headers))),
            (name.encode("utf-8"), value.encode("utf-8")),
        )
    query = ""
    if hostile or draw(st.integers(0, 3)) == 0:
        query = draw(st.sampled_from(["a=1", "q=<x>&b=[1]", "a b", "é=1", "%ZZ"]) | st.text())
    return scope_of(method, path.encode("utf-8"), headers, query.encode("utf-8"))


@needs_extension
async def test_generated_requests_are_planned_only_as_the_python_path_decides(env: Env) -> None:
    tokens = [await warm(env), await env.token(env.b), await env.token(env.a, "crm.read")]
    for token in tokens[1:]:
        r = await env.get("/crm/contacts", token)
        assert r.status_code == 200
    planned = [0]

    @settings(
        max_examples=1000,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(requests(tokens))
    def check(scope: dict[str, Any]) -> None:
        env.gateway.holder.reload()  # fresh (the watcher's task cannot run in this loop)
        if env.gateway._plan(scope) is not None:
            planned[0] += 1
        assert env.gateway.fast_mismatches == 0

    check()
    assert planned[0] > 100  # the generator reaches the fast path, not only its refusals


@needs_extension
@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    method=st.text(max_size=8),
    path=st.binary(max_size=80),
    query=st.binary(max_size=40),
    headers=st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=40)), max_size=8),
)
def test_the_table_reads_any_bytes(
    method: str, path: bytes, query: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    table = _TABLE[0]
    for raw in (path, b"/r/a" + path):
        plan = table.plan(method, raw, query, headers, 0.0)
        assert plan is None or plan[0] == "route"
    hdrs = [*headers, (b"authorization", b"Bearer " + path)]
    assert table.plan(method, b"/r/a/x", query, hdrs, 0.0) is None or path.strip() == b"tok"


def _table() -> Any:
    if not fastpath.AVAILABLE:
        return None
    from ringfence.gateway._fastpath import Table

    table = Table(
        [
            (
                "route",
                (b"r",),
                b"/up",
                b"upstream.example",
                b"authorization",
                [
                    ("op-a", b"GET", (b"a", None), True),
                    ("op-b", b"POST", (b"a", b"x"), True),
                    ("op-c", b"GET", (), False),
                ],
            )
        ],
        b"x-client-cert",
        16384,
        4096,
        30,
        4,
    )
    assert table.remember(b"tok", 10**9, b"\x03", "grant")
    assert table.knows(b"tok") and not table.knows(b"tok2")
    return table


_TABLE = [_table()]


@needs_extension
def test_the_table_plans_and_encodes_like_the_broker() -> None:
    table = _TABLE[0]
    auth = (b"authorization", b"Bearer tok")
    plan = table.plan("GET", b"/r/a/x<y>", b"q=1", [auth, (b"x-a", b"1"), (b"te", b"x")], 0.0)
    assert plan is not None
    route, op, grant, headers, start, forwarded, rest = plan
    assert (route, op, grant, rest) == ("route", "op-a", "grant", ("a", "x<y>"))
    assert headers == {b"authorization": b"Bearer tok", b"x-a": b"1", b"te": b"x"}
    assert start == b"GET /up/a/x%3Cy%3E?q=1 HTTP/1.1\r\nhost: upstream.example\r\n"
    assert forwarded == b"x-a: 1\r\n"
    assert table.plan("POST", b"/r/a/x", b"", [auth], 0.0)[1] == "op-b"  # type: ignore[index]
    assert table.plan("GET", b"/r", b"", [auth], 0.0) is None  # not eligible
    assert table.plan("GET", b"/r/a/x", b"", [auth], 2e9) is None  # expired
    for i in range(3):
        assert table.remember(b"t%d" % i, 1, b"\x01", "g")
    assert not table.remember(b"t9", 1, b"\x01", "g")  # full: the Python path for new tokens
    assert table.grants() == 4
    with pytest.raises(ValueError):
        table.remember(b"t10", 1, b"\x01\x01", "g")


# -- end to end: with and without the fast path --------------------------------------------------


@dataclass
class Pair:
    rt: Runtime
    fast: Gateway
    slow: Gateway
    fast_http: httpx.AsyncClient
    slow_http: httpx.AsyncClient
    fast_audit: MemoryAuditSink
    slow_audit: MemoryAuditSink
    env: Env


@pytest.fixture
async def pair(
    gw_runtime: Runtime, template: Template, gw_config: GatewayConfig
) -> AsyncIterator[Pair]:
    audits = (MemoryAuditSink(), MemoryAuditSink())
    gateways = [
        build_gateway(
            gw_runtime.store,
            gw_runtime.vault,
            config=gw_config.model_copy(update={"fast_path": mode}),
            clock=gw_runtime.clock,
            audit=audit,
        )
        for mode, audit in zip(("verify", "off"), audits, strict=True)
    ]
    for g in gateways:
        await g.startup()
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=g, client=("127.0.0.1", 50000)),
            base_url="http://gateway.test",
        )
        for g in gateways
    ]
    env = Env(gw_runtime, gateways[0], clients[0], audits[0], template.a, template.b)
    yield Pair(gw_runtime, *gateways, *clients, *audits, env)
    for c in clients:
        await c.aclose()
    for g in gateways:
        await g.shutdown()


# Seconds until the limit window resets: each gateway of the pair counts in its own window, and
# the second request may be sent a second tick after the first (seen in CI: 60 against 59).
_RESET_HEADERS = ("ratelimit-reset", "retry-after")


def _resets(r: httpx.Response) -> list[int]:
    return [int(r.headers[h]) for h in _RESET_HEADERS if h in r.headers]


def _answer(r: httpx.Response) -> tuple[int, list[tuple[str, str]], Any]:
    headers = sorted(
        (k, v if k not in _RESET_HEADERS else "-")
        for k, v in r.headers.items()
        if k not in ("x-request-id", "date")
    )
    try:
        body: Any = r.json()
    except ValueError:
        return r.status_code, headers, r.content
    if isinstance(body, dict):
        body.pop("request_id", None)
        echoed = body.get("headers")
        if isinstance(echoed, dict):
            echoed.pop("x-request-id", None)
    return r.status_code, headers, body


def _record(audit: MemoryAuditSink) -> dict[str, Any]:
    event = orjson.loads(orjson.dumps(audit.events[-1]))
    for volatile in ("time", "request_id", "latency_ms"):
        event.pop(volatile)
    return dict(event)


async def same(pair: Pair, method: str, path: str, **kw: Any) -> int:
    a = await pair.fast_http.request(method, path, **kw)
    b = await pair.slow_http.request(method, path, **kw)
    assert _answer(a) == _answer(b), (method, path, kw)
    # b was sent after a: its window may be one second further on, never behind
    assert all(0 <= x - y <= 1 for x, y in zip(_resets(a), _resets(b), strict=True)), (
        _resets(a),
        _resets(b),
    )
    assert _record(pair.fast_audit) == _record(pair.slow_audit), (method, path, kw)
    return a.status_code


@needs_extension
async def test_the_same_answers_forwarded_headers_and_audit_records(pair: Pair) -> None:
    a = await pair.env.token(pair.env.a)
    b = await pair.env.token(pair.env.b)
    ro = await pair.env.token(pair.env.a, "crm.read")
    for token in (a, b, ro):  # the fast side learns each token on its first request
        await same(pair, "GET", "/crm/contacts", headers={"authorization": f"Bearer {token}"})
    spoof = {
        "x-forwarded-for": "10.0.0.1",
        "x-forwarded-host": "evil.example",
        "forwarded": "for=1.2.3.4",
        "x-real-ip": "1.2.3.4",
        "x-original-url": "/admin",
        "x-http-method-override": "DELETE",
        "x-request-id": "mine",
        "cookie": "s=1",
        "x-api-key": "rf_gw_x",
        "proxy-authorization": "Basic eA==",
        "te": "trailers",
        "upgrade": "h2c",
        "x-upstream-key": "client-chosen",
        "user-agent": "integration/2.0",
        "x-custom": "kept",
    }
    cases: list[tuple[str, str, dict[str, Any]]] = []
    for token in (a, b, ro, "forged"):
        h = {"authorization": f"Bearer {token}"}
        cases += [
            ("GET", "/crm/contacts", {"headers": h}),
            ("GET", "/crm/contacts/c-9", {"headers": h}),
            ("GET", "/crm/contacts/", {"headers": h}),
            ("GET", "/crm/contacts?limit=5&q=a%20b", {"headers": h}),
            ("GET", "/crm/contacts", {"headers": {**h, **spoof}}),
            ("GET", "/crm/contacts", {"headers": {**h, "connection": "x-custom"}}),
            ("GET", "/crm/contacts", {"headers": {**h, "x-custom": "kept"}}),
            ("POST", "/crm/contacts", {"headers": h, "json": {"name": "Ann"}}),
            ("POST", "/crm/contacts", {"headers": h, "json": {"name": "Ann", "role": "x"}}),
            ("POST", "/crm/contacts", {"headers": h, "content": b"{", "timeout": 5}),
            ("DELETE", "/crm/contacts/c-1", {"headers": h}),
            ("GET", "/crm/tenants/t-a/invoices", {"headers": h}),
            ("GET", "/crm/tenants/t-b/invoices", {"headers": h}),
            ("GET", "/crm/v1/contacts", {"headers": h}),
            ("PATCH", "/crm/contacts", {"headers": h}),
            ("GET", "/crm/nothing", {"headers": h}),
            ("GET", "/crm/pii", {"headers": h}),
            ("GET", "/crm/extra", {"headers": h}),
            ("GET", "/crm/redirect", {"headers": h}),
            ("GET", "/crm-r/pii", {"headers": {**h, "x-upstream-key": "client-chosen"}}),
            ("POST", "/crm-r/notes", {"headers": h, "json": {"note": "ann@corp.example"}}),
            ("GET", "/crm/contacts", {"headers": {**h, "x-client-cert": "abc"}}),
            ("GET", "/nowhere", {"headers": h}),
        ]
    statuses = {await same(pair, m, p, **kw) for m, p, kw in cases}
    assert {200, 400, 401, 403, 404, 405, 410} <= statuses
    assert pair.fast.fast_mismatches == 0
    assert pair.fast.fast_verified >= 30  # the fast side planned the ordinary ones
    assert pair.fast._fast is not None and pair.fast._fast.grants() == 3


# -- the response head (gateway/httpproto.py) ---------------------------------------------------


class _Transport:
    def __init__(self) -> None:
        self.out = b""

    def write(self, data: bytes) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


class _Proto:
    default_headers = [(b"server", b"uvicorn"), (b"date", b"Fri, 27 Nov 2026 10:00:00 GMT")]
    write_paused = None
    reading_paused = False

    def __init__(self) -> None:
        self.transport = _Transport()

    def on_response_complete(self) -> None:
        pass


async def _respond(status: int, headers: Any, body: bytes, keep_alive: bool) -> tuple[str, Any]:
    from ringfence.gateway.httpproto import _Cycle

    proto = _Proto()
    cycle = _Cycle(proto, {"method": "GET"}, keep_alive, False)  # type: ignore[arg-type]
    try:
        await cycle.send({"type": "http.response.start", "status": status, "headers": headers})
        await cycle.send({"type": "http.response.body", "body": body})
    except (RuntimeError, ValueError) as exc:
        return "raised", (type(exc).__name__, str(exc), proto.transport.out)
    return "sent", (proto.transport.out, cycle.keep_alive, cycle.response_complete)


_NAMES = [b"content-type", b"Content-Length", b"content-length", b"connection", b"x-a", b"X-B"]
_HVALUES = [b"application/json", b"5", b"05", b" 5", b"+5", b"1_0", b"close", b"a\tb", b"a\nb"]


@needs_extension
@settings(max_examples=500, deadline=None, derandomize=True)
@given(
    status=st.sampled_from([200, 201, 204, 404, 502]),
    headers=st.lists(
        st.tuples(
            st.sampled_from(_NAMES) | st.binary(max_size=6),
            st.sampled_from(_HVALUES) | st.binary(max_size=6),
        ),
        max_size=5,
    ),
    as_lists=st.booleans(),
    keep_alive=st.booleans(),
)
def test_the_native_response_head_is_the_python_one(
    status: int, headers: list[tuple[bytes, bytes]], as_lists: bool, keep_alive: bool
) -> None:
    import asyncio

    from ringfence.gateway import httpproto

    hdrs: Any = [list(h) for h in headers] if as_lists else headers
    if len(headers) % 2:
        hdrs = [*hdrs, (b"content-length", b"5")]
    native = asyncio.run(_respond(status, hdrs, b"hello", keep_alive))
    saved = httpproto._response_head
    httpproto._response_head = None
    try:
        python = asyncio.run(_respond(status, hdrs, b"hello", keep_alive))
    finally:
        httpproto._response_head = saved
    assert native == python


@needs_extension
def test_a_plain_response_head_is_built_natively() -> None:
    from ringfence.gateway._fastpath import response_head

    hdrs = [(b"Content-Type", b"application/json"), (b"content-length", b"27")]
    built = response_head(b"HTTP/1.1 200 OK\r\n", [(b"server", b"x")], hdrs)
    assert built == (
        b"HTTP/1.1 200 OK\r\nserver: x\r\ncontent-type: application/json\r\n"
        b"content-length: 27\r\n\r\n",
        27,
    )
    for odd in ([(b"connection", b"close")], [(b"content-length", b"1_0")], [(b"a b", b"1")]):
        assert response_head(b"HTTP/1.1 200 OK\r\n", [], [*hdrs[:1], *odd]) is None


@needs_extension
@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.datetimes(timezones=st.just(UTC)) | st.datetimes(timezones=st.timezones()) | st.datetimes()
)
def test_the_audit_time_is_isoformat(dt: datetime) -> None:
    got = fastpath.iso_utc(dt)
    if dt.tzinfo is UTC:
        assert got == dt.isoformat()
        assert got == dt.astimezone(UTC).isoformat()
    else:
        assert got is None  # formatted by Python

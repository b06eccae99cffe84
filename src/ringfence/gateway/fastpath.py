"""The native fast path of the common request: a faster way to the Python path's own decisions.

For each policy snapshot a ``FastPath`` compiles the routes into a ``_fastpath.Table``
(``csrc/gateway/_fastpath.c``). Per request, ``plan`` hands the request's head to the table,
which answers either a plan — the route, the operation, the token's grant, the header dict and
the client-derived parts of the upstream head — or None. A plan exists only for a request on
which every check the Python path makes before the rate limit passes (header caps, query,
path, route, operation, token, authorisation); the rest of the pipeline (rate limit, body
checks, DLP, forwarding, audit) is the Python path's own code, run on the same ``Exchange``.
None — a refusal, anything unusual, the extension missing — means the Python path decides
from the start. The fast path may only ever decline, never decide differently
(``tests/gateway/test_fastpath.py`` runs requests through both and compares).

A token enters the table only after the Python path has verified and authorised it on this
snapshot, with the set of operations the Python ``authorize`` allows it (evaluated here, once,
by that same function): a bound-parameter or deprecated operation, a certificate-bound token,
an OAuth-brokered upstream credential are never planned. A new snapshot — revocations, client
or route changes — gets a new, empty table; tokens revoked by this process since the last
snapshot turn the fast path off until the next one. Nothing here logs a token or a secret.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ringfence.core.ids import new_id
from ringfence.gateway.policy import (
    ClientInfo,
    CompiledOperation,
    CompiledRoute,
    IntegrationInfo,
    PolicySnapshot,
    ResolvedCredential,
)
from ringfence.gateway.stages import Deny, Exchange, authorize

_Table: Any
_iso_utc: Any
_request_id: Any
audit_line_native: Any  # the audit event's JSON line (gateway/app.py _record), or None
try:
    from ringfence.gateway._fastpath import Table as _Table
    from ringfence.gateway._fastpath import audit_line as audit_line_native
    from ringfence.gateway._fastpath import iso_utc as _iso_utc
    from ringfence.gateway._fastpath import request_id as _request_id
except ImportError:  # optional extension: every request takes the Python path
    _Table = None
    _iso_utc = None
    _request_id = None
    audit_line_native = None


def _no_iso(now: datetime) -> str | None:
    return None


# ``now.isoformat()`` for a datetime in UTC, natively; None: the caller formats it
iso_utc: Callable[[datetime], str | None] = _iso_utc if _iso_utc is not None else _no_iso


def request_id() -> str:
    """A request's id: ``ringfence.core.ids.new_id``'s UUIDv7, made natively when it can be."""
    made = _request_id() if _request_id is not None else None
    return made if made is not None else new_id()


AVAILABLE = _Table is not None
MAX_GRANTS = 50_000  # as TokenVerifier.cache_size: past it, new tokens take the Python path
# Credentials the broker adds itself: a route whose credential header is one of these is
# never planned (the broker's order of appends and removals would matter).
_OWN_HEADERS = frozenset({"x-request-id", "accept-encoding", "content-length", "host"})


# (route, operation, grant, the request's header dict, upstream head start, forwarded client
# header lines, the path's segments after the prefix when the operation has parameters)
Plan = tuple[
    CompiledRoute,
    CompiledOperation,
    "Grant",
    dict[bytes, bytes],
    bytes,
    bytes,
    tuple[str, ...] | None,
]


@dataclass(frozen=True, slots=True)
class Grant:
    """What the Python path's ``authenticate`` established for a verified bearer token."""

    client: ClientInfo
    integration: IntegrationInfo | None
    claims: dict[str, Any]
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class RouteExtras:
    """Per route, what the fast path appends to the upstream head: the brokered credential's
    header line (built as the broker builds it; it holds the secret, never logged)."""

    credential_line: bytes


class FastPath:
    """One snapshot's table (``table`` is None when the extension is missing)."""

    def __init__(
        self,
        snap: PolicySnapshot,
        *,
        cert_header: bytes,
        max_header_bytes: int,
        max_query_bytes: int,
        max_grants: int = MAX_GRANTS,
    ) -> None:
        self.version = snap.version
        self.snapshot = snap
        self.extras: dict[str, RouteExtras] = {}
        self._ops: list[tuple[CompiledRoute, CompiledOperation]] = []
        self.table: Any = None
        if _Table is None or snap.unavailable_routes:
            # a route out of service must answer 503 and never let a shorter prefix match in
            # its place: the Python path (PolicySnapshot.find_route) decides while one is
            return
        routes: list[tuple[Any, ...]] = []
        for route in snap.routes.values():
            line = _credential_line(route)
            eligible_route = line is not None
            if line is not None:
                self.extras[route.name] = RouteExtras(line)
            ops = []
            for op in route.operations:
                ops.append(
                    (
                        op,
                        op.method.encode(),
                        tuple(None if s is None else s.encode() for s in op.segments),
                        eligible_route and not op.bind and not op.deprecated,
                    )
                )
                self._ops.append((route, op))
            routes.append(
                (
                    route,
                    tuple(s.encode() for s in route.prefix),
                    route.upstream_path.encode(),
                    route.upstream_host.encode(),
                    _credential_header(route),
                    ops,
                )
            )
        self.table = _Table(
            routes,
            cert_header,
            max_header_bytes,
            max_query_bytes,
            snap.verifier.leeway,
            max_grants,
        )

    def remember(self, token: bytes, ex: Exchange) -> None:
        """After the Python path authenticated ``ex`` with the bearer ``token``: keep its
        grant, with the operations the Python ``authorize`` allows it."""
        table = self.table
        client, claims = ex.client, ex.claims
        if table is None or client is None or ex.snapshot is not self.snapshot:
            return
        if table.knows(token):
            return
        exp = claims.get("exp")
        if "cnf" in claims or type(exp) is not int or not (-(2**62) < exp < 2**62):
            return  # certificate-bound tokens are checked by the Python path each time
        bits = bytearray((len(self._ops) + 7) // 8)
        for i, (route, op) in enumerate(self._ops):
            probe = Exchange(
                request_id="",
                method=op.method,
                path="",
                query=b"",
                headers={},
                client_ip=None,
                route=route,
                op=op,
                integration=ex.integration,
                scopes=ex.scopes,
                claims=claims,
            )
            try:
                authorize(probe)
            except Deny:
                continue
            bits[i >> 3] |= 1 << (i & 7)
        table.remember(token, exp, bytes(bits), Grant(client, ex.integration, claims, ex.scopes))

    def grants(self) -> int:
        return int(self.table.grants()) if self.table is not None else 0


def _credential_header(route: CompiledRoute) -> bytes | None:
    cred = route.credential
    if cred is None:
        return None
    return b"authorization" if cred.scheme != "header" else cred.header.lower().encode()


def static_credential(cred: ResolvedCredential) -> str | None:
    """The brokered credential's header value, or None when it must be fetched (OAuth)."""
    if cred.scheme == "bearer":
        return "Bearer " + cred.secret.get_secret_value()
    if cred.scheme == "basic":
        return "Basic " + base64.b64encode(cred.secret.get_secret_value().encode()).decode()
    if cred.scheme == "header":
        return cred.secret.get_secret_value()
    return None


def _credential_line(route: CompiledRoute) -> bytes | None:
    """The broker's credential header line for ``route`` (b"" without one); None: the route
    is never planned (an OAuth-brokered credential, or one the broker could not encode)."""
    cred = route.credential
    if cred is None:
        return b""
    value = static_credential(cred)
    header = _credential_header(route)
    if value is None or header is None or header.decode("latin-1") in _OWN_HEADERS:
        return None
    try:
        encoded = value.encode("latin-1")
    except UnicodeEncodeError:
        return None
    if any(c in encoded for c in b"\r\n\x00"):
        return None
    return header + b": " + encoded + b"\r\n"

"""The compiled policy snapshot the gateway's hot path works from, and its atomic reload.

``build_snapshot`` reads the store once (integrations and their status, apps' clearance,
credential references, routes, clients, API key hashes, signing keys, revoked token ids),
resolves upstream credentials from the vault into ``SecretStr`` and compiles routes into
matchers and JSON Schema validators. ``PolicyHolder`` keeps the current snapshot; a reload
builds a new one off the event loop and swaps a single reference, so in-flight requests finish
on the snapshot they started with. ``PolicyWatcher`` polls a cheap fingerprint every ≤250 ms and
rebuilds on change; if the store cannot answer, the snapshot goes stale and the gateway fails
closed after ``max_staleness_seconds``. Nothing here logs a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from limits import RateLimitItem, parse
from pydantic import SecretStr
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select

from ringfence.core.errors import NotFoundError, UnavailableError
from ringfence.core.levels import DataClass
from ringfence.core.logging import get_logger
from ringfence.core.secretrefs import names_own_env
from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.models import (
    GatewayApiKey,
    GatewayClient,
    GatewayRevokedToken,
    GatewayRoute,
    GatewaySigningKey,
)
from ringfence.gateway.paths import template_params, template_segments
from ringfence.gateway.routes import CredentialSpec, LimitsSpec, RouteSpec
from ringfence.gateway.schema import RouteValidator
from ringfence.gateway.tokens import SigningKeys, TokenVerifier, load_signing_keys
from ringfence.store.db import Store
from ringfence.store.models import App, Credential, Integration, IntegrationStatus, VaultSecret
from ringfence.store.vault import Vault, is_reserved

_log = get_logger("ringfence.gateway.policy")
# A policy that keeps failing to compile in the same state is tried again this often (s) —
# a transient read error heals without a change to the store — and logged again this often.
_FAILED_RETRY = 5.0
_FAILED_LOG_EVERY = 60.0


class SnapshotError(Exception):
    """The policy cannot be compiled; the gateway must fail closed."""


@dataclass(frozen=True, slots=True)
class CompiledOperation:
    method: str
    template: str
    segments: tuple[str | None, ...]
    params: tuple[str, ...]
    scopes: frozenset[str]
    request_validator: Any | None
    response_validator: Any | None
    bind: tuple[tuple[str, str], ...]
    deprecated: bool
    quota: RateLimitItem | None


@dataclass(frozen=True)
class ResolvedCredential:
    scheme: str
    header: str
    secret: SecretStr
    token_url: str | None = None
    client_id: str | None = None
    scope: str | None = None

    def __repr__(self) -> str:
        return f"ResolvedCredential(scheme={self.scheme}, header={self.header})"


@dataclass(frozen=True)
class CompiledRoute:
    name: str
    prefix: tuple[str, ...]
    upstream_base: str
    upstream_host: str
    upstream_path: str
    upstream_scheme: str
    upstream_hostname: str
    upstream_port: int
    allow_loopback: bool
    integration_ids: frozenset[str]
    operations: tuple[CompiledOperation, ...]
    rate_limit: RateLimitItem | None
    clearance: DataClass
    dlp_action: str
    dlp_request: bool
    dlp_response: bool
    credential: ResolvedCredential | None
    content_types: frozenset[str]
    limits: LimitsSpec
    dlp_uninspectable: str = "block"  # a response DLP cannot read, on a DLP route: block | allow
    # Why the route cannot forward (its upstream credential could not be resolved): every
    # request to it is 503, the other routes serve. None: the route is usable.
    unavailable: str | None = None

    def match(
        self, rest: tuple[str, ...], method: str
    ) -> tuple[CompiledOperation | None, list[str]]:
        """The operation for ``rest`` and ``method``; else (None, allowed methods)."""
        allowed: list[str] = []
        n = len(rest)
        for op in self.operations:
            segs = op.segments
            if len(segs) != n:
                continue
            for i in range(n):
                t = segs[i]
                if t is not None and t != rest[i]:
                    break
            else:
                if op.method == method:
                    return op, allowed
                allowed.append(op.method)
        return None, allowed


@dataclass(frozen=True, slots=True)
class IntegrationInfo:
    id: str
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class ClientInfo:
    pk: str
    client_id: str
    name: str
    integration_id: str
    auth_method: str
    secret_hash: str | None
    jwks: dict[str, Any] | None
    cert_thumbprint: str | None
    scopes: frozenset[str]
    claims: dict[str, Any]
    revoked: bool


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: str
    prefix: str
    hash: str
    client_id: str
    scopes: frozenset[str]
    expires_ts: float | None
    revoked: bool


@dataclass
class PolicySnapshot:
    version: int
    digest: str
    routes: dict[tuple[str, ...], CompiledRoute]
    max_prefix: int
    integrations: dict[str, IntegrationInfo]
    clients: dict[str, ClientInfo]
    api_keys: dict[str, ApiKeyInfo]
    keys: SigningKeys
    verifier: TokenVerifier
    revoked_jtis: frozenset[str]
    built_at: float = field(default_factory=time.monotonic)

    def find_route(self, segs: tuple[str, ...]) -> tuple[CompiledRoute, tuple[str, ...]] | None:
        for n in range(min(len(segs), self.max_prefix), 0, -1):
            route = self.routes.get(segs[:n])
            if route is not None:
                if route.unavailable is not None:
                    # fail closed for this route only; never fall back to a shorter prefix
                    raise UnavailableError(
                        f"route {route.name} is unavailable (its upstream credential cannot "
                        "be resolved)",
                        code="route_unavailable",
                    )
                return route, segs[n:]
        return None

    @property
    def unavailable_routes(self) -> dict[str, str]:
        """Route name → why it cannot forward (empty when every route is usable)."""
        return {r.name: r.unavailable for r in self.routes.values() if r.unavailable}


# -- loading ---------------------------------------------------------------------------------


@dataclass
class PolicySource:
    """Everything the compiler needs, read in one store session (plain detached rows)."""

    integrations: list[Integration]
    apps: list[App]
    credentials: list[Credential]
    routes: list[GatewayRoute]
    clients: list[GatewayClient]
    api_keys: list[GatewayApiKey]
    signing_keys: list[GatewaySigningKey]
    revoked: list[GatewayRevokedToken]


def load_source(store: Store) -> PolicySource:
    with store.session() as s:
        return PolicySource(
            integrations=list(s.scalars(select(Integration))),
            apps=list(s.scalars(select(App))),
            credentials=list(s.scalars(select(Credential))),
            routes=list(s.scalars(select(GatewayRoute).order_by(GatewayRoute.name))),
            clients=list(s.scalars(select(GatewayClient))),
            api_keys=list(s.scalars(select(GatewayApiKey))),
            signing_keys=list(s.scalars(select(GatewaySigningKey))),
            revoked=list(s.scalars(select(GatewayRevokedToken))),
        )


def _fingerprint_sql() -> tuple[str, str]:
    """The fingerprint's two statements, built once from the models' table names.

    Plain SQL run on the driver (no ORM, no statement compilation): the poll runs 4-5 times a
    second in every gateway process and holds the GIL for all of its Python work, which stalls
    the event loop. One round of scalar subqueries plus the integration statuses keeps that
    Python work to a few tens of microseconds (the ORM version took ~1 ms warm).
    """
    aggregates: list[str] = []
    # Latest change times alone miss a change stamped earlier than another row's (clock skew,
    # a fixed clock): revocations are also counted, and vault secrets (the upstream credentials
    # the snapshot injects; a rotation replaces one) by the sum of their versions, which every
    # write raises.
    for model, exprs in (
        (App, ("max(updated_at)",)),
        (Credential, ("max(updated_at)",)),
        (GatewayRoute, ("max(updated_at)",)),
        (GatewayClient, ("max(updated_at)", "count(revoked_at)")),
        (GatewayApiKey, ("max(updated_at)", "count(revoked_at)")),
        (GatewaySigningKey, ("max(updated_at)", "max(superseded_at)")),
        (GatewayRevokedToken, ("max(revoked_at)",)),
        (VaultSecret, ("max(updated_at)", "sum(version)")),
    ):
        table = model.__table__.name  # type: ignore[attr-defined]
        aggregates.append(f"(SELECT count(*) FROM {table})")
        aggregates.extend(f"(SELECT {e} FROM {table})" for e in exprs)
    integrations = Integration.__table__.name  # type: ignore[attr-defined]
    return (
        "SELECT " + ", ".join(aggregates),
        f"SELECT id, name, status, scopes FROM {integrations} ORDER BY id",
    )


_FINGERPRINT_AGGREGATES, _FINGERPRINT_INTEGRATIONS = _fingerprint_sql()


def fingerprint(store: Store) -> str:
    """A cheap digest that changes whenever anything the snapshot depends on changes.

    Row counts and latest change times of apps, credentials, routes, clients, API keys,
    signing keys (incl. supersession), revoked tokens and vault secrets, revocation counts,
    the vault's version sum, plus every integration's (id, name, status, scopes): status
    decides quarantine, and is hashed row by row so a change is seen even when a writer does
    not touch ``updated_at``; declared scopes are the ceiling on what their
    clients may use (an access review's "reduce" must narrow the gateway within the second).
    """
    # The driver's own cursor: SQLAlchemy's result set-up was most of the remaining cost.
    conn = store.engine.raw_connection()
    try:
        cur = conn.cursor()
        try:
            cur.execute(_FINGERPRINT_AGGREGATES)
            counts = tuple(cur.fetchone() or ())
            cur.execute(_FINGERPRINT_INTEGRATIONS)
            statuses = [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()
    finally:
        conn.close()  # back to the pool, which rolls the read transaction back
    return hashlib.sha256(repr((counts, statuses)).encode()).hexdigest()


def _resolve_ref(ref: str, vault: Vault, credentials: dict[str, Credential], depth: int = 0) -> str:
    if ref.startswith("${env:") and ref.endswith("}"):
        ref = "env:" + ref[6:-1]
    kind, _, name = ref.partition(":")
    if kind == "vault":
        if is_reserved(name):  # refused at apply; never inject Ringfence's own keys upstream
            raise SnapshotError(f"credential reference {ref} names a reserved vault entry")
        return vault.get(name).get_secret_value()
    if kind == "env":
        if names_own_env(name):  # refused at apply; stored before that was: never inject it
            raise SnapshotError(f"credential reference {ref} names Ringfence's own configuration")
        value = os.environ.get(name)
        if value is None:
            raise SnapshotError(f"environment variable {name} (credential reference) is not set")
        return value
    if kind == "credential" and depth == 0:
        cred = credentials.get(name)
        if cred is None:
            raise SnapshotError(f"credential {name!r} does not exist")
        return _resolve_ref(cred.ref, vault, credentials, depth + 1)
    raise SnapshotError(f"unsupported credential reference kind {kind!r}")


def _compile_operation(route: RouteSpec, op: Any) -> CompiledOperation:
    req = RouteValidator(op.request_schema) if op.request_schema else None
    resp = RouteValidator(op.response_schema) if op.response_schema else None
    return CompiledOperation(
        method=op.method,
        template=route.prefix + ("" if op.path == "/" else op.path),
        segments=template_segments(op.path),
        params=template_params(op.path),
        scopes=frozenset(op.scopes),
        request_validator=req,
        response_validator=resp,
        bind=tuple(op.bind.items()),
        deprecated=op.deprecated,
        quota=parse(op.quota) if op.quota else None,
    )


def compile_route(
    spec: RouteSpec,
    *,
    integration_ids: dict[str, str],
    app_clearance: dict[str, int],
    credential: ResolvedCredential | None,
) -> CompiledRoute:
    """Compile one validated RouteSpec; unknown integration or app names are errors."""
    missing = [n for n in spec.integrations if n not in integration_ids]
    if missing:
        raise SnapshotError(f"route {spec.name}: unknown integrations {missing}")
    if spec.app not in app_clearance:
        raise SnapshotError(f"route {spec.name}: unknown app {spec.app!r}")
    clearance = spec.dlp.clearance
    if clearance is None:
        clearance = DataClass.parse(app_clearance[spec.app])
    parts = urlsplit(spec.upstream)
    return CompiledRoute(
        name=spec.name,
        prefix=tuple(spec.prefix[1:].split("/")),
        upstream_base=spec.upstream.rstrip("/"),
        upstream_host=parts.netloc,
        upstream_path=parts.path.rstrip("/"),
        upstream_scheme=parts.scheme,
        upstream_hostname=parts.hostname or "",
        upstream_port=parts.port or (443 if parts.scheme == "https" else 80),
        allow_loopback=spec.allow_loopback,
        integration_ids=frozenset(integration_ids[n] for n in spec.integrations),
        operations=tuple(_compile_operation(spec, op) for op in spec.operations),
        rate_limit=parse(spec.rate_limit) if spec.rate_limit else None,
        clearance=clearance,
        dlp_action=spec.dlp.action,
        dlp_request=spec.dlp.inspect_request,
        dlp_response=spec.dlp.inspect_response,
        credential=credential,
        content_types=frozenset(spec.content_types),
        limits=spec.limits,
        dlp_uninspectable=spec.dlp.uninspectable,
    )


def resolve_credential(
    spec: CredentialSpec, vault: Vault, credentials: dict[str, Credential]
) -> ResolvedCredential:
    secret = _resolve_ref(spec.source, vault, credentials)
    if any(c in secret for c in "\r\n\x00"):
        raise SnapshotError("an upstream credential contains a line break or NUL")
    return ResolvedCredential(
        scheme=spec.scheme,
        header=spec.header,
        secret=SecretStr(secret),
        token_url=spec.token_url,
        client_id=spec.client_id,
        scope=spec.scope,
    )


def compile_snapshot(
    src: PolicySource, vault: Vault, config: GatewayConfig, *, version: int, digest: str
) -> PolicySnapshot:
    """Compile a snapshot; any inconsistency raises SnapshotError (the caller fails closed)."""
    integration_ids = {i.name: i.id for i in src.integrations}
    app_clearance = {a.name: a.clearance for a in src.apps}
    creds = {c.name: c for c in src.credentials}
    routes: dict[tuple[str, ...], CompiledRoute] = {}
    for row in src.routes:
        try:
            spec = RouteSpec.model_validate(row.spec)
        except PydanticValidationError as exc:
            raise SnapshotError(
                f"route {row.name}: invalid spec: {exc.errors()[0]['msg']}"
            ) from None
        # A credential that cannot be resolved (a vault secret not put yet, an unset variable)
        # takes this route out of service, not the whole gateway: the route answers 503, the
        # others keep serving. Anything else wrong with the snapshot still fails it as a whole.
        unavailable: str | None = None
        try:
            resolved = (
                resolve_credential(spec.credential, vault, creds) if spec.credential else None
            )
        except (SnapshotError, NotFoundError) as exc:
            resolved, unavailable = None, str(exc)[:300]
        compiled = compile_route(
            spec, integration_ids=integration_ids, app_clearance=app_clearance, credential=resolved
        )
        if unavailable is not None:
            compiled = replace(compiled, unavailable=unavailable)
            _log.warning("route_unavailable", route=spec.name, reason=unavailable)
        if compiled.prefix in routes:
            raise SnapshotError(
                f"routes {routes[compiled.prefix].name} and {spec.name} share a prefix"
            )
        routes[compiled.prefix] = compiled
    integrations = {
        i.id: IntegrationInfo(id=i.id, name=i.name, status=str(i.status)) for i in src.integrations
    }
    # An integration's declared scopes are the ceiling of its clients' scopes: a client
    # granted more (or an access review that narrowed the integration since) gets only the
    # intersection. An integration that declares no scope sets no ceiling.
    ceilings = {i.id: frozenset(i.scopes or ()) for i in src.integrations}

    def _effective(client_scopes: list[str], integration_id: str | None) -> frozenset[str]:
        granted = frozenset(client_scopes)
        ceiling = ceilings.get(integration_id or "")
        return granted & ceiling if ceiling else granted

    clients = {
        c.client_id: ClientInfo(
            pk=c.id,
            client_id=c.client_id,
            name=c.name,
            integration_id=c.integration_id,
            auth_method=c.auth_method,
            secret_hash=c.secret_hash,
            jwks=c.jwks,
            cert_thumbprint=c.cert_thumbprint,
            scopes=_effective(c.scopes, c.integration_id),
            claims=dict(c.claims or {}),
            revoked=c.revoked_at is not None,
        )
        for c in src.clients
    }
    by_pk = {c.id: c.client_id for c in src.clients}
    api_keys = {
        k.prefix: ApiKeyInfo(
            id=k.id,
            prefix=k.prefix,
            hash=k.hash,
            client_id=by_pk[k.client_pk],
            scopes=frozenset(k.scopes),
            expires_ts=k.expires_at.timestamp() if k.expires_at else None,
            revoked=k.revoked_at is not None,
        )
        for k in src.api_keys
        if k.client_pk in by_pk
    }
    keys = load_signing_keys(src.signing_keys, vault)
    revoked = frozenset(r.jti for r in src.revoked)
    verifier = TokenVerifier(
        keys=keys,
        issuer=config.issuer,
        audience=config.audience,
        revoked=revoked,
        leeway=config.jwt_leeway_seconds,
    )
    return PolicySnapshot(
        version=version,
        digest=digest,
        routes=routes,
        max_prefix=max((len(p) for p in routes), default=0),
        integrations=integrations,
        clients=clients,
        api_keys=api_keys,
        keys=keys,
        verifier=verifier,
        revoked_jtis=revoked,
    )


def is_active(integration: IntegrationInfo | None) -> bool:
    return integration is not None and integration.status == IntegrationStatus.ACTIVE.value


# -- holding and reloading --------------------------------------------------------------------


class PolicyHolder:
    """Holds the current snapshot; ``current()`` fails closed when it is missing or stale."""

    def __init__(
        self,
        store: Store,
        vault: Vault,
        config: GatewayConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._vault = vault
        self._config = config
        self._mono = monotonic
        self._snapshot: PolicySnapshot | None = None
        self._version = 0
        self._checked_at = float("-inf")
        # One reload at a time: the watcher's thread and a start-up check may both call it,
        # and two builds would otherwise get the same version number.
        self._reload_lock = threading.Lock()
        self.last_error: str | None = None
        # The last state that failed to compile: (fingerprint, tried at, logged at). The same
        # state is not recompiled every poll (nor logged 4-5 times a second); a change to the
        # store or the vault (its fingerprint) is tried at once.
        self._failed: tuple[str, float, float] | None = None
        # Token ids revoked by this process since the last reload (visible at once here).
        self.local_revoked: set[str] = set()

    @property
    def snapshot(self) -> PolicySnapshot | None:
        return self._snapshot

    def current(self) -> PolicySnapshot:
        snap = self._snapshot
        if snap is None:
            raise UnavailableError("gateway policy is not loaded", code="policy_unavailable")
        if self._mono() - self._checked_at > self._config.max_staleness_seconds:
            raise UnavailableError("gateway policy is stale", code="policy_stale")
        return snap

    def fresh(self) -> PolicySnapshot | None:
        """The snapshot when ``current()`` would return it; None where it would raise."""
        snap = self._snapshot
        if snap is None or self._mono() - self._checked_at > self._config.max_staleness_seconds:
            return None
        return snap

    def reload(self, *, force: bool = False) -> bool:
        """Check the fingerprint and rebuild on change (blocking; call off the event loop).

        Returns True when a new snapshot was swapped in. On failure the old snapshot is kept
        but not marked fresh, so the gateway fails closed once it is stale.
        """
        with self._reload_lock:
            return self._reload(force)

    def _reload(self, force: bool) -> bool:
        digest: str | None = None
        try:
            digest = fingerprint(self._store)
            snap = self._snapshot
            if snap is not None and not force and snap.digest == digest:
                self._checked_at = self._mono()
                self.last_error = None
                return False
            failed = self._failed
            if (
                failed is not None
                and not force
                and failed[0] == digest
                and self._mono() - failed[1] < _FAILED_RETRY
            ):
                return False
            src = load_source(self._store)
            new = compile_snapshot(
                src, self._vault, self._config, version=self._version + 1, digest=digest
            )
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            now, failed = self._mono(), self._failed
            logged = failed[2] if failed is not None and failed[0] == digest else None
            if logged is None or now - logged >= _FAILED_LOG_EVERY:
                _log.error(
                    "policy_reload_failed", error=self.last_error, repeated=logged is not None
                )
                logged = now
            if digest is not None:  # None: the fingerprint itself failed (store down)
                self._failed = (digest, now, logged)
            return False
        self._failed = None
        self._version += 1
        self.local_revoked = {j for j in self.local_revoked if j not in new.revoked_jtis}
        self._snapshot = new  # the atomic swap: one reference assignment
        self._checked_at = self._mono()
        self.last_error = None
        _log.info("policy_loaded", version=new.version, routes=len(new.routes))
        return True

    def install(self, snapshot: PolicySnapshot) -> None:
        """Swap in a snapshot built elsewhere (tests, tools)."""
        self._snapshot = snapshot
        self._checked_at = self._mono()


class PolicyWatcher:
    """Background task: reload the policy every ``poll_interval`` (≤250 ms)."""

    def __init__(self, holder: PolicyHolder, interval: float) -> None:
        self._holder = holder
        self._interval = min(interval, 0.25)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def nudge(self) -> None:
        """Reload now (e.g. on a Redis pub/sub notification or a local revocation)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self._holder.reload)
            except Exception as exc:  # never let the watcher die
                _log.error("policy_watcher_error", error_type=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

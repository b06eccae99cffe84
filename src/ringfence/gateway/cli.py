"""``ringfence gateway``: serve the data plane; manage clients, API keys and signing keys.

A generated client secret or API key is printed exactly once, at creation or rotation, and
never again (only its hash is stored). Errors are RingfenceErrors, rendered by the CLI as one
red line. Never prints or logs an upstream credential or a private key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime, settings_for
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table
from ringfence.core.errors import ValidationError
from ringfence.core.urls import without_credentials

if TYPE_CHECKING:
    from ringfence.core.config import Settings
    from ringfence.gateway.config import GatewayConfig

app = typer.Typer(
    help="The gateway (data plane): serve it, manage machine identities.", no_args_is_help=True
)
client_app = typer.Typer(
    help="OAuth clients (machine identities) of integrations.", no_args_is_help=True
)
key_app = typer.Typer(help="API keys of gateway clients.", no_args_is_help=True)
signing_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)
app.add_typer(client_app, name="client")
app.add_typer(key_app, name="key")
app.add_typer(signing_app, name="signing-key")


# Claims every token gets from the gateway itself. ``integration_id`` among them: the token
# endpoint overwrote a client's own, but an API key's requests carried it as registered, so a
# ``bind`` on it judged the two ways differently.
RESERVED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "cnf", "integration_id"}
)


@dataclass(frozen=True)
class LimiterStore:
    """Where a gateway process keeps its rate-limit counters, and which setting chose it."""

    url: str | None  # None: in memory
    source: str  # the option or setting the URL came from

    def describe(self) -> str:
        if self.url is None:
            return "in memory (each gateway process counts on its own)"
        return f"Redis {shown_redis_url(self.url)} (from {self.source}; exact across processes)"

    def unreachable(self) -> str | None:
        """Why Redis does not answer a PING within a second now (None: it does, or memory).
        Only the exception's type: its message may quote the URL."""
        if self.url is None:
            return None
        import redis

        try:
            client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
            try:
                client.ping()
            finally:
                client.close()
        except Exception as exc:  # any failure is the operator's to see, the start goes on
            return type(exc).__name__
        return None

    def warn_if_unreachable(self, log: Any) -> None:
        """Say at start that limited routes will fail closed (503) while Redis does not answer;
        not a refusal: Redis may come up after the gateway, and then they serve."""
        why = self.unreachable()
        if why is None or self.url is None:
            return
        console.print(
            f"[yellow]warning: Redis {shown_redis_url(self.url)} does not answer now ({why}): "
            "rate-limited routes and /oauth/* answer 503 until it does[/yellow]",
            soft_wrap=True,
        )
        log.warning("gateway_redis_unreachable", url=shown_redis_url(self.url), error_type=why)


def shown_redis_url(url: str) -> str:
    """``url`` without its user or password, fit for a log line."""
    return without_credentials(url, default_scheme="redis", what="Redis", keep_path=True)


def limiter_store(
    config: GatewayConfig, settings: Settings, option: str | None = None
) -> LimiterStore:
    """The gateway's rate-limit store: ``--redis-url``, else ``RINGFENCE_GATEWAY_REDIS_URL``,
    else ``RINGFENCE_REDIS_URL`` (the settings' ``redis_url``, shared with the rest of
    Ringfence), else memory. Before session 14 only the gateway-specific variable counted, so a
    deployment that set ``RINGFENCE_REDIS_URL`` alone had per-process limits unawares."""
    for url, source in (
        (option, "--redis-url"),
        (config.redis_url, "RINGFENCE_GATEWAY_REDIS_URL"),
        (settings.redis_url, "RINGFENCE_REDIS_URL"),
    ):
        if url:
            scheme = url.partition("://")[0].lower() if "://" in url else ""
            if scheme not in ("redis", "rediss"):
                # the URL itself is not quoted: it may hold a password
                raise ValidationError(
                    f"{source}: a Redis URL must start with redis:// or rediss:// "
                    f"(got {scheme + '://' if scheme else 'no scheme'})"
                )
            return LimiterStore(url, source)
    return LimiterStore(None, "default")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8443,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    worker_timeout: Annotated[
        float,
        typer.Option(
            min=2.0,
            max=3600.0,
            help="A worker whose event loop is silent this long (seconds) is killed and restarted.",
        ),
    ] = 30.0,
    redis_url: Annotated[
        str | None,
        typer.Option(
            help="Redis for limits exact across workers (default: RINGFENCE_GATEWAY_REDIS_URL, "
            "else RINGFENCE_REDIS_URL, else in memory per worker)."
        ),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="Server certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Server private key (PEM).")] = None,
    client_ca: Annotated[
        Path | None, typer.Option(help="CA bundle; clients must present a certificate it signed.")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Run the gateway with uvicorn (uvloop + httptools, one write per response).

    `kill -HUP <pid>` replaces the workers one at a time (new TLS certificate, settings,
    code) without refusing a connection."""
    import ssl

    from ringfence.core.logging import configure_logging, get_logger

    if (tls_cert is None) != (tls_key is None):
        raise ValidationError("--tls-cert and --tls-key go together")
    settings = settings_for(data_dir)
    configure_logging(settings.log_format, settings.log_level)
    if data_dir is not None:
        os.environ["RINGFENCE_DATA_DIR"] = str(data_dir)
    if client_ca is not None:
        os.environ["RINGFENCE_GATEWAY_CLIENT_CA_FILE"] = str(client_ca)
    from ringfence.gateway.config import load_gateway_config
    from ringfence.gateway.tokens import ensure_signing_key

    config = load_gateway_config()
    store = limiter_store(config, settings, redis_url)
    if store.url:  # the workers build their gateway from the environment
        os.environ["RINGFENCE_GATEWAY_REDIS_URL"] = store.url
    audit = audit_destination(settings, config)
    rt = open_runtime(data_dir)  # fail fast (one red line) if the store is not initialised
    try:
        ensure_signing_key(rt.store, rt.vault, rt.clock, alg=config.signing_alg)
    finally:
        rt.close()
    scheme = "https" if tls_cert else "http"
    console.print(f"Ringfence gateway on {scheme}://{host}:{port} ({workers} worker(s))")
    log = get_logger("ringfence.gateway")
    console.print(f"rate limits: {store.describe()}", soft_wrap=True)
    log.info(
        "gateway_rate_limit_store",
        store="redis" if store.url else "memory",
        url=shown_redis_url(store.url) if store.url else None,
        source=store.source,
        workers=workers,
    )
    if store.url is None and workers > 1:
        warning = (
            f"{workers} workers with in-memory rate limits: every limit (route rate limits, "
            f"quotas, the /oauth/* limit) is counted by each worker on its own, so up to "
            f"{workers}x the configured rate passes. Set RINGFENCE_REDIS_URL (or --redis-url) "
            "for limits exact across workers."
        )
        console.print(f"[yellow]warning: {warning}[/yellow]", soft_wrap=True)
        log.warning("gateway_rate_limits_per_process", workers=workers)
    store.warn_if_unreachable(log)
    console.print(f"audit events: {audit}", soft_wrap=True)
    options: dict[str, Any] = {
        "app": "ringfence.gateway.cli:asgi_app",
        "factory": True,
        "host": host,
        "port": port,
        "loop": "uvloop",
        # uvicorn's httptools protocol, writing each response in one socket write; with TLS
        # it also hands the verified client certificate to the gateway.
        "http": (
            "ringfence.gateway.tlsproto:ClientCertHttpToolsProtocol"
            if tls_cert
            else "ringfence.gateway.httpproto:GatewayHttpToolsProtocol"
        ),
        "log_level": "warning",
        "access_log": False,
        # uvicorn's ProxyHeadersMiddleware would let any loopback client rewrite the client
        # address with X-Forwarded-For (audit IP, per-address token-endpoint limit, the
        # trusted-proxy check of the client-certificate header). The gateway ignores those
        # headers from clients and applies its own trusted-proxy list; it also saves the
        # middleware's per-request cost.
        "proxy_headers": False,
        "server_header": False,
        "ssl_certfile": str(tls_cert) if tls_cert else None,
        "ssl_keyfile": str(tls_key) if tls_key else None,
        "ssl_ca_certs": str(client_ca) if client_ca else None,
        "ssl_cert_reqs": ssl.CERT_REQUIRED if client_ca and tls_cert else ssl.CERT_NONE,
    }
    # A supervisor accepts and deals each connection to the next worker, so they are spread
    # instead of all going to the first worker that wakes; it restarts dead and unresponsive
    # workers, and SIGHUP replaces them one at a time (gateway/workers.py). Also with one
    # worker: an operator's SIGHUP (new certificate) must not end the gateway.
    from ringfence.gateway.workers import WorkerSupervisor

    supervisor = WorkerSupervisor(options, host, port, workers, worker_timeout=worker_timeout)
    code = supervisor.run()
    if code:
        raise typer.Exit(code)


def audit_file(settings: Settings, config: GatewayConfig) -> Path:
    """The standalone gateway's JSONL audit file when no event bus is configured."""
    return config.audit_file or settings.data_dir / DEFAULT_AUDIT_FILE


DEFAULT_AUDIT_FILE = "gateway-audit.jsonl"


def audit_destination(settings: Settings, config: GatewayConfig) -> str:
    """Where the standalone gateway's audit events go (checked writable now, not at the
    first flush); a sentence for the start-up banner."""
    if settings.nats_url:
        from ringfence.bus.nats import shown_url

        spool = settings.data_dir / "gateway-audit.spool.jsonl"
        # not created now: an empty spool would only wake a replayer
        _check_writable(spool, create=False, fix="give the data directory to the gateway's user")
        return f"event bus {shown_url(settings.nats_url)} (spooled to {spool} while it is down)"
    path = audit_file(settings, config)
    _check_writable(path, fix="set RINGFENCE_GATEWAY_AUDIT_FILE to a writable path")
    return f"JSONL file {path} (0600)"


def _check_writable(path: Path, *, fix: str, create: bool = True) -> None:
    """Create ``path`` 0600 if missing (else check its directory takes new files), tighten it
    to 0600 if others may read it, or raise naming it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not create and not path.exists():
            if not os.access(path.parent, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
            return
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)  # audit lines name clients, routes and addresses
        finally:
            os.close(fd)
    except OSError as exc:
        raise ValidationError(
            f"cannot write the gateway audit file {path}: {exc.strerror or exc} ({fix})"
        ) from None


def asgi_app() -> Any:
    """Uvicorn factory: one gateway per worker process, built from the environment."""
    from ringfence.core.logging import configure_logging
    from ringfence.gateway.app import build_gateway
    from ringfence.gateway.config import load_gateway_config
    from ringfence.runtime import Runtime

    settings = settings_for(None)
    configure_logging(settings.log_format, settings.log_level)
    config = load_gateway_config()  # before opening the store: nothing to close on error
    rt = Runtime.open(settings)
    audit: Any = None
    if settings.nats_url:
        # Audit events go to the event bus (monitoring consumes them); a spool on local disk
        # keeps them while the bus is down and replays them afterwards.
        from ringfence.bus import NatsBus
        from ringfence.gateway.audit import CallableAuditSink
        from ringfence.monitor.gateway_feed import gateway_publisher
        from ringfence.monitor.wiring import load_config, nats_options

        # the stream, subjects, replicas and retention the monitor workers use (monitor.yaml,
        # as `ringfence monitor worker` and `ringfence ingest` read them): a gateway started
        # first would otherwise create the stream with the defaults
        bus = NatsBus(settings.nats_url, **nats_options(load_config(settings.data_dir)))
        audit = CallableAuditSink(
            gateway_publisher(bus),
            spool=settings.data_dir / "gateway-audit.spool.jsonl",
        )
    else:
        # RINGFENCE_GATEWAY_AUDIT_FILE, else the default file under the data directory: a
        # standalone gateway never keeps its audit events in memory only (lost on exit).
        from ringfence.gateway.audit import JsonlAuditSink

        audit = JsonlAuditSink(audit_file(settings, config))
    return build_gateway(
        rt.store,
        rt.vault,
        config=config,
        redis_url=limiter_store(config, settings).url,
        audit=audit,
        freeze_gc=True,  # one gateway per worker process: its heap is the process's
    )


@client_app.command("create")
def client_create(
    integration: Annotated[str, typer.Argument(help="Integration name.")],
    scopes: Annotated[list[str], typer.Option("--scope", "-s", help="Granted scope (repeat).")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    auth_method: Annotated[
        str,
        typer.Option(
            help="client_secret_basic | client_secret_post | private_key_jwt | tls_client_auth"
        ),
    ] = "client_secret_basic",
    jwks_file: Annotated[Path | None, typer.Option(help="Public JWKS (private_key_jwt).")] = None,
    cert_thumbprint: Annotated[
        str | None, typer.Option(help="x5t#S256 of the client certificate (tls_client_auth).")
    ] = None,
    claim: Annotated[
        list[str] | None, typer.Option(help="Extra token claim key=value (e.g. tenant=t-1).")
    ] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Register a client for an integration; its secret is shown once."""
    from ringfence.gateway.clients import create_client

    jwks = None
    if jwks_file is not None:
        try:
            jwks = json.loads(jwks_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationError(f"{jwks_file}: cannot read JWKS: {exc}") from None
    claims: dict[str, Any] = {}
    for item in claim or []:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise ValidationError(f"--claim {item!r}: use key=value")
        if k in RESERVED_CLAIMS:
            raise ValidationError(f"--claim {k}: registered claims cannot be overridden")
        claims[k] = v
    rt = open_runtime(data_dir)
    try:
        created = create_client(
            rt.store,
            rt.clock,
            integration=integration,
            name=name or integration,
            scopes=scopes,
            auth_method=auth_method,
            jwks=jwks,
            cert_thumbprint=cert_thumbprint,
            claims=claims,
        )
    finally:
        rt.close()
    secret = created.client_secret.get_secret_value() if created.client_secret else None
    if output is OutputFormat.JSON:
        emit_json(
            {
                "client_id": created.client_id,
                "auth_method": created.auth_method,
                "client_secret": secret,
            }
        )
        return
    console.print(f"client_id: {created.client_id}")
    if secret:
        console.print(f"client_secret: {secret}")
        console.print("[yellow]Store the secret now: it is not shown again.[/yellow]")


@client_app.command("list")
def client_list(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """List gateway clients (never their secrets)."""
    from ringfence.gateway.clients import list_clients

    rt = open_runtime(data_dir)
    try:
        rows = list_clients(rt.store)
    finally:
        rt.close()
    emit_table(
        rows,
        ["client_id", "name", "integration", "auth_method", "scopes", "revoked"],
        title="Gateway clients",
        fmt=output,
    )


@client_app.command("revoke")
def client_revoke(client_id: str, data_dir: DataDirOpt = None) -> None:
    """Revoke a client and all its API keys (tokens stop working within a second)."""
    from ringfence.gateway.clients import revoke_client

    rt = open_runtime(data_dir)
    try:
        revoke_client(rt.store, rt.clock, client_id)
    finally:
        rt.close()
    console.print(f"revoked client {client_id}")


def _show_key(prefix: str, secret: str, expires: Any, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        emit_json(
            {
                "prefix": prefix,
                "api_key": secret,
                "expires_at": expires.isoformat() if expires else None,
            }
        )
        return
    console.print(f"api_key: {secret}")
    console.print("[yellow]Store the key now: it is not shown again.[/yellow]")


@key_app.command("create")
def key_create(
    client_id: str,
    scopes: Annotated[
        list[str] | None, typer.Option("--scope", "-s", help="Subset of the client's scopes.")
    ] = None,
    ttl_days: Annotated[int, typer.Option(min=1, max=3650)] = 90,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Issue an API key for a client; shown once."""
    from ringfence.gateway.clients import create_api_key

    rt = open_runtime(data_dir)
    try:
        key = create_api_key(
            rt.store, rt.clock, client_id=client_id, scopes=scopes, ttl_days=ttl_days
        )
    finally:
        rt.close()
    _show_key(key.prefix, key.api_key.get_secret_value(), key.expires_at, output)


@key_app.command("rotate")
def key_rotate(
    prefix: str,
    overlap_hours: Annotated[float, typer.Option(min=0, max=720)] = 24,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Issue a replacement key; the old one keeps working for the overlap window."""
    from ringfence.gateway.clients import rotate_api_key

    rt = open_runtime(data_dir)
    try:
        key = rotate_api_key(rt.store, rt.clock, prefix, overlap_hours=overlap_hours)
    finally:
        rt.close()
    _show_key(key.prefix, key.api_key.get_secret_value(), key.expires_at, output)


@key_app.command("revoke")
def key_revoke(prefix: str, data_dir: DataDirOpt = None) -> None:
    """Revoke an API key at once."""
    from ringfence.gateway.clients import revoke_api_key

    rt = open_runtime(data_dir)
    try:
        revoke_api_key(rt.store, rt.clock, prefix)
    finally:
        rt.close()
    console.print(f"revoked API key {prefix}")


@key_app.command("list")
def key_list(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """List API keys (prefix, scopes, expiry, last use — never the key)."""
    from ringfence.gateway.clients import list_api_keys

    rt = open_runtime(data_dir)
    try:
        rows = list_api_keys(rt.store)
    finally:
        rt.close()
    emit_table(
        rows,
        ["prefix", "client_id", "scopes", "expires_at", "last_used_at", "revoked"],
        title="Gateway API keys",
        fmt=output,
    )


@signing_app.command("rotate")
def signing_rotate(
    alg: Annotated[str, typer.Option(help="EdDSA or ES256")] = "EdDSA",
    data_dir: DataDirOpt = None,
) -> None:
    """Create a new token signing key; the previous one stays published for the overlap."""
    from ringfence.gateway.tokens import create_signing_key

    rt = open_runtime(data_dir)
    try:
        kid = create_signing_key(rt.store, rt.vault, rt.clock, alg=alg, actor="cli")
    finally:
        rt.close()
    console.print(f"new signing key {kid} ({alg}) is active")

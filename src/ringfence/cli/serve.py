"""``ringfence serve``: the embedded one-process perimeter — control-plane API, gateway, monitor.

One process on SQLite (or PostgreSQL): the REST API, the gateway (data plane) whose audit
events flow in-process into monitoring (OCSF storage, Sigma rules, UEBA, API monitoring).
At scale run ``ringfence gateway serve`` processes and ``ringfence monitor worker`` over NATS
instead. Binds 127.0.0.1 by default; never prints a secret.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

import typer

from ringfence.cli.common import DataDirOpt, settings_for
from ringfence.cli.output import console


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(min=1, max=65535, help="API port.")] = None,
        gateway_port: Annotated[
            int | None, typer.Option(min=1, max=65535, help="Gateway port (default 8701).")
        ] = None,
        gateway: Annotated[
            bool, typer.Option("--gateway/--no-gateway", help="Also run the gateway.")
        ] = True,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Serve the REST API (OpenAPI at /api/v1/openapi.json) and the gateway."""
        import uvicorn

        from ringfence.api import create_app
        from ringfence.api.serving import api_server_config, serving_limits
        from ringfence.core.logging import configure_logging
        from ringfence.runtime import Runtime

        settings = settings_for(data_dir)
        configure_logging(settings.log_format, settings.log_level)
        rt = Runtime.open(settings)
        bind = host or settings.api_host
        api_port = port or settings.api_port
        servers: list[Any] = [
            uvicorn.Server(
                # Slow senders are cut off, connections and large uploads capped
                # (RINGFENCE_API_*_TIMEOUT_SECONDS, _MAX_CONNECTIONS: api/serving.py).
                api_server_config(
                    create_app(rt),
                    host=bind,
                    port=api_port,
                    limits=serving_limits(settings),
                    log_level="warning",
                    lifespan="off",
                    # The client address feeds sign-in throttling: X-Forwarded-For only from
                    # the proxies named in RINGFENCE_API_TRUSTED_PROXIES.
                    proxy_headers=bool(settings.api_trusted_proxies.strip()),
                    forwarded_allow_ips=settings.api_trusted_proxies.strip() or None,
                )
            )
        ]
        docs = " (docs at /api/docs)" if settings.api_docs else ""
        console.print(f"Ringfence API on http://{bind}:{api_port}/api/v1{docs}")
        if gateway:
            from ringfence.core.logging import get_logger
            from ringfence.gateway.app import build_gateway
            from ringfence.gateway.cli import limiter_store, shown_redis_url
            from ringfence.gateway.config import load_gateway_config
            from ringfence.gateway.tokens import ensure_signing_key
            from ringfence.monitor.gateway_feed import in_process_sink

            config = load_gateway_config()
            # RINGFENCE_GATEWAY_REDIS_URL, else RINGFENCE_REDIS_URL: before session 14 this
            # gateway never used the shared one, and its limits were per process
            store = limiter_store(config, settings)
            ensure_signing_key(rt.store, rt.vault, rt.clock, alg=config.signing_alg)
            gw = build_gateway(
                rt.store, rt.vault, config=config, redis_url=store.url, audit=in_process_sink(rt)
            )
            console.print(f"gateway rate limits: {store.describe()}", soft_wrap=True)
            log = get_logger("ringfence.gateway")
            log.info(
                "gateway_rate_limit_store",
                store="redis" if store.url else "memory",
                url=shown_redis_url(store.url) if store.url else None,
                source=store.source,
            )
            store.warn_if_unreachable(log)
            gw_port = gateway_port or settings.gateway_port
            servers.append(
                uvicorn.Server(
                    uvicorn.Config(
                        gw,
                        host=bind,
                        port=gw_port,
                        log_level="warning",
                        access_log=False,
                        # Client addresses feed audit and limits: never from X-Forwarded-For.
                        proxy_headers=False,
                        server_header=False,
                        lifespan="on",
                    )
                )
            )
            console.print(f"Ringfence gateway on http://{bind}:{gw_port} (events → monitoring)")
        stop = threading.Event()
        background: list[threading.Thread] = []
        if settings.audit_anchor_seconds > 0:
            from ringfence.store.audit import Anchorer

            anchorer = Anchorer(rt.store, settings.resolved_audit_anchor_file, rt.clock)
            background.append(
                threading.Thread(
                    target=anchorer.run,
                    args=(settings.audit_anchor_seconds, stop),
                    name="audit-anchor",
                    daemon=True,
                )
            )
        if settings.respond_watch_seconds > 0:
            background.append(
                threading.Thread(
                    target=_watch_alerts,
                    args=(rt, settings.respond_watch_seconds, stop),
                    name="respond-watch",
                    daemon=True,
                )
            )
        for thread in background:
            thread.start()
        try:
            asyncio.run(_run_all(servers))
        except KeyboardInterrupt:
            pass  # uvicorn re-raises the SIGINT it handled: a requested, clean stop
        finally:
            stop.set()
            for thread in background:
                thread.join(timeout=10)
            rt.close()
        console.print("stopped")


def _watch_alerts(rt: Any, interval: float, stop: threading.Event) -> None:
    """Open incidents for alerts that a playbook trigger matches (docs/respond.md)."""
    from ringfence.core.logging import get_logger
    from ringfence.respond.wiring import responder_for

    log = get_logger("ringfence.respond")

    def unusable(part: str, exc: Exception) -> None:  # a bad file must not stop the perimeter
        log.warning(f"respond_{part}_unusable", error=str(exc)[:200])

    responder = responder_for(rt, on_error=unusable)
    while not stop.wait(interval):
        try:
            for incident in responder.watch_alerts():
                log.warning("incident_opened", incident=incident)
        except Exception as exc:  # keep watching; the next pass retries
            log.warning("respond_watch_failed", error=str(exc)[:200])


async def _run_all(servers: list[Any]) -> None:
    """Run the servers together; when one stops (signal or failure), stop the others."""
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    _done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*pending, return_exceptions=True)

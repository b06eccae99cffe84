"""``ringfence serve``: the control-plane API (and, as they land, gateway and console)."""

from __future__ import annotations

from typing import Annotated

import typer

from ringfence.cli.common import DataDirOpt, settings_for
from ringfence.cli.output import console


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(min=1, max=65535)] = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Serve the REST API (OpenAPI at /api/v1/openapi.json) on 127.0.0.1 by default."""
        import uvicorn

        from ringfence.api import create_app
        from ringfence.core.logging import configure_logging
        from ringfence.runtime import Runtime

        settings = settings_for(data_dir)
        configure_logging(settings.log_format, settings.log_level)
        rt = Runtime.open(settings)
        bind = host or settings.api_host
        bind_port = port or settings.api_port
        console.print(f"Ringfence API on http://{bind}:{bind_port}/api/v1 (docs at /api/docs)")
        uvicorn.run(create_app(rt), host=bind, port=bind_port, log_level="warning")

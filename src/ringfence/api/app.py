"""FastAPI application factory for the control-plane REST API under ``/api/v1``."""

from __future__ import annotations

from fastapi import FastAPI

from ringfence.api import problems
from ringfence.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="Ringfence API",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    problems.install(app)

    @app.get("/api/v1/health", tags=["meta"])
    def health() -> dict[str, str]:
        ok = runtime.store.is_migrated()
        return {"status": "ok" if ok else "degraded"}

    return app

"""FastAPI application factory for the control-plane REST API under ``/api/v1``.

Every ``/api/v1`` route but ``/health`` requires a bearer token (see ``api/deps.py``); every
error is RFC 9457 problem+json (``api/problems.py``); bodies are capped and must be JSON
(``api/limits.py``). Capabilities add their routers below with one ``include_router`` line.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from ringfence.api import problems
from ringfence.api.deps import admit_body, install_auth
from ringfence.api.headers import SecurityHeaders
from ringfence.api.limits import DEFAULT_MAX_BODY, BodyGuard, set_body_limit
from ringfence.api.serving import UploadSlots
from ringfence.runtime import Runtime


def create_app(
    runtime: Runtime, *, max_body: int = DEFAULT_MAX_BODY, docs: bool | None = None
) -> FastAPI:
    """``docs``: serve the interactive docs at /api/docs (default: the ``api_docs`` setting)."""
    from ringfence.api import audit, inventory

    app = FastAPI(
        title="Ringfence API",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        responses=problems.PROBLEM_RESPONSES,
    )
    if runtime.settings.api_docs if docs is None else docs:
        from ringfence.api.docs import install_docs

        install_docs(app)
    app.state.runtime = runtime
    problems.install(app)
    install_auth(app, runtime)
    app.state.body_limits = {}  # prefix -> BodyLimit, see limits.set_body_limit
    # Innermost: a slot is taken once BodyGuard has admitted a large body (api/serving.py).
    app.add_middleware(UploadSlots, max_uploads=runtime.settings.api_max_concurrent_uploads)
    app.add_middleware(SecurityHeaders)
    # Bodies over limits.ANONYMOUS_MAX_BODY only from a caller the headers authenticate.
    app.add_middleware(BodyGuard, admit=admit_body, max_body=max_body, limits=app.state.body_limits)

    @app.get("/api/v1/health", tags=["meta"])
    def health() -> dict[str, str]:
        ok = runtime.store.is_migrated()
        return {"status": "ok" if ok else "degraded"}

    app.include_router(inventory.router)
    app.include_router(audit.router)
    from ringfence.monitor.api import router as monitor_router

    app.include_router(monitor_router)
    from ringfence.vendors.api import LINK_API_PREFIX, MAX_UPLOAD_BYTES, UPLOAD_PREFIX, admit_link
    from ringfence.vendors.api import router as vendors_router

    app.include_router(vendors_router)
    set_body_limit(app, UPLOAD_PREFIX, MAX_UPLOAD_BYTES, any_content_type=True)  # raw evidence
    set_body_limit(app, LINK_API_PREFIX, max_body, by_path=admit_link)  # the link is the key
    from ringfence.identity.scim import router as scim_router

    app.include_router(scim_router)
    from ringfence.identity.api import auth_router as identity_auth_router
    from ringfence.identity.settings import IdentitySettings

    # Read once here so that a misspelt or bad RINGFENCE_IDENTITY_* variable stops the start
    # with a ConfigError naming it, not the first sign-in with a 500 (routes read it lazily).
    IdentitySettings()
    from ringfence.identity.api import router as identity_router

    app.include_router(identity_router)
    app.include_router(identity_auth_router)
    from ringfence.api.deps import any_capability
    from ringfence.classify.api import MAX_BODY as CLASSIFY_MAX_BODY
    from ringfence.classify.api import router as classify_router

    # Scanning is a read: any authenticated caller may classify a payload it already holds —
    # but not one that may only manage itself (an admin who has not passed MFA: 403).
    app.include_router(classify_router, prefix="/api/v1", dependencies=[Depends(any_capability)])
    set_body_limit(app, "/api/v1/classify/", CLASSIFY_MAX_BODY, any_content_type=True, scopes=())
    from ringfence.web import router as console_router

    app.include_router(console_router)
    from ringfence.respond.api import router as respond_router

    app.include_router(respond_router)
    from ringfence.api import estate

    app.include_router(estate.router)
    set_body_limit(app, "/api/v1/estate/", estate.MAX_BODY, any_content_type=True, scopes=["read"])

    return app

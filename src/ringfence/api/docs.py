"""The interactive API docs (Swagger UI) at ``/api/docs`` — only when enabled (``api_docs``).

The page shares the console's origin, so what it loads could act with a signed-in
administrator's session. FastAPI's default page loads ``swagger-ui-dist@5`` (whatever 5.x is
newest) from a CDN with no integrity check and no CSP. Here the release is pinned and each file
carries its SRI hash (computed from the npm registry's tarball of that release), the
initialiser is a same-origin script (no inline script), and the page's CSP allows only those.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

SWAGGER_UI_VERSION = "5.35.0"
_CDN = f"https://cdn.jsdelivr.net/npm/swagger-ui-dist@{SWAGGER_UI_VERSION}"
# sha384 of package/swagger-ui-bundle.js and package/swagger-ui.css in swagger-ui-dist-5.35.0.tgz
_JS_SRI = "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9"
_CSS_SRI = "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I"

CSP = (
    "default-src 'none'; "
    "script-src 'self' https://cdn.jsdelivr.net; "
    # Swagger UI sets style attributes; styles cannot run script
    "style-src https://cdn.jsdelivr.net 'unsafe-inline'; "
    "img-src data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ringfence API</title>
<link rel="stylesheet" href="{_CDN}/swagger-ui.css" integrity="{_CSS_SRI}" crossorigin="anonymous">
</head><body><div id="swagger-ui"></div>
<script src="{_CDN}/swagger-ui-bundle.js" integrity="{_JS_SRI}" crossorigin="anonymous"></script>
<script src="/api/docs/init.js"></script>
</body></html>
"""

_INIT = """window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""


def install_docs(app: FastAPI) -> None:
    headers = {"content-security-policy": CSP, "referrer-policy": "no-referrer"}

    @app.get("/api/docs", include_in_schema=False)
    def docs_page() -> HTMLResponse:
        return HTMLResponse(_PAGE, headers=headers)

    @app.get("/api/docs/init.js", include_in_schema=False)
    def docs_init() -> Response:
        return Response(_INIT, media_type="text/javascript", headers=headers)

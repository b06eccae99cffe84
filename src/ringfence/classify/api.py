"""REST endpoints of classification: scan or redact a body, list the data types.

Mounted by the API under its own authentication. Responses carry findings with masked
previews only; a request body is never logged or stored. Bodies over ``MAX_BODY`` are refused
with 413 rather than scanned partially. The classifier is the one of the stored ``classify:``
section (custom detectors, allow-lists), as the gateway's, rebuilt when the section changes. A
body in another charset than UTF-8 (declared, or a UTF-16/32 byte-order mark) is decoded
before the scan — the engine reads UTF-8, and ``ann@corp.example`` in UTF-16 has a NUL between
the letters — and redacted bodies are answered in UTF-8; an unknown charset is a 415. Scanning
runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import codecs
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ringfence.classify import (
    Classifier,
    RedactionMode,
    RedactionPolicy,
    ScanResult,
    catalogue,
    default_classifier,
    redact,
)
from ringfence.classify._mask import mask_result_paths
from ringfence.classify.models import ClassifyEntry
from ringfence.core.errors import RingfenceError, ValidationError

MAX_BODY = 16 << 20

router = APIRouter(prefix="/classify", tags=["classify"])


class PayloadTooLargeError(RingfenceError):
    code = "payload_too_large"
    status = 413
    title = "Payload too large"


class UnsupportedCharsetError(RingfenceError):
    code = "unsupported_charset"
    status = 415
    title = "Unsupported media type"


_BUILD = threading.Lock()


def get_classifier(request: Request) -> Classifier:
    """Dependency: the classifier of the stored ``classify:`` section (the built-in one when
    the section is empty or the app has no store). A stored detector that no longer loads is
    a ``ConfigError`` (503) naming it: never a silently weaker classifier."""
    store = getattr(getattr(request.app.state, "runtime", None), "store", None)
    if store is None:
        return default_classifier()
    return _stored_classifier(request.app, store)


def _stored_classifier(app: FastAPI, store: Any) -> Classifier:
    from ringfence.classify.stored import load_stored_config

    with store.session() as session:
        version = tuple(session.execute(select(ClassifyEntry.name, ClassifyEntry.updated_at)))
    cached = getattr(app.state, "classify_snapshot", None)
    if cached is not None and cached[0] == version:
        return cached[1]  # type: ignore[no-any-return]
    with _BUILD:  # one build (about a second) at a time
        cached = getattr(app.state, "classify_snapshot", None)
        if cached is not None and cached[0] == version:
            return cached[1]  # type: ignore[no-any-return]
        if not version:
            built = default_classifier()
        else:
            with store.session() as session:
                cfg = load_stored_config(session)
            built = Classifier(custom=cfg.detectors, allow_sha256=cfg.allow_sha256)
        app.state.classify_snapshot = (version, built)
        return built


async def _body(request: Request, content_type: str | None) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLargeError(f"body is {len(body)} bytes; the limit is {MAX_BODY}")
    return _utf8(body, content_type)


_UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


def _utf8(body: bytes, content_type: str | None) -> bytes:
    """The body as UTF-8: decoded from its declared charset, or from UTF-16/32 by its BOM."""
    charset = ""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if not charset:
        for bom, enc in (
            (codecs.BOM_UTF32_LE, "utf-32"),
            (codecs.BOM_UTF32_BE, "utf-32"),
            (codecs.BOM_UTF16_LE, "utf-16"),
            (codecs.BOM_UTF16_BE, "utf-16"),
        ):
            if body.startswith(bom):
                charset = enc
                break
    if not charset or charset in _UTF8:
        return body
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        raise UnsupportedCharsetError(
            f"charset {charset[:40]!r} is not supported; send UTF-8"
        ) from None
    return body.decode(codec.name, "replace").encode("utf-8", "surrogatepass")


@router.post("/scan")
async def scan_body(
    request: Request,
    classifier: Annotated[Classifier, Depends(get_classifier)],
    content_type: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Classify the request body (JSON, NDJSON, CSV, form or text by its Content-Type)."""
    body = await _body(request, content_type)

    def scan() -> ScanResult:
        return mask_result_paths(classifier.scan(body, content_type), classifier.scan_text)

    return (await run_in_threadpool(scan)).to_dict()


@router.post(
    "/redact",
    response_class=Response,
    responses={
        200: {
            "description": "The body, redacted, in the request's format (see _ECHO_TYPES).",
            "content": {
                "application/json": {"schema": {}},
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
)
async def redact_body(
    request: Request,
    classifier: Annotated[Classifier, Depends(get_classifier)],
    content_type: Annotated[str | None, Header()] = None,
    mode: RedactionMode = RedactionMode.MASK,
) -> Response:
    """Return the body with every confident finding masked or removed (same content type)."""
    if mode is RedactionMode.TOKENIZE:
        raise ValidationError("tokenize needs the server's token key; use mask or remove here")
    body = await _body(request, content_type)
    out = await run_in_threadpool(
        lambda: redact(body, content_type, RedactionPolicy(default=mode), classifier=classifier)
    )
    headers = {
        "X-Ringfence-Class": out.result.data_class.label,
        "X-Ringfence-Redacted": str(out.redacted),
    }
    return Response(out.body, media_type=_echo_type(content_type), headers=headers)


# The redacted body goes back in the caller's format, but only as one of these types: echoing
# any Content-Type (text/html, image/svg+xml ...) would let a body be rendered as a page.
_ECHO_TYPES = {
    "application/json": "application/json",
    "application/x-ndjson": "application/x-ndjson",
    "text/csv": "text/csv; charset=utf-8",
    "application/x-www-form-urlencoded": "application/x-www-form-urlencoded",
}


def _echo_type(content_type: str | None) -> str:
    base = (content_type or "").split(";")[0].strip().lower()
    if base in _ECHO_TYPES:
        return _ECHO_TYPES[base]
    if base.endswith("+json"):
        return "application/json"
    return "text/plain; charset=utf-8"


@router.get("/types")
async def list_types() -> list[dict[str, str]]:
    """The built-in data types: id, name, class, category, validator, context."""
    return catalogue()

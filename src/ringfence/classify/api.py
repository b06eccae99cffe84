"""REST endpoints of classification: scan or redact a body, list the data types.

Mounted by the API under its own authentication. Responses carry findings with masked
previews only; a request body is never logged or stored. Bodies over ``MAX_BODY`` are refused
with 413 rather than scanned partially.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response

from ringfence.classify import (
    Classifier,
    RedactionMode,
    RedactionPolicy,
    catalogue,
    default_classifier,
    redact,
)
from ringfence.core.errors import RingfenceError, ValidationError

MAX_BODY = 16 << 20

router = APIRouter(prefix="/classify", tags=["classify"])


class PayloadTooLargeError(RingfenceError):
    code = "payload_too_large"
    status = 413
    title = "Payload too large"


def get_classifier() -> Classifier:
    """Dependency; the API overrides it with the classifier of the current policy snapshot."""
    return default_classifier()


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLargeError(f"body is {len(body)} bytes; the limit is {MAX_BODY}")
    return body


@router.post("/scan")
async def scan_body(
    request: Request,
    classifier: Annotated[Classifier, Depends(get_classifier)],
    content_type: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Classify the request body (JSON, NDJSON, CSV, form or text by its Content-Type)."""
    return classifier.scan(await _body(request), content_type).to_dict()


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
    out = redact(
        await _body(request), content_type, RedactionPolicy(default=mode), classifier=classifier
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

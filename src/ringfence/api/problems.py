"""RFC 9457 problem+json for every error the API returns; never a stack trace, never a secret."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ringfence.api.schemas import Problem
from ringfence.core.errors import RingfenceError
from ringfence.core.logging import get_logger

PROBLEM_JSON = "application/problem+json"
_log = get_logger("ringfence.api")

_PROBLEM = {
    "model": Problem,
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
# Documented on every operation (app-wide, see api/app.py): what a client may get back besides
# success, each as problem+json. A route overrides a code only where it answers differently
# (the vendor questionnaire form answers with HTML pages).
_DOCUMENTED: dict[int | str, str] = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing, invalid, expired or revoked credential",
    403: "The caller lacks the scope or role",
    404: "No such entity",
    405: "Method not allowed",
    409: "Duplicate, still referenced, or invalid status transition",
    413: "Body over the size cap",
    415: "Body is not JSON",
    422: "Invalid fields, unknown fields, dangling references or inline secrets",
    429: "Too many requests: retry after Retry-After seconds",
    "4XX": "Any other client error",
    503: "The store or a dependency is unavailable: retry after Retry-After seconds",
}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {**_PROBLEM, "description": d} for s, d in _DOCUMENTED.items()
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


class ProblemResponse(JSONResponse):
    """problem+json that renders whatever the caller sent and an error quotes back.

    JSON may spell a lone surrogate (``"\\ud800"``) and Python decodes it into the ``str``; an
    error message naming such a key or value cannot be encoded as UTF-8, which turned a 4xx
    into a 500. Such characters are shown by their escape instead (``\\ud800`` as six
    characters), so the problem still names what was wrong.
    """

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return super().render(_escape_surrogates(content))


def _escape_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_escape_surrogates(k): _escape_surrogates(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape_surrogates(v) for v in value]
    return value


def problem(
    status: int, code: str, title: str, detail: str, instance: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://ringfence.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="ringfence"'} if status == 401 else None
    return ProblemResponse(body, status_code=status, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(RingfenceError)
    async def _ringfence(request: Request, exc: RingfenceError) -> JSONResponse:
        body = exc.to_problem(request.url.path)
        headers = {"WWW-Authenticate": 'Bearer realm="ringfence"'} if exc.status == 401 else {}
        retry = exc.extra.get("retry_after")
        if isinstance(retry, int | float) and not isinstance(retry, bool) and retry >= 0:
            headers["Retry-After"] = str(int(retry))  # RFC 9110 §10.2.3: delay in seconds
        return ProblemResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem(
                400,
                "invalid_json",
                "Malformed JSON",
                "the request body is not valid JSON",
                request.url.path,
            )
        # Only location and message: pydantic's ``input`` may be a secret the caller sent.
        errors = [
            {"field": _loc(e.get("loc", ())), "problem": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['problem']}" for e in errors[:5])
        return problem(
            422, "validation_error", "Invalid input", detail, request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = str(exc.detail) if exc.detail else code.replace("_", " ")
        resp = problem(
            exc.status_code, code, code.replace("_", " ").capitalize(), detail, request.url.path
        )
        if exc.headers:
            resp.headers.update(exc.headers)
        return resp

    @app.exception_handler(OperationalError)
    async def _store_down(request: Request, exc: OperationalError) -> JSONResponse:
        # Locked or unreachable store: the client may retry; never a 500, never the SQL.
        _log.warning("store_unavailable", path=request.url.path, error_type=type(exc).__name__)
        resp = problem(
            503,
            "unavailable",
            "Service unavailable",
            "the store is busy or unreachable; retry shortly",
            request.url.path,
        )
        resp.headers["Retry-After"] = "1"
        return resp

    @app.exception_handler(SAIntegrityError)
    async def _store_conflict(request: Request, exc: SAIntegrityError) -> JSONResponse:
        return problem(
            409,
            "conflict",
            "Conflict",
            "the change conflicts with existing data or a concurrent change; retry",
            request.url.path,
        )

    @app.exception_handler(DataError)
    async def _store_rejects(request: Request, exc: DataError) -> JSONResponse:
        return problem(
            422,
            "unstorable_value",
            "Invalid input",
            "a value cannot be stored (out of range or invalid characters)",
            request.url.path,
        )

    @app.exception_handler(OverflowError)
    async def _out_of_range(request: Request, exc: OverflowError) -> JSONResponse:
        # SQLite's (and datetime's) form of PostgreSQL's out-of-range DataError: a number from
        # the request too large to store or to compute a date with.
        _log.warning("value_out_of_range", path=request.url.path)
        return problem(
            422,
            "out_of_range",
            "Invalid input",
            "a number or date in the request is out of range",
            request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
        return problem(
            500,
            "internal_error",
            "Internal error",
            "an unexpected error occurred; see server logs",
            request.url.path,
        )

"""HTTP binding of the SCIM 2.0 server at ``/scim/v2`` (RFC 7644), for identity providers.

Speaks ``application/scim+json``; every error is a SCIM Error body with ``scimType`` (never
problem+json, never a traceback). Authenticated by SCIM bearer tokens only — control-plane
and personal tokens are refused here. Never logs a request body (it holds personal data).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from scim2_models import Error, NotFoundException, SCIMException
from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool

from ringfence.core.errors import AuthenticationError
from ringfence.core.logging import get_logger
from ringfence.identity.scim._discovery import resource_types, schemas, service_provider_config
from ringfence.identity.scim._service import ScimService
from ringfence.identity.scim._support import plain_detail
from ringfence.identity.scim._tokens import ScimTokens
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime

SCIM_JSON = "application/scim+json"
MAX_BODY = 1_048_576
_LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_log = get_logger("ringfence.identity.scim")

router = APIRouter(prefix="/scim/v2", tags=["scim"], include_in_schema=False)


def identity_settings(request: Request) -> IdentitySettings:
    settings = getattr(request.app.state, "identity_settings", None)
    if settings is None:
        settings = IdentitySettings()
        request.app.state.identity_settings = settings
    return settings


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _service(request: Request) -> ScimService:
    rt = _runtime(request)
    return ScimService(rt.store, rt.clock, identity_settings(request))


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/scim/v2"


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type=SCIM_JSON, headers=headers or {}
    )


def scim_error(status: int, scim_type: str | None, detail: str) -> Response:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": str(status),
        "detail": detail,
    }
    if scim_type:
        body["scimType"] = scim_type
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else None
    return scim_response(body, status, headers)


def _error_response(exc: SCIMException) -> Response:
    err: Error = exc.to_error()
    detail = plain_detail(err.detail or str(exc))
    return scim_error(err.status or exc.status, err.scim_type, detail)


async def _authenticate(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("SCIM needs `Authorization: Bearer rf_scim_...`")
    rt = _runtime(request)
    name = await run_in_threadpool(ScimTokens(rt.store, rt.clock).authenticate, token.strip())
    return f"scim:{name}"


async def _body(request: Request) -> Any:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/scim+json", "application/json"):
        raise SCIMException.from_error(
            Error(status=415, detail="send application/scim+json (or application/json)")
        )
    too_large = SCIMException.from_error(
        Error(status=413, detail=f"request body is larger than {MAX_BODY} bytes")
    )
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # never buffer more than the cap
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise SCIMException.from_error(
            Error(status=400, scim_type="invalidSyntax", detail="request body is not valid JSON")
        ) from None


Handler = Callable[[Request, str], Awaitable[Response]]


async def _guard(request: Request, handler: Handler) -> Response:
    """Authenticate, run, and render every failure as a SCIM Error."""
    try:
        actor = await _authenticate(request)
    except AuthenticationError as exc:
        return scim_error(401, None, exc.message)
    try:
        return await handler(request, actor)
    except SCIMException as exc:
        return _error_response(exc)
    except DataError:
        # e.g. NUL in text on PostgreSQL: the client's value, not a server fault.
        return scim_error(400, "invalidValue", "a value cannot be stored (invalid characters)")
    except Exception as exc:
        _log.error("scim_unhandled", path=request.url.path, error_type=type(exc).__name__)
        return scim_error(500, None, "internal error; see server logs")


def _etag_headers(payload: dict[str, Any]) -> dict[str, str]:
    headers = {"ETag": payload["meta"]["version"]}
    if payload["meta"].get("location"):
        headers["Location"] = payload["meta"]["location"]
    return headers


def _list_body(result: Any) -> dict[str, Any]:
    return {
        "schemas": [_LIST_RESPONSE],
        "totalResults": result.total,
        "startIndex": result.start_index,
        "itemsPerPage": len(result.resources),
        "Resources": result.resources,
    }


# -- discovery ------------------------------------------------------------------------------
@router.get("/ServiceProviderConfig")
async def get_spc(request: Request) -> Response:
    async def run(req: Request, _actor: str) -> Response:
        return scim_response(
            service_provider_config(_base(req), identity_settings(req).scim_max_results)
        )

    return await _guard(request, run)


def _whole_list(items: list[dict[str, Any]]) -> Response:
    """A ListResponse holding every item (discovery endpoints are never paged)."""
    return scim_response(
        {
            "schemas": [_LIST_RESPONSE],
            "totalResults": len(items),
            "startIndex": 1,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


@router.get("/ResourceTypes")
async def list_resource_types(request: Request) -> Response:
    async def run(req: Request, _actor: str) -> Response:
        items = resource_types(_base(req))
        return _whole_list(items)

    return await _guard(request, run)


@router.get("/ResourceTypes/{name}")
async def get_resource_type(request: Request, name: str) -> Response:
    async def run(req: Request, _actor: str) -> Response:
        for item in resource_types(_base(req)):
            if item["id"] == name:
                return scim_response(item)
        raise NotFoundException(detail=f"no resource type {name!r}")

    return await _guard(request, run)


@router.get("/Schemas")
async def list_schemas(request: Request) -> Response:
    async def run(req: Request, _actor: str) -> Response:
        items = schemas(_base(req))
        return _whole_list(items)

    return await _guard(request, run)


@router.get("/Schemas/{schema_id}")
async def get_schema(request: Request, schema_id: str) -> Response:
    async def run(req: Request, _actor: str) -> Response:
        for item in schemas(_base(req)):
            if item["id"] == schema_id:
                return scim_response(item)
        raise NotFoundException(detail=f"no schema {schema_id!r}")

    return await _guard(request, run)


# -- resources ------------------------------------------------------------------------------
_KINDS = {"Users": "User", "Groups": "Group"}
_READ_ONLY = frozenset({"ServiceProviderConfig", "ResourceTypes", "Schemas"})


def _kind(endpoint: str) -> str:
    kind = _KINDS.get(endpoint)
    if endpoint in _READ_ONLY:
        raise SCIMException.from_error(
            Error(status=405, detail=f"/{endpoint} is read-only: only GET is allowed")
        )
    if kind is None:
        raise NotFoundException(detail=f"no SCIM endpoint /{endpoint}")
    return kind


async def _search(req: Request, kinds: tuple[str, ...], params: dict[str, Any]) -> Response:
    svc = _service(req)
    result, _ = await run_in_threadpool(svc.search, kinds, params, _base(req))
    return scim_response(_list_body(result))


@router.get("/{endpoint}")
async def list_resources(request: Request, endpoint: str) -> Response:
    async def run(req: Request, _actor: str) -> Response:
        kind = _kind(endpoint)
        return await _search(req, (kind,), dict(req.query_params))

    return await _guard(request, run)


async def _search_body(req: Request, kinds: tuple[str, ...]) -> Response:
    body = await _body(req)
    if not isinstance(body, dict):
        raise SCIMException.from_error(
            Error(status=400, scim_type="invalidSyntax", detail="body must be an object")
        )
    params = {k: v for k, v in body.items() if k != "schemas"}
    return await _search(req, kinds, params)


@router.post("/.search")
async def search_root(request: Request) -> Response:
    async def run(req: Request, _actor: str) -> Response:
        return await _search_body(req, ("User", "Group"))

    return await _guard(request, run)


@router.post("/{endpoint}/.search")
async def search_resources(request: Request, endpoint: str) -> Response:
    async def run(req: Request, _actor: str) -> Response:
        return await _search_body(req, (_kind(endpoint),))

    return await _guard(request, run)


@router.post("/{endpoint}")
async def create_resource(request: Request, endpoint: str) -> Response:
    async def run(req: Request, actor: str) -> Response:
        kind = _kind(endpoint)
        body = await _body(req)
        svc = _service(req)
        create = svc.create_user if kind == "User" else svc.create_group
        payload = await run_in_threadpool(create, body, _base(req), actor)
        return scim_response(payload, 201, _etag_headers(payload))

    return await _guard(request, run)


@router.get("/{endpoint}/{resource_id}")
async def get_resource(request: Request, endpoint: str, resource_id: str) -> Response:
    async def run(req: Request, _actor: str) -> Response:
        kind = _kind(endpoint)
        svc = _service(req)
        get = svc.get_user if kind == "User" else svc.get_group
        payload = await run_in_threadpool(get, resource_id, _base(req))
        inm = req.headers.get("if-none-match")
        if inm and payload["meta"]["version"] in {t.strip() for t in inm.split(",")}:
            return Response(status_code=304, headers={"ETag": payload["meta"]["version"]})
        headers = _etag_headers(payload)
        params = dict(req.query_params)
        if params.get("attributes") or params.get("excludedAttributes"):
            payload = await run_in_threadpool(_select_attributes, kind, payload, params)
        return scim_response(payload, 200, headers)

    return await _guard(request, run)


def _select_attributes(kind: str, payload: dict[str, Any], params: dict[str, Any]) -> Any:
    from pydantic import ValidationError as PydanticValidationError
    from scim2_models import Context, ResponseParameters

    from ringfence.identity.scim._discovery import GroupResource, UserResource

    model = UserResource if kind == "User" else GroupResource
    try:
        rp = ResponseParameters[model].model_validate(  # type: ignore[valid-type]
            {k: v for k, v in params.items() if k in ("attributes", "excludedAttributes")}
        )
    except PydanticValidationError as exc:
        raise SCIMException.from_error(Error.from_validation_errors(exc)[0]) from None
    return model.model_validate(payload).model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=rp
    )


@router.put("/{endpoint}/{resource_id}")
async def replace_resource(request: Request, endpoint: str, resource_id: str) -> Response:
    async def run(req: Request, actor: str) -> Response:
        kind = _kind(endpoint)
        body = await _body(req)
        svc = _service(req)
        replace = svc.replace_user if kind == "User" else svc.replace_group
        payload = await run_in_threadpool(
            replace, resource_id, body, _base(req), actor, req.headers.get("if-match")
        )
        return scim_response(payload, 200, _etag_headers(payload))

    return await _guard(request, run)


@router.patch("/{endpoint}/{resource_id}")
async def patch_resource(request: Request, endpoint: str, resource_id: str) -> Response:
    async def run(req: Request, actor: str) -> Response:
        kind = _kind(endpoint)
        body = await _body(req)
        svc = _service(req)
        patch = svc.patch_user if kind == "User" else svc.patch_group
        payload = await run_in_threadpool(
            patch, resource_id, body, _base(req), actor, req.headers.get("if-match")
        )
        return scim_response(payload, 200, _etag_headers(payload))

    return await _guard(request, run)


@router.delete("/{endpoint}/{resource_id}")
async def delete_resource(request: Request, endpoint: str, resource_id: str) -> Response:
    async def run(req: Request, actor: str) -> Response:
        kind = _kind(endpoint)
        svc = _service(req)
        delete = svc.delete_user if kind == "User" else svc.delete_group
        await run_in_threadpool(delete, resource_id, actor, req.headers.get("if-match"), _base(req))
        return Response(status_code=204)

    return await _guard(request, run)


@router.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
)
async def unknown_endpoint(request: Request, rest: str) -> Response:
    async def run(req: Request, _actor: str) -> Response:
        # HEAD and OPTIONS reach here for every path (no route declares them): a SCIM 405,
        # not the API's problem+json (or a 404 naming an endpoint that exists).
        if req.method in ("HEAD", "OPTIONS") or rest.split("/", 1)[0] in _READ_ONLY:
            return scim_error(405, None, f"{req.method} is not allowed on /{rest}")
        raise NotFoundException(detail=f"no SCIM endpoint /{rest}")

    return await _guard(request, run)

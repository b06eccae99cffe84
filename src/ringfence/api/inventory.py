"""``/api/v1`` inventory routes: vendors, apps, integrations, credentials, flows, people.

Thin HTTP adapters over :class:`ringfence.inventory.repository.InventoryRepository`: each
request is one unit of work (everything or nothing), each change one audit record with the
caller as actor. Routes never return a secret: credentials are exposed by reference only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from ringfence.api.deps import (
    CurrentPrincipal,
    Principal,
    authorize,
    get_runtime,
    reject_nul_characters,
)
from ringfence.api.schemas import (
    AppCreate,
    AppOut,
    AppPatch,
    CredentialCreate,
    CredentialOut,
    CredentialPatch,
    FlowCreate,
    FlowOut,
    FlowPatch,
    IntegrationCreate,
    IntegrationOut,
    IntegrationPatch,
    PageOut,
    PersonCreate,
    PersonOut,
    PersonPatch,
    RevokeRequestOut,
    StatusChange,
    StatusChangeOut,
    VendorCreate,
    VendorOut,
    VendorPatch,
)
from ringfence.inventory.repository import (
    AppQuery,
    CredentialQuery,
    EntityKind,
    FlowQuery,
    IntegrationQuery,
    InventoryRepository,
    Page,
    PersonQuery,
    VendorQuery,
)
from ringfence.respond.engine import Responder
from ringfence.store.models import IntegrationStatus

router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(authorize), Depends(reject_nul_characters)],
)
OutT = TypeVar("OutT", bound=BaseModel)


@contextmanager
def _repo(request: Request, principal: Principal) -> Iterator[InventoryRepository]:
    rt = get_runtime(request)
    with rt.store.session() as session:
        yield InventoryRepository(session, actor=principal.actor, clock=rt.clock)


def _page(request: Request, response: Response, page: Page[Any], out: type[OutT]) -> PageOut[OutT]:
    nxt = None
    if page.next_offset is not None:
        nxt = str(request.url.include_query_params(offset=page.next_offset, limit=page.limit))
        response.headers["Link"] = f'<{nxt}>; rel="next"'
    response.headers["X-Total-Count"] = str(page.total)
    return PageOut[out](  # type: ignore[valid-type]
        items=[out.model_validate(item) for item in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        next=nxt,
    )


def _created(request: Request, response: Response, kind: str, obj: Any) -> None:
    response.headers["Location"] = str(request.url_for(f"get_{kind}", ref=obj.id))


def _list(
    request: Request, response: Response, p: Principal, kind: EntityKind, q: Any, out: type[OutT]
) -> PageOut[OutT]:
    with _repo(request, p) as repo:
        return _page(request, response, repo.list_page(kind, q), out)


def _get(request: Request, p: Principal, kind: EntityKind, ref: str, out: type[OutT]) -> OutT:
    with _repo(request, p) as repo:
        return out.model_validate(repo.get(kind, ref))


def _create(
    request: Request,
    response: Response,
    p: Principal,
    kind: EntityKind,
    body: BaseModel,
    out: type[OutT],
) -> OutT:
    with _repo(request, p) as repo:
        obj = repo.create(kind, body.model_dump(exclude_unset=True))
        _created(request, response, kind, obj)
        return out.model_validate(obj)


def _update(
    request: Request, p: Principal, kind: EntityKind, ref: str, body: BaseModel, out: type[OutT]
) -> OutT:
    with _repo(request, p) as repo:
        return out.model_validate(repo.update(kind, ref, body.model_dump(exclude_unset=True)))


def _delete(request: Request, p: Principal, kind: EntityKind, ref: str) -> Response:
    with _repo(request, p) as repo:
        repo.delete(kind, ref)
    return Response(status_code=204)


Ref = Annotated[
    str, Path(min_length=1, max_length=320, description="Name (email for a person) or id.")
]


# -- vendors --------------------------------------------------------------------------------
@router.get("/vendors", tags=["vendors"])
def list_vendors(
    request: Request, response: Response, q: Annotated[VendorQuery, Query()], p: CurrentPrincipal
) -> PageOut[VendorOut]:
    return _list(request, response, p, "vendor", q, VendorOut)


@router.get("/vendors/{ref}", tags=["vendors"])
def get_vendor(request: Request, ref: Ref, p: CurrentPrincipal) -> VendorOut:
    return _get(request, p, "vendor", ref, VendorOut)


@router.post("/vendors", status_code=201, tags=["vendors"])
def create_vendor(
    request: Request, response: Response, body: VendorCreate, p: CurrentPrincipal
) -> VendorOut:
    return _create(request, response, p, "vendor", body, VendorOut)


@router.patch("/vendors/{ref}", tags=["vendors"])
def update_vendor(request: Request, ref: Ref, body: VendorPatch, p: CurrentPrincipal) -> VendorOut:
    return _update(request, p, "vendor", ref, body, VendorOut)


@router.delete("/vendors/{ref}", status_code=204, tags=["vendors"])
def delete_vendor(request: Request, ref: Ref, p: CurrentPrincipal) -> Response:
    return _delete(request, p, "vendor", ref)


# -- apps -----------------------------------------------------------------------------------
@router.get("/apps", tags=["apps"])
def list_apps(
    request: Request, response: Response, q: Annotated[AppQuery, Query()], p: CurrentPrincipal
) -> PageOut[AppOut]:
    return _list(request, response, p, "app", q, AppOut)


@router.get("/apps/{ref}", tags=["apps"])
def get_app(request: Request, ref: Ref, p: CurrentPrincipal) -> AppOut:
    return _get(request, p, "app", ref, AppOut)


@router.post("/apps", status_code=201, tags=["apps"])
def create_app_(
    request: Request, response: Response, body: AppCreate, p: CurrentPrincipal
) -> AppOut:
    return _create(request, response, p, "app", body, AppOut)


@router.patch("/apps/{ref}", tags=["apps"])
def update_app(request: Request, ref: Ref, body: AppPatch, p: CurrentPrincipal) -> AppOut:
    return _update(request, p, "app", ref, body, AppOut)


@router.delete("/apps/{ref}", status_code=204, tags=["apps"])
def delete_app(request: Request, ref: Ref, p: CurrentPrincipal) -> Response:
    return _delete(request, p, "app", ref)


# -- integrations ---------------------------------------------------------------------------
@router.get("/integrations", tags=["integrations"])
def list_integrations(
    request: Request,
    response: Response,
    q: Annotated[IntegrationQuery, Query()],
    p: CurrentPrincipal,
) -> PageOut[IntegrationOut]:
    return _list(request, response, p, "integration", q, IntegrationOut)


@router.get("/integrations/{ref}", tags=["integrations"])
def get_integration(request: Request, ref: Ref, p: CurrentPrincipal) -> IntegrationOut:
    return _get(request, p, "integration", ref, IntegrationOut)


@router.post("/integrations", status_code=201, tags=["integrations"])
def create_integration(
    request: Request, response: Response, body: IntegrationCreate, p: CurrentPrincipal
) -> IntegrationOut:
    return _create(request, response, p, "integration", body, IntegrationOut)


@router.patch("/integrations/{ref}", tags=["integrations"])
def update_integration(
    request: Request, ref: Ref, body: IntegrationPatch, p: CurrentPrincipal
) -> IntegrationOut:
    return _update(request, p, "integration", ref, body, IntegrationOut)


@router.delete("/integrations/{ref}", status_code=204, tags=["integrations"])
def delete_integration(request: Request, ref: Ref, p: CurrentPrincipal) -> Response:
    """Delete an integration that nothing references any more (credentials, flows).

    A revoked integration is never deleted (``409 revoked_is_final``): revoked is final and
    took a second person, and deleting it removed its gateway clients, API keys and review
    items with it and freed its name and client_id for a new, active integration (session
    14). It stays as the record of what was revoked."""
    return _delete(request, p, "integration", ref)


def _set_status(
    request: Request, p: Principal, ref: str, status: IntegrationStatus, body: StatusChange | None
) -> StatusChangeOut:
    with _repo(request, p) as repo:
        obj, changed = repo.set_integration_status(ref, status, body.reason if body else None)
        return StatusChangeOut(integration=IntegrationOut.model_validate(obj), changed=changed)


@router.post("/integrations/{ref}/quarantine", tags=["integrations"])
def quarantine_integration(
    request: Request, ref: Ref, p: CurrentPrincipal, body: StatusChange | None = None
) -> StatusChangeOut:
    """Stop the integration at the gateway until it is activated again."""
    return _set_status(request, p, ref, IntegrationStatus.QUARANTINED, body)


@router.post(
    "/integrations/{ref}/revoke",
    tags=["integrations"],
    status_code=202,
    responses={200: {"model": StatusChangeOut, "description": "Revoked already: no change."}},
)
def revoke_integration(
    request: Request,
    response: Response,
    ref: Ref,
    p: CurrentPrincipal,
    body: StatusChange | None = None,
) -> RevokeRequestOut | StatusChangeOut:
    """Ask for the integration to be disabled for good (final: it cannot be activated again).

    Revoked is final, so one person cannot do it alone (four eyes, as a playbook's
    ``revoke_integration`` step): the integration is quarantined now and a ``202`` names the
    request's incident, whose revoke step a second person approves
    (``POST /api/v1/respond/incidents/{id}/steps/2/approve``). Before session 14 anyone with
    ``write`` revoked directly. Revoked already: ``200``, ``changed: false``."""
    rt = get_runtime(request)
    with _repo(request, p) as repo:
        integration_id = repo.get("integration", ref).id
    responder = Responder(rt.store, rt.vault, rt.clock)
    incident, opened = responder.request_revoke(
        integration_id, actor=p.actor, reason=(body.reason or "") if body else ""
    )
    with _repo(request, p) as repo:
        now = IntegrationOut.model_validate(repo.get("integration", integration_id))
    if incident is None:
        response.status_code = 200
        return StatusChangeOut(integration=now, changed=False)
    view = responder.show(incident)
    step = next(st["position"] for st in view["steps"] if st["action"] == "revoke_integration")
    response.headers["Location"] = f"/api/v1/respond/incidents/{incident}"
    return RevokeRequestOut(
        integration=now,
        changed=opened,
        incident=incident,
        status=view["status"],
        approve=f"/api/v1/respond/incidents/{incident}/steps/{step}/approve",
    )


@router.post("/integrations/{ref}/activate", tags=["integrations"])
def activate_integration(
    request: Request, ref: Ref, p: CurrentPrincipal, body: StatusChange | None = None
) -> StatusChangeOut:
    """Lift a quarantine."""
    return _set_status(request, p, ref, IntegrationStatus.ACTIVE, body)


# -- credentials ----------------------------------------------------------------------------
@router.get("/credentials", tags=["credentials"])
def list_credentials(
    request: Request,
    response: Response,
    q: Annotated[CredentialQuery, Query()],
    p: CurrentPrincipal,
) -> PageOut[CredentialOut]:
    return _list(request, response, p, "credential", q, CredentialOut)


@router.get("/credentials/{ref}", tags=["credentials"])
def get_credential(request: Request, ref: Ref, p: CurrentPrincipal) -> CredentialOut:
    return _get(request, p, "credential", ref, CredentialOut)


@router.post("/credentials", status_code=201, tags=["credentials"])
def create_credential(
    request: Request, response: Response, body: CredentialCreate, p: CurrentPrincipal
) -> CredentialOut:
    return _create(request, response, p, "credential", body, CredentialOut)


@router.patch("/credentials/{ref}", tags=["credentials"])
def update_credential(
    request: Request, ref: Ref, body: CredentialPatch, p: CurrentPrincipal
) -> CredentialOut:
    return _update(request, p, "credential", ref, body, CredentialOut)


@router.delete("/credentials/{ref}", status_code=204, tags=["credentials"])
def delete_credential(request: Request, ref: Ref, p: CurrentPrincipal) -> Response:
    return _delete(request, p, "credential", ref)


# -- flows ----------------------------------------------------------------------------------
@router.get("/flows", tags=["flows"])
def list_flows(
    request: Request, response: Response, q: Annotated[FlowQuery, Query()], p: CurrentPrincipal
) -> PageOut[FlowOut]:
    return _list(request, response, p, "flow", q, FlowOut)


@router.get("/flows/{ref}", tags=["flows"])
def get_flow(request: Request, ref: Ref, p: CurrentPrincipal) -> FlowOut:
    return _get(request, p, "flow", ref, FlowOut)


@router.post("/flows", status_code=201, tags=["flows"])
def create_flow(
    request: Request, response: Response, body: FlowCreate, p: CurrentPrincipal
) -> FlowOut:
    return _create(request, response, p, "flow", body, FlowOut)


@router.patch("/flows/{ref}", tags=["flows"])
def update_flow(request: Request, ref: Ref, body: FlowPatch, p: CurrentPrincipal) -> FlowOut:
    return _update(request, p, "flow", ref, body, FlowOut)


@router.delete("/flows/{ref}", status_code=204, tags=["flows"])
def delete_flow(request: Request, ref: Ref, p: CurrentPrincipal) -> Response:
    return _delete(request, p, "flow", ref)


# -- people ---------------------------------------------------------------------------------
@router.get("/people", tags=["people"])
def list_people(
    request: Request, response: Response, q: Annotated[PersonQuery, Query()], p: CurrentPrincipal
) -> PageOut[PersonOut]:
    return _list(request, response, p, "person", q, PersonOut)


@router.get("/people/{ref}", tags=["people"])
def get_person(request: Request, ref: Ref, p: CurrentPrincipal) -> PersonOut:
    return _get(request, p, "person", ref, PersonOut)


@router.post("/people", status_code=201, tags=["people"])
def create_person(
    request: Request, response: Response, body: PersonCreate, p: CurrentPrincipal
) -> PersonOut:
    return _create(request, response, p, "person", body, PersonOut)


@router.patch("/people/{ref}", tags=["people"])
def update_person(request: Request, ref: Ref, body: PersonPatch, p: CurrentPrincipal) -> PersonOut:
    return _update(request, p, "person", ref, body, PersonOut)


@router.delete("/people/{ref}", status_code=204, tags=["people"])
def delete_person(request: Request, ref: Ref, p: CurrentPrincipal) -> Response:
    return _delete(request, p, "person", ref)

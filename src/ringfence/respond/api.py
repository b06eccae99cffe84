"""``/api/v1/respond``: playbooks, incidents, approvals, drills and evidence over HTTP.

Reading needs ``read``; opening, approving, skipping and closing need ``write``. The caller is
the actor (``token:ci-bot``, ``user:alice``). Approvals need a person (``engine.person_of``):
whoever opened an incident cannot approve its steps under any of their names, and a
control-plane token, which is automation, cannot approve at all. An incident opened with a
control-plane token is its creator's request (``ApiToken.created_by``): they cannot approve
it, and if the token's creator is not a person no one can until it is attributed.
Sinks come from ``<data_dir>/monitor.yaml``; connectors (for ``revoke_oauth_grants``) from
``RINGFENCE_CONNECTORS_FILE``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field
from sqlalchemy import select

from ringfence.api.deps import CurrentPrincipal, authorize, get_runtime, reject_nul_characters
from ringfence.api.schemas import _Body
from ringfence.respond.engine import Responder
from ringfence.respond.models import Playbook
from ringfence.respond.wiring import responder_for

router = APIRouter(
    prefix="/api/v1/respond",
    tags=["respond"],
    dependencies=[Depends(authorize), Depends(reject_nul_characters)],
)


class IncidentIn(_Body):
    playbook: str = Field(min_length=1, max_length=100)
    integration: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2000)
    drill: bool = False


class DecisionIn(_Body):
    comment: str = Field(default="", max_length=2000)


class CloseIn(_Body):
    summary: str = Field(min_length=3, max_length=5000)


def _responder(request: Request) -> Responder:
    return responder_for(get_runtime(request))


@router.get("/playbooks")
def list_playbooks(request: Request) -> list[dict[str, Any]]:
    with get_runtime(request).store.session() as s:
        return [dict(p.spec) for p in s.scalars(select(Playbook).order_by(Playbook.name))]


@router.get("/incidents")
def list_incidents(
    request: Request,
    response: Response,
    status: Literal["open", "awaiting_approval", "contained", "needs_attention", "closed"]
    | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    """Incidents and drills, newest first: ``limit`` (1-1000, default 100) from ``offset``;
    ``X-Total-Count`` counts them all (before, every incident ever opened came back)."""
    rt = get_runtime(request)
    responder = Responder(rt.store, rt.vault, rt.clock)
    response.headers["X-Total-Count"] = str(responder.count_incidents(status))
    return responder.incidents(status, limit=limit, offset=offset)


@router.post("/incidents", status_code=201)
def open_incident(
    request: Request, response: Response, body: IncidentIn, p: CurrentPrincipal
) -> dict[str, Any]:
    """Open an incident (or a drill) and run it until a step needs approval."""
    r = _responder(request)
    incident = r.start(
        body.playbook, body.integration, actor=p.actor, reason=body.reason, drill=body.drill
    )
    response.headers["Location"] = f"/api/v1/respond/incidents/{incident}"
    return r.show(incident)


@router.get("/incidents/{incident}")
def get_incident(request: Request, incident: str) -> dict[str, Any]:
    rt = get_runtime(request)
    return Responder(rt.store, rt.vault, rt.clock).show(incident)


@router.post("/incidents/{incident}/steps/{position}/approve")
def approve_step(
    request: Request, incident: str, position: int, body: DecisionIn, p: CurrentPrincipal
) -> dict[str, Any]:
    r = _responder(request)
    r.approve(incident, position, actor=p.actor, comment=body.comment)
    return r.show(incident)


@router.post("/incidents/{incident}/steps/{position}/skip")
def skip_step(
    request: Request, incident: str, position: int, body: DecisionIn, p: CurrentPrincipal
) -> dict[str, Any]:
    r = _responder(request)
    r.skip(incident, position, actor=p.actor, comment=body.comment)
    return r.show(incident)


@router.post("/incidents/{incident}/close")
def close_incident(
    request: Request, incident: str, body: CloseIn, p: CurrentPrincipal
) -> dict[str, Any]:
    r = _responder(request)
    r.close(incident, actor=p.actor, summary=body.summary)
    return r.show(incident)


@router.get("/incidents/{incident}/evidence")
def get_evidence(request: Request, incident: str) -> list[dict[str, Any]]:
    rt = get_runtime(request)
    return Responder(rt.store, rt.vault, rt.clock).evidence(incident)

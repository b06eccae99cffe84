"""``/api/v1/identity/reviews``: access-review campaigns over HTTP, per-role.

Managers (``reviews:manage``) create, close and remind; auditors (``reviews:read``) read and
export evidence; integration owners (``reviews:decide``) see and decide only the items of
integrations they own.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AwareDatetime, Field, StrictStr

from ringfence.api.deps import Principal
from ringfence.core.errors import PermissionDeniedError
from ringfence.core.reserved import name_problem
from ringfence.identity._http import Caller, StrictBody, need, needs, runtime_of
from ringfence.identity.auth import settings_of
from ringfence.identity.reviews import AccessReviews
from ringfence.identity.roles import REVIEWS_DECIDE, REVIEWS_MANAGE, REVIEWS_READ

reviews_router = APIRouter()


class CampaignIn(StrictBody):
    name: StrictStr = Field(min_length=1, max_length=200)
    scope_kind: StrictStr = Field(pattern="^(app|owner)$")
    scope: StrictStr = Field(min_length=1, max_length=320, description="app or person ref")
    due_at: AwareDatetime
    used_scopes: dict[StrictStr, list[StrictStr]] | None = Field(default=None, max_length=10000)


class DecisionIn(StrictBody):
    decision: StrictStr = Field(pattern="^(keep|reduce|revoke)$")
    comment: StrictStr = Field(default="", max_length=2000)
    kept_scopes: list[StrictStr] | None = Field(default=None, max_length=500)


def _reviews(request: Request) -> AccessReviews:
    rt = runtime_of(request)
    return AccessReviews(rt.store, rt.clock, vault=rt.vault)


def _campaign_out(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "scope_kind": c.scope_kind,
        "scope_id": c.scope_id,
        "status": c.status,
        "due_at": c.due_at,
        "created_by": c.created_by,
        "created_at": c.created_at,
        "closed_at": c.closed_at,
        # stored before such names were refused: reach it by id (core.reserved)
        "name_problem": name_problem("review campaign", c.name),
    }


def _reviewer_filter(caller: Principal) -> str | None:
    """Owners see and decide only their own integrations' items."""
    if REVIEWS_READ in caller.scopes or REVIEWS_MANAGE in caller.scopes:
        return None
    need(caller, REVIEWS_DECIDE)
    if caller.person_id is None:
        raise PermissionDeniedError("your account is not linked to a person in the inventory")
    return caller.person_id


def _decider_filter(caller: Principal) -> str | None:
    """Whose items the caller may decide: any (``reviews:manage``) or, otherwise, only those
    of the integrations their person owns — seeing every item (``reviews:read``, an auditor
    who also owns integrations) is not deciding them."""
    need(caller, REVIEWS_DECIDE)
    if REVIEWS_MANAGE in caller.scopes:
        return None
    if caller.person_id is None:
        raise PermissionDeniedError("your account is not linked to a person in the inventory")
    return caller.person_id


def _decider(caller: Caller) -> Principal:
    """A dependency: a caller who may decide some items (checked before the body is read)."""
    _decider_filter(caller)
    return caller


# Who may call a route is a dependency, checked before the body and the query are validated:
# a caller without the scope gets 403, not a 422 that lists the body's fields (_http.py).
Manager = Annotated[Principal, Depends(needs(REVIEWS_MANAGE))]
Decider = Annotated[Principal, Depends(_decider)]


@reviews_router.post("/reviews", status_code=201)
def create_campaign(request: Request, body: CampaignIn, caller: Manager) -> dict[str, Any]:
    campaign = _reviews(request).create(
        body.name,
        scope_kind=body.scope_kind,
        scope_ref=body.scope,
        due_at=body.due_at,
        actor=caller.actor,
        used_scopes=body.used_scopes,
    )
    # Segregation of duties: items only their own owner could decide are reported, not
    # left to stall silently.
    stalled = _reviews(request).without_independent_reviewer(campaign.id)
    return {**_campaign_out(campaign), "no_independent_reviewer": stalled}


@reviews_router.get("/reviews")
def list_campaigns(request: Request, caller: Caller) -> list[dict[str, Any]]:
    only = _reviewer_filter(caller)
    return [_campaign_out(c) for c in _reviews(request).campaigns(reviewer_id=only)]


@reviews_router.get("/reviews/{ref}")
def show_campaign(request: Request, ref: str, caller: Caller) -> dict[str, Any]:
    only = _reviewer_filter(caller)
    reviews = _reviews(request)
    out: dict[str, Any] = {"items": reviews.items(ref, reviewer_id=only)}
    if only is None:
        out["no_independent_reviewer"] = reviews.without_independent_reviewer(ref)
    return out


@reviews_router.post("/reviews/{ref}/items/{item_id}/decision")
def decide_item(
    request: Request, ref: str, item_id: str, body: DecisionIn, caller: Decider
) -> dict[str, Any]:
    only = _decider_filter(caller)
    item = _reviews(request).decide(
        ref,
        item_id,
        decision=body.decision,
        comment=body.comment,
        kept_scopes=body.kept_scopes,
        actor=caller.actor,
        only_reviewer=only,
        # a keep/reduce of one's own integration is refused (403 self_review)
        decider_id=caller.id if caller.kind == "user" else None,
    )
    # A revoke is asked for, not done: the integration is quarantined and a person other
    # than the reviewer approves the revoke (revoked is final; docs/identity.md).
    request_ = item.revoke_request
    return {
        "id": item.id,
        "decision": item.decision,
        "kept_scopes": item.kept_scopes,
        "revoke_request": dataclasses.asdict(request_) if request_ else None,
    }


@reviews_router.post("/reviews/{ref}/close")
def close_campaign(request: Request, ref: str, caller: Manager) -> dict[str, int]:
    return _reviews(request).close(ref, actor=caller.actor)


@reviews_router.post("/reviews/remind")
def send_reminders(
    request: Request, caller: Manager, sink: str | None = None
) -> list[dict[str, Any]]:
    """Reminders due now; with ``?sink=NAME`` delivered through that monitor.yaml sink."""
    from ringfence.identity.reviews import reminder_sender
    from ringfence.monitor.wiring import configured_sink

    send = reminder_sender(configured_sink(runtime_of(request), sink)) if sink else None
    days = settings_of(request).review_reminder_days
    found = _reviews(request).reminders(within_days=days, actor=caller.actor, send=send)
    return [r.__dict__ for r in found]


@reviews_router.get("/reviews/{ref}/export")
def export_campaign(
    request: Request,
    ref: str,
    caller: Annotated[Principal, Depends(needs(REVIEWS_READ))],
    format: str = "json",
) -> Response:
    body = _reviews(request).export(ref, format)
    media = "text/csv" if format == "csv" else "application/json"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="review-evidence.{format}"'},
    )

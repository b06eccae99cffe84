"""Access reviews: campaigns over the integrations of one app or one owner, granted vs used.

Used scopes come from the gateway's usage table (``gateway_usage(integration, scope, route,
count, last_seen)``, the contract posture reads too) when it exists and has rows, otherwise
from an explicit input given when the campaign is created. Decisions (keep / reduce / revoke,
with a comment) are recorded and applied in the store in the same transaction: ``reduce``
narrows ``Integration.scopes``; ``revoke`` quarantines the integration at once and asks for
the revoke through the responder (``Responder.request_revoke``): revoked is final, so a second
person approves it, as any revoke (session 14: before, one reviewer revoked alone). The
gateway enforces both. Evidence exports (CSV, JSON) carry the audit-chain head and each
revoke decision's request so auditors can tie them to the tamper-evident log. Never deletes
an integration, and never revokes one by itself.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import inspect, or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RingfenceError,
    ValidationError,
)
from ringfence.core.reserved import name_problem
from ringfence.identity.models import ConsoleUser, ReviewCampaign, ReviewItem
from ringfence.identity.roles import REVIEWS_DECIDE, REVIEWS_MANAGE, ROLE_SCOPES
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import App, AuditRecord, Integration, IntegrationStatus, Person
from ringfence.store.vault import Vault

DECISIONS = ("keep", "reduce", "revoke")


NO_OWNER = "(no owner: security team)"
# Reminder "reviewer" for items nobody but their owner could decide (segregation of duties).
NO_INDEPENDENT = "(no reviewer but the owner: security team)"
# Roles that decide any item: the independent reviewers of an owner's integrations.
_INDEPENDENT_ROLES = frozenset(
    role for role, scopes in ROLE_SCOPES.items() if {REVIEWS_MANAGE, REVIEWS_DECIDE} <= scopes
)


class SelfReviewError(PermissionDeniedError):
    code = "self_review"
    title = "Segregation of duties"


def is_subject(s: Session, user: ConsoleUser, owner_id: str | None) -> bool:
    """Whether the console user is the person whose access an item reviews (the owner of its
    integration): linked to that person, or declared with its email (``person_email``)."""
    if owner_id is None:
        return False
    if user.person_id == owner_id:
        return True
    if not user.person_email:
        return False
    owner = s.get(Person, owner_id)
    return owner is not None and (owner.email or "").lower() == user.person_email.lower()


class ReminderNotSent(RingfenceError):
    code = "reminder_not_sent"
    status = 502
    title = "Reminder not delivered"


@dataclass(frozen=True)
class Reminder:
    campaign: str
    reviewer: str
    pending: int
    due_at: datetime
    overdue: bool
    delivery: str | None = None  # "sent", "failed: <why>", or None when nothing was sent


# Sends one reminder; raises to say it could not (the campaign is then reminded again next run).
ReminderSender = Callable[["Reminder"], None]


def _gateway_usage(s: Session) -> dict[str, set[str]] | None:
    try:
        if not inspect(s.connection()).has_table("gateway_usage"):
            return None
        rows = s.execute(
            text("SELECT integration, scope FROM gateway_usage WHERE scope IS NOT NULL")
        ).all()
    except SQLAlchemyError:
        return None
    if not rows:
        return None
    used: dict[str, set[str]] = {}
    for integration, scope in rows:
        used.setdefault(str(integration), set()).add(str(scope))
    return used


@dataclass(frozen=True)
class RevokeRequest:
    """The four-eyes request a ``revoke`` decision opened (or joined, when one was waiting):
    an incident of the built-in ``request:revoke_integration`` playbook."""

    incident: str
    status: str  # the incident's: awaiting_approval until a second person decides
    approve: str  # where that person approves it (REST); ``…/skip`` declines it


@dataclass(frozen=True)
class Decided:
    """A recorded decision; for a ``revoke``, the request that a second person approves
    (None when the integration was revoked already)."""

    id: str
    decision: str
    kept_scopes: list[str] | None
    revoke_request: RevokeRequest | None = None


# Audit action linking a revoke decision (entity: the review item) to its request's incident.
REVOKE_REQUEST_ACTION = "review.revoke_request"


class AccessReviews:
    def __init__(self, store: Store, clock: Clock, *, vault: Vault | None = None) -> None:
        self._store = store
        self._clock = clock
        self._vault = vault

    # -- campaigns -------------------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        scope_kind: str,
        scope_ref: str,
        due_at: datetime,
        actor: str,
        used_scopes: dict[str, list[str]] | None = None,
    ) -> ReviewCampaign:
        if not name.strip() or len(name) > 200:
            raise ValidationError("a campaign needs a name of 1-200 characters")
        if any(not c.isprintable() for c in name):
            raise ValidationError("a campaign name must not contain control characters")
        # /reviews/{ref} reaches it by name: no '/', '.', '..' nor 'remind' (core.reserved)
        problem = name_problem("review campaign", name)
        if problem is not None:
            raise ValidationError(problem)
        if scope_kind not in ("app", "owner"):
            raise ValidationError("scope_kind must be `app` or `owner`")
        if due_at.tzinfo is None:
            raise ValidationError("due_at must carry a timezone")
        now = self._clock.now()
        if due_at <= now:
            raise ValidationError("due_at must be in the future")
        with self._store.session() as s:
            if s.scalar(select(ReviewCampaign.id).where(ReviewCampaign.name == name)):
                raise ConflictError(f"a campaign named {name!r} already exists")
            if scope_kind == "app":
                app = s.scalar(select(App).where(or_(App.id == scope_ref, App.name == scope_ref)))
                if app is None:
                    raise NotFoundError(f"no app {scope_ref!r}")
                scope_id = app.id
                query = select(Integration).where(
                    or_(
                        Integration.destination_app_id == app.id,
                        Integration.source_app_id == app.id,
                    )
                )
            else:
                person = s.scalar(
                    select(Person).where(
                        or_(Person.id == scope_ref, Person.email == scope_ref.lower())
                    )
                )
                if person is None:
                    raise NotFoundError(f"no person {scope_ref!r}")
                scope_id = person.id
                query = select(Integration).where(Integration.owner_id == person.id)
            integrations = list(
                s.scalars(
                    query.where(Integration.status != IntegrationStatus.REVOKED).order_by(
                        Integration.name
                    )
                )
            )
            if not integrations:
                raise ValidationError(f"no integrations to review for {scope_kind} {scope_ref!r}")
            observed = _gateway_usage(s)
            source = "gateway" if observed is not None else "input" if used_scopes else "none"
            if used_scopes:
                unknown = set(used_scopes) - {i.name for i in integrations}
                if unknown:
                    raise ValidationError(
                        f"used scopes given for integrations outside the campaign: "
                        f"{sorted(unknown)}"
                    )
            campaign = ReviewCampaign(
                name=name,
                scope_kind=scope_kind,
                scope_id=scope_id,
                due_at=due_at,
                created_by=actor,
                created_at=now,
            )
            s.add(campaign)
            s.flush()
            for integ in integrations:
                if observed is not None:
                    used = sorted(observed.get(integ.name, set()) | observed.get(integ.id, set()))
                else:
                    used = sorted(set((used_scopes or {}).get(integ.name, [])))
                s.add(
                    ReviewItem(
                        campaign_id=campaign.id,
                        integration_id=integ.id,
                        reviewer_id=integ.owner_id,
                        granted_scopes=sorted(integ.scopes),
                        used_scopes=used,
                        used_source=source,
                    )
                )
            audit.append(
                s,
                actor=actor,
                action="review.create",
                entity_type="review_campaign",
                entity_id=campaign.id,
                after={"name": name, "items": len(integrations), "used_source": source},
                clock=self._clock,
            )
            s.flush()
            stalled = [integ.name for _, integ in self._stalled(s, campaign.id)]
            if stalled:
                # Not silent: only the owners themselves could decide these (e.g. the sole
                # administrator owns them); reported here, by `show` and by reminders.
                audit.append(
                    s,
                    actor=actor,
                    action="review.no_independent_reviewer",
                    entity_type="review_campaign",
                    entity_id=campaign.id,
                    after={"integrations": stalled},
                    clock=self._clock,
                )
            return campaign

    def _campaign(self, s: Session, ref: str) -> ReviewCampaign:
        campaign = s.scalar(
            select(ReviewCampaign).where(or_(ReviewCampaign.id == ref, ReviewCampaign.name == ref))
        )
        if campaign is None:
            raise NotFoundError(f"no review campaign {ref!r}")
        return campaign

    def campaigns(self, reviewer_id: str | None = None) -> list[ReviewCampaign]:
        """Every campaign, or with ``reviewer_id`` only those holding an item of an integration
        that person owns (an owner does not see the others' campaigns)."""
        with self._store.session() as s:
            query = select(ReviewCampaign).order_by(ReviewCampaign.created_at)
            if reviewer_id is not None:
                mine = (
                    select(ReviewItem.campaign_id)
                    .join(Integration, Integration.id == ReviewItem.integration_id)
                    .where(Integration.owner_id == reviewer_id)
                )
                query = query.where(ReviewCampaign.id.in_(mine))
            return list(s.scalars(query))

    def _items_query(self, campaign_id: str, reviewer_id: str | None, pending_only: bool) -> Any:
        query = (
            select(ReviewItem, Integration, Person.email)
            .join(Integration, Integration.id == ReviewItem.integration_id)
            .outerjoin(Person, Person.id == ReviewItem.reviewer_id)
            .where(ReviewItem.campaign_id == campaign_id)
        )
        if reviewer_id is not None:
            # The integration's owner now, not when the campaign started: after a
            # reassignment the item moves to the new owner.
            query = query.where(Integration.owner_id == reviewer_id)
        if pending_only:
            query = query.where(ReviewItem.decision.is_(None))
        return query

    def items(
        self,
        ref: str,
        *,
        reviewer_id: str | None = None,
        pending_only: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """The campaign's items by integration name; ``reviewer_id`` restricts to one owner's
        integrations, ``pending_only`` to undecided items, ``limit``/``offset`` to a page."""
        with self._store.session() as s:
            campaign = self._campaign(s, ref)
            query = self._items_query(campaign.id, reviewer_id, pending_only).order_by(
                Integration.name, ReviewItem.id
            )
            if limit is not None:
                query = query.limit(limit).offset(offset)
            rows = s.execute(query).all()
            requests = self._requests_of(s, [item.id for item, _, _ in rows])
            out = []
            for item, integ, owner_email in rows:
                out.append(
                    {
                        "id": item.id,
                        "integration": integ.name,
                        "integration_id": integ.id,
                        "status": integ.status.value,
                        "owner": owner_email,
                        "granted_scopes": item.granted_scopes,
                        # what it holds now; a reduce may keep only scopes in both lists
                        "current_scopes": sorted(integ.scopes),
                        "used_scopes": item.used_scopes,
                        "unused_scopes": sorted(set(item.granted_scopes) - set(item.used_scopes)),
                        "used_source": item.used_source,
                        "decision": item.decision,
                        "kept_scopes": item.kept_scopes,
                        "comment": item.comment,
                        "decided_by": item.decided_by,
                        "decided_at": item.decided_at,
                        # a revoke decision's four-eyes request: {incident, status}
                        "revoke_request": requests.get(item.id),
                    }
                )
            return out

    @staticmethod
    def _requests_of(s: Session, item_ids: list[str]) -> dict[str, dict[str, str]]:
        """The revoke requests linked to these items (from the audit chain): item id →
        {incident, status}."""
        from ringfence.respond.models import Incident

        if not item_ids:
            return {}
        links: dict[str, str] = {}
        for item_id, after in s.execute(
            select(AuditRecord.entity_id, AuditRecord.after)
            .where(
                AuditRecord.action == REVOKE_REQUEST_ACTION,
                AuditRecord.entity_type == "review_item",
                AuditRecord.entity_id.in_(item_ids),
            )
            .order_by(AuditRecord.seq)
        ):
            incident = (after or {}).get("incident") if isinstance(after, dict) else None
            if isinstance(incident, str):
                links[str(item_id)] = incident
        statuses = dict(
            s.execute(
                select(Incident.id, Incident.status).where(Incident.id.in_(set(links.values())))
            ).all()
        )
        return {
            item_id: {"incident": incident, "status": str(statuses.get(incident, "unknown"))}
            for item_id, incident in links.items()
        }

    def progress(self, ref: str, *, reviewer_id: str | None = None) -> tuple[int, int]:
        """(decided, total) items of the campaign, restricted like ``items``."""
        from sqlalchemy import func

        with self._store.session() as s:
            campaign = self._campaign(s, ref)
            sub = self._items_query(campaign.id, reviewer_id, False).subquery()
            total, decided = s.execute(
                select(func.count(), func.count(sub.c.decision)).select_from(sub)
            ).one()
            return int(decided), int(total)

    # -- decisions -------------------------------------------------------------------------
    def decide(
        self,
        ref: str,
        item_id: str,
        *,
        decision: str,
        comment: str,
        actor: str,
        kept_scopes: list[str] | None = None,
        only_reviewer: str | None = None,
        decider_id: str | None = None,
    ) -> Decided:
        """Record and apply a decision. ``only_reviewer``: the caller may decide only items of
        integrations that person owns (integration owners). ``decider_id``: the caller's
        console user (None: the local operator); a ``keep`` or ``reduce`` of an integration
        they own is refused (segregation of duties: it certifies their own access — another
        reviewer decides it); a ``revoke`` (giving access up) is theirs to ask for.

        A ``revoke`` quarantines the integration with the decision (one transaction) and then
        asks for the revoke (``Responder.request_revoke``, the reviewer as requester): revoked
        is final, so a person other than the reviewer approves it. A request already waiting
        for the integration is joined. The request is linked to the item in the audit chain
        (``review.revoke_request``). Should asking fail after the decision was recorded (the
        store went away between the two), the integration stays quarantined and the same
        ``revoke`` decision posted again asks once more — for the reviewer who decided."""
        recorded, integration_id, campaign_name, requester = self._record(
            ref,
            item_id,
            decision=decision,
            comment=comment,
            actor=actor,
            kept_scopes=kept_scopes,
            only_reviewer=only_reviewer,
            decider_id=decider_id,
        )
        if recorded.decision != "revoke" or requester is None:
            return recorded
        return self._request_revoke(recorded, integration_id, campaign_name, requester)

    def _responder(self) -> Any:
        from ringfence.respond.engine import Responder

        # The request's steps (quarantine, revoke) read no secret: without the runtime's
        # vault (callers that have none at hand) a vault without a key file does.
        vault = self._vault or Vault(self._store, None, clock=self._clock)
        return Responder(self._store, vault, self._clock)

    def _request_revoke(
        self, recorded: Decided, integration_id: str, campaign: str, requester: str
    ) -> Decided:
        """Ask for the revoke a decision made (after it committed) and link the request."""
        responder = self._responder()
        item = recorded.id
        decided = self._item_comment(item)
        incident, opened = responder.request_revoke(
            integration_id,
            actor=requester,
            reason=f"access review {campaign} (item {item}) decided revoke: {decided}",
        )
        if incident is None:  # revoked already (by another request, meanwhile)
            return recorded
        with self._store.session() as s:
            audit.append(
                s,
                actor=requester,
                action=REVOKE_REQUEST_ACTION,
                entity_type="review_item",
                entity_id=item,
                after={
                    "campaign": campaign,
                    "integration": integration_id,
                    "incident": incident,
                    "opened": opened,  # False: joined a request already waiting
                },
                clock=self._clock,
            )
        view = responder.show(incident)
        step = next(
            (st["position"] for st in view["steps"] if st["action"] == "revoke_integration"), 2
        )
        request = RevokeRequest(
            incident=incident,
            status=str(view["status"]),
            approve=f"/api/v1/respond/incidents/{incident}/steps/{step}/approve",
        )
        return dataclasses.replace(recorded, revoke_request=request)

    def _item_comment(self, item_id: str) -> str:
        with self._store.session() as s:
            return str(s.scalar(select(ReviewItem.comment).where(ReviewItem.id == item_id)))

    def _record(
        self,
        ref: str,
        item_id: str,
        *,
        decision: str,
        comment: str,
        actor: str,
        kept_scopes: list[str] | None,
        only_reviewer: str | None,
        decider_id: str | None,
    ) -> tuple[Decided, str, str, str | None]:
        """Record the decision in one transaction: (the decision, its integration's id, the
        campaign's name, who asks for the revoke — None when there is nothing to ask)."""
        from ringfence.inventory.repository import InventoryRepository

        if decision not in DECISIONS:
            raise ValidationError(f"decision must be one of {', '.join(DECISIONS)}")
        comment = comment.strip()
        if decision != "keep" and len(comment) < 3:
            raise ValidationError(f"a {decision} decision needs a comment saying why")
        if len(comment) > 2000:
            raise ValidationError("comment must be at most 2000 characters")
        if any(not (c.isprintable() or c in "\r\n\t") for c in comment):
            # terminal escapes / bidi marks would reach auditors through the exports
            raise ValidationError("comment must not contain control or bidi characters")
        now = self._clock.now()
        with self._store.session() as s:
            campaign = self._campaign(s, ref)
            # Claimed before anything is read: a conditional write that takes the campaign's
            # row lock (PostgreSQL) or the write lock (SQLite, where the reads above ran
            # outside any transaction) until this decision commits. So a close cannot slip
            # in between (a decision recorded after the campaign closed, missing from the
            # closing counts) and two decisions of one item cannot both read it undecided.
            if not self._claim_open(s, campaign.id):
                raise ConflictError(f"campaign {campaign.name!r} is closed")
            # Row locks (PostgreSQL; SQLite serialises writers): a concurrent scope change or
            # decision must not slip between the checks below and the write.
            item = s.scalar(select(ReviewItem).where(ReviewItem.id == item_id).with_for_update())
            if item is None or item.campaign_id != campaign.id:
                raise NotFoundError(f"no item {item_id!r} in campaign {campaign.name!r}")
            integ = s.scalar(
                select(Integration).where(Integration.id == item.integration_id).with_for_update()
            )
            if integ is None:
                raise NotFoundError("the integration of this item no longer exists")
            # Checked against the owner now: whoever owned it when the campaign started may
            # have handed it over (reassignment, inventory edit, `ringfence apply`).
            if only_reviewer is not None and integ.owner_id != only_reviewer:
                raise PermissionDeniedError("you may only review integrations you own")
            if item.decision is not None:
                if (
                    item.decision == decision == "revoke"
                    and integ.status is not IntegrationStatus.REVOKED
                    and item.id not in self._requests_of(s, [item.id])
                ):
                    # Recorded, but its request was never opened (see decide): ask again,
                    # for the reviewer who decided — never for whoever posts it again, who
                    # could then approve it.
                    done = Decided(item.id, item.decision, item.kept_scopes)
                    return done, integ.id, campaign.name, item.decided_by or actor
                # The evidence keeps the first decision: a later one must not overwrite it.
                raise ConflictError(
                    f"this item was decided already ({item.decision} by {item.decided_by})"
                )
            decider = s.get(ConsoleUser, decider_id) if decider_id else None
            if (
                decision != "revoke"
                and decider is not None
                and is_subject(s, decider, integ.owner_id)
            ):
                raise SelfReviewError(
                    f"you own {integ.name!r}: a decision keeping its access must come from "
                    "another reviewer (a security analyst or administrator); you may revoke it"
                )
            before = {"scopes": list(integ.scopes), "status": integ.status.value}
            kept: list[str] | None = None
            requester: str | None = None
            if decision == "reduce":
                kept = sorted(set(kept_scopes or []))
                if not kept:
                    raise ValidationError("reduce needs kept_scopes (use revoke to remove all)")
                extra = set(kept) - set(item.granted_scopes)
                if extra:
                    raise ValidationError(
                        f"kept_scopes must be granted scopes; not: {sorted(extra)}"
                    )
                # The snapshot is what the campaign reviewed, not what the integration holds
                # now: a scope removed since (by an analyst, another campaign, `apply`) must
                # not come back through a "reduce".
                removed = set(kept) - set(integ.scopes)
                if removed:
                    raise ConflictError(
                        f"kept_scopes {sorted(removed)} were removed from {integ.name!r} after "
                        f"the campaign started; it now holds {sorted(integ.scopes)}: keep a "
                        "subset of those",
                        code="scope_no_longer_granted",
                    )
                integ.scopes = kept
            elif decision == "revoke":
                if integ.status is not IntegrationStatus.REVOKED:
                    # Revoked is final: a second person approves it (decide). Stopped now —
                    # quarantine is reversible, one person may — with the decision, so the
                    # integration is stopped even if asking for the revoke fails.
                    requester = actor
                    InventoryRepository(s, actor=actor, clock=self._clock).set_integration_status(
                        integ.id,
                        IntegrationStatus.QUARANTINED,
                        reason=f"access review {campaign.name}: revoke decided, awaiting a "
                        "second person",
                    )
            elif kept_scopes:
                raise ValidationError("kept_scopes only goes with a reduce decision")
            integ.updated_at = now
            item.decision = decision
            item.kept_scopes = kept
            item.comment = comment
            item.decided_by = actor
            item.decided_at = now
            audit.append(
                s,
                actor=actor,
                action=f"review.{decision}",
                entity_type="integration",
                entity_id=integ.id,
                before=before,
                after={
                    "scopes": list(integ.scopes),
                    "status": integ.status.value,
                    "campaign": campaign.name,
                    "comment": comment,
                    "item": item.id,
                    **({"revoke": "requested"} if requester else {}),
                },
                clock=self._clock,
            )
            return Decided(item.id, decision, kept), integ.id, campaign.name, requester

    @staticmethod
    def _claim_open(s: Session, campaign_id: str) -> bool:
        """Lock the campaign for this transaction if it is still open (False: closed)."""
        claimed = s.execute(
            update(ReviewCampaign)
            .where(ReviewCampaign.id == campaign_id, ReviewCampaign.status == "open")
            .values(status="open")
            .execution_options(synchronize_session=False)
        )
        return int(getattr(claimed, "rowcount", 0) or 0) == 1

    def close(self, ref: str, *, actor: str) -> dict[str, int]:
        with self._store.session() as s:
            campaign = self._campaign(s, ref)
            # Claimed first (see decide): the items are counted after every decision that
            # got in before has committed, and none gets in after.
            if not self._claim_open(s, campaign.id):
                raise ConflictError(f"campaign {campaign.name!r} is already closed")
            items = s.scalars(
                select(ReviewItem)
                .where(ReviewItem.campaign_id == campaign.id)
                .execution_options(populate_existing=True)
            )
            counts = {"decided": 0, "undecided": 0}
            for item in items:
                counts["decided" if item.decision else "undecided"] += 1
            campaign.status = "closed"
            campaign.closed_at = self._clock.now()
            audit.append(
                s,
                actor=actor,
                action="review.close",
                entity_type="review_campaign",
                entity_id=campaign.id,
                after=counts,
                clock=self._clock,
            )
            return counts

    # -- segregation of duties -------------------------------------------------------------
    def _stalled(self, s: Session, campaign_id: str) -> list[tuple[ReviewItem, Integration]]:
        """Undecided items whose only possible reviewer is their subject: the owner has an
        enabled console account, and no enabled console user holding an any-item reviewer
        role (admin, security-analyst) is anyone but that owner. In memory over the enabled
        accounts (a few hundred) — no query per item: the console shows this on every load."""
        accounts = list(s.scalars(select(ConsoleUser).where(ConsoleUser.disabled_at.is_(None))))
        reviewers = [u for u in accounts if _INDEPENDENT_ROLES & set(u.roles or [])]
        with_account = {u.person_id for u in accounts if u.person_id} | {
            u.person_email.lower() for u in accounts if u.person_email
        }

        def is_owner(u: ConsoleUser, owner_id: str, email: str) -> bool:
            return u.person_id == owner_id or bool(
                u.person_email and email and u.person_email.lower() == email
            )

        rows = s.execute(
            select(ReviewItem, Integration, Person.email)
            .join(Integration, Integration.id == ReviewItem.integration_id)
            .join(Person, Person.id == Integration.owner_id)
            .where(ReviewItem.campaign_id == campaign_id, ReviewItem.decision.is_(None))
            .order_by(Integration.name)
        ).all()
        out = []
        for item, integ, owner_email in rows:
            owner_id, email = integ.owner_id or "", (owner_email or "").lower()
            if not ({owner_id, email} & with_account):
                continue  # the owner cannot decide it either: not a self-review question
            if all(is_owner(u, owner_id, email) for u in reviewers):
                out.append((item, integ))
        return out

    def without_independent_reviewer(self, ref: str) -> list[str]:
        """Names of the campaign's undecided integrations only their owner could decide."""
        with self._store.session() as s:
            campaign = self._campaign(s, ref)
            return [integ.name for _, integ in self._stalled(s, campaign.id)]

    # -- reminders -------------------------------------------------------------------------
    def reminders(
        self, *, within_days: int, actor: str, send: ReminderSender | None = None
    ) -> list[Reminder]:
        """Who still has undecided items in campaigns due within ``within_days`` (or overdue).

        Each campaign reminds at most once a day; every run is an audit record. With ``send``
        (``reminder_sender``: e-mail to each reviewer, or a chat / webhook sink) each reminder
        is delivered too; a campaign any of whose reminders could not be delivered is not
        marked reminded, so the next run tries again instead of waiting a day.
        """
        now = self._clock.now()
        due = self._due_reminders(now, within_days)
        out: list[Reminder] = []
        # Deliver outside any transaction: a slow mail server must not hold the database's
        # write lock (on SQLite every audited write would wait behind it).
        outcome: dict[str, list[str]] = {}
        for campaign_id, reminders in due:
            failed = outcome.setdefault(campaign_id, [])
            for reminder in reminders:
                if send is not None:
                    try:
                        send(reminder)
                        reminder = dataclasses.replace(reminder, delivery="sent")
                    except RingfenceError as exc:
                        failed.append(reminder.reviewer)
                        reminder = dataclasses.replace(reminder, delivery=f"failed: {exc}")
                out.append(reminder)
        with self._store.session() as s:
            for campaign_id, reminders in due:
                campaign = s.get(ReviewCampaign, campaign_id)
                if campaign is None:
                    continue
                failed = outcome[campaign_id]
                if not failed:
                    campaign.last_reminded_at = now
                audit.append(
                    s,
                    actor=actor,
                    action="review.remind",
                    entity_type="review_campaign",
                    entity_id=campaign_id,
                    after={
                        "reviewers": sorted(r.reviewer for r in reminders),
                        "overdue": reminders[0].overdue,
                        "delivered": send is not None,
                        "failed": failed,
                    },
                    clock=self._clock,
                )
        return out

    @staticmethod
    def _reached_today(s: Session, campaign_id: str, now: datetime) -> set[str]:
        reached: set[str] = set()
        rows = s.scalars(
            select(AuditRecord.after).where(
                AuditRecord.action == "review.remind",
                AuditRecord.entity_id == campaign_id,
                AuditRecord.ts > now - timedelta(days=1),
            )
        )
        for after in rows:
            if isinstance(after, dict) and after.get("delivered"):
                reached |= set(after.get("reviewers") or []) - set(after.get("failed") or [])
        return reached

    def _due_reminders(self, now: datetime, within_days: int) -> list[tuple[str, list[Reminder]]]:
        """(campaign id, its reminders) for campaigns due soon or overdue, not reminded today."""
        found: list[tuple[str, list[Reminder]]] = []
        with self._store.session() as s:
            campaigns = s.scalars(
                select(ReviewCampaign).where(
                    ReviewCampaign.status == "open",
                    ReviewCampaign.due_at <= now + timedelta(days=within_days),
                )
            ).all()
            for campaign in campaigns:
                last = campaign.last_reminded_at
                if last is not None and now - last < timedelta(days=1):
                    continue
                pending: dict[str, int] = {}
                for item in s.scalars(
                    select(ReviewItem).where(
                        ReviewItem.campaign_id == campaign.id, ReviewItem.decision.is_(None)
                    )
                ):
                    owner = s.get(Person, item.reviewer_id) if item.reviewer_id else None
                    who = owner.email if owner else NO_OWNER
                    pending[who] = pending.get(who, 0) + 1
                # A run that reached only some reviewers left the campaign unmarked: the next
                # run retries those it missed, not the ones it reached (within the day).
                stalled = len(self._stalled(s, campaign.id))
                if stalled:
                    pending[NO_INDEPENDENT] = stalled
                for who in self._reached_today(s, campaign.id, now):
                    pending.pop(who, None)
                if pending:
                    overdue = campaign.due_at < now
                    found.append(
                        (
                            campaign.id,
                            [
                                Reminder(campaign.name, who, n, campaign.due_at, overdue)
                                for who, n in sorted(pending.items())
                            ],
                        )
                    )
        return found

    # -- evidence --------------------------------------------------------------------------
    _CSV_COLUMNS = (
        "integration",
        "owner",
        "status",
        "granted_scopes",
        "used_scopes",
        "unused_scopes",
        "used_source",
        "decision",
        "kept_scopes",
        "comment",
        "decided_by",
        "decided_at",
        "revoke_request",
    )

    def export(self, ref: str, fmt: str) -> str:
        if fmt not in ("csv", "json"):
            raise ValidationError("format must be csv or json")
        items = self.items(ref)
        with self._store.session() as s:
            campaign = self._campaign(s, ref)
            head = s.scalar(select(AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1))
            meta = {
                "campaign": campaign.name,
                "id": campaign.id,
                "scope": f"{campaign.scope_kind}:{campaign.scope_id}",
                "status": campaign.status,
                "due_at": campaign.due_at.isoformat(),
                "created_by": campaign.created_by,
                "created_at": campaign.created_at.isoformat(),
                "closed_at": campaign.closed_at.isoformat() if campaign.closed_at else None,
                "exported_at": self._clock.now().isoformat(),
                "audit_chain_head": head,
            }
        if fmt == "json":
            return orjson.dumps(
                {**meta, "items": items}, option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC
            ).decode()
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([f"# {k}={v}" for k, v in meta.items()])
        writer.writerow(self._CSV_COLUMNS)
        for item in items:
            row = []
            for col in self._CSV_COLUMNS:
                value = item[col]
                if col == "revoke_request" and isinstance(value, dict):
                    value = f"{value['incident']} ({value['status']})"
                if isinstance(value, list):
                    value = " ".join(value)
                elif isinstance(value, datetime):
                    value = value.isoformat()
                text_value = _CONTROLS.sub("\ufffd", "" if value is None else str(value))
                # Spreadsheet formula injection: never start a cell with = + - @ TAB CR.
                if text_value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                    text_value = "'" + text_value
                row.append(text_value)
            writer.writerow(row)
        return buf.getvalue()


# Control characters (but tab, LF, CR) and bidi controls in an exported cell: shown as U+FFFD
# (comments written before they were refused, names from a SaaS tenant).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def reminder_sender(sink: Any) -> ReminderSender:
    """Deliver reminders through a monitor sink (monitor.yaml ``sinks:``). An e-mail sink
    writes to each reviewer's own address (the sink's configured recipients get those of
    integrations nobody owns); any other sink (chat, webhook, SIEM) gets every reminder."""
    from ringfence.monitor.sinks import EmailSink, SinkError

    def send(r: Reminder) -> None:
        try:
            deliver(r)
        except (SinkError, ValueError) as exc:  # ValueError: e.g. a header the mail lib refuses
            raise ReminderNotSent(str(exc) or type(exc).__name__) from None

    def deliver(r: Reminder) -> None:
        when = "was due" if r.overdue else "is due"
        message = (
            f"Access review {r.campaign} {when} {r.due_at.date().isoformat()}: "
            f"{r.pending} integration(s) of {r.reviewer} still need a decision "
            "(keep, reduce or revoke) — /console/reviews or `ringfence reviews decide`."
        )
        if r.reviewer == NO_INDEPENDENT:
            message = (
                f"Access review {r.campaign} {when} {r.due_at.date().isoformat()}: "
                f"{r.pending} integration(s) have no reviewer but their own owner "
                "(segregation of duties): give a security analyst or administrator who does "
                "not own them access, or reassign them — `ringfence reviews show`."
            )
        notice = {
            "severity": "Medium" if r.reviewer == NO_INDEPENDENT else "Low",
            "message": message,
            "finding_info": {
                "title": f"Access review {r.campaign}: {r.pending} decision(s) pending",
                "uid": f"review-reminder:{r.campaign}:{r.reviewer}",
            },
            "unmapped": {
                "campaign": r.campaign,
                "reviewer": r.reviewer,
                "pending": r.pending,
                "due_at": r.due_at.isoformat(),
                "overdue": r.overdue,
            },
        }
        if isinstance(sink, EmailSink) and r.reviewer not in (NO_OWNER, NO_INDEPENDENT):
            dataclasses.replace(sink, recipients=[r.reviewer]).send(notice)
        else:
            sink.send(notice)

    return send

"""Joiner/mover/leaver: what deactivating or deleting a person does to the doors they own.

Deactivation (SCIM ``active=false``, SCIM DELETE, or the API) opens a finding for every
integration the person owns, revokes their console sessions and personal API tokens and, per
``quarantine_on_deprovision``, quarantines those integrations in the store (the gateway
enforces ``Integration.status``). Reassigning an owner, or reactivating the person, resolves the
findings and lifts only the quarantines this module set. Everything happens in the caller's
transaction, with an audit record per change; this module never deletes an integration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.errors import NotFoundError, ValidationError
from ringfence.identity.accounts import revoke_user_credentials
from ringfence.identity.models import (
    ConsoleSession,
    ConsoleUser,
    IdentityFinding,
    PersonalToken,
    PersonHold,
    ReviewCampaign,
    ReviewItem,
    ScimUser,
)
from ringfence.identity.roles import ADMIN
from ringfence.store import audit
from ringfence.store.models import AuditRecord, Integration, IntegrationStatus, Person

FINDING_OWNER_LEFT = "owner_deprovisioned"
DISABLED_ADMIN = "admin"
DISABLED_DEPROVISIONED = "deprovisioned"
_QUARANTINED_MARK = "[quarantined by identity lifecycle]"
_LIFECYCLE = "identity.lifecycle"


@dataclass
class DeprovisionReport:
    person_id: str
    findings: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    tokens_revoked: int = 0
    sessions_revoked: int = 0
    # console users holding admin this caller may not disable (it lacks identity:admin)
    admins_spared: list[str] = field(default_factory=list)


def deactivate_person(
    session: Session,
    person: Person,
    *,
    actor: str,
    clock: Clock,
    quarantine: bool,
    reason: str = "deactivated",
    may_disable_admins: bool | None = None,
    hold_reason: str | None = None,
) -> DeprovisionReport:
    """Mark the person inactive and reach every door they own. Idempotent.

    ``may_disable_admins``: whether the caller may disable console users holding ``admin``
    (it holds ``identity:admin``, or it is the IdP or the local operator); None works it out
    from ``actor`` (see ``actor_may_disable_admins``). ``hold_reason``: a deactivation made
    here (API, CLI) — the person is held inactive until someone lifts it (``place_hold``);
    ignored for the IdP's own deactivations, which it may undo."""
    now = clock.now()
    report = DeprovisionReport(person.id)
    if hold_reason is not None and not is_idp(actor):
        place_hold(session, person, actor=actor, reason=hold_reason, clock=clock)
    if person.active or person.deactivated_at is None:
        before = {"active": person.active}
        person.active = False
        person.deactivated_at = person.deactivated_at or now
        audit.append(
            session,
            actor=actor,
            action=f"person.{reason}",
            entity_type="person",
            entity_id=person.id,
            before=before,
            after={"active": False},
            clock=clock,
        )
    owned = session.scalars(
        select(Integration).where(Integration.owner_id == person.id).order_by(Integration.name)
    ).all()
    for integ in owned:
        existing = session.scalar(
            select(IdentityFinding).where(
                IdentityFinding.integration_id == integ.id,
                IdentityFinding.kind == FINDING_OWNER_LEFT,
                IdentityFinding.status == "open",
            )
        )
        if existing is None:
            detail = (
                f"integration {integ.name!r} is owned by {person.email}, who was {reason}; "
                "assign a new owner"
            )
            if quarantine and integ.status == IntegrationStatus.ACTIVE:
                detail += f" {_QUARANTINED_MARK}"
            finding = IdentityFinding(
                kind=FINDING_OWNER_LEFT,
                severity="high",
                person_id=person.id,
                integration_id=integ.id,
                detail=detail,
                created_at=now,
            )
            session.add(finding)
            session.flush()
            report.findings.append(finding.id)
            audit.append(
                session,
                actor=actor,
                action="finding.open",
                entity_type="identity_finding",
                entity_id=finding.id,
                after={"kind": FINDING_OWNER_LEFT, "integration_id": integ.id},
                clock=clock,
            )
        if quarantine and integ.status == IntegrationStatus.ACTIVE:
            integ.status = IntegrationStatus.QUARANTINED
            integ.updated_at = now
            report.quarantined.append(integ.id)
            audit.append(
                session,
                actor=actor,
                action="integration.quarantine",
                entity_type="integration",
                entity_id=integ.id,
                before={"status": "active"},
                after={"status": "quarantined", "reason": f"owner {reason}", "by": _LIFECYCLE},
                clock=clock,
            )
    # No linking by email here: a person may have been created (or its email edited) through
    # the inventory by an analyst, and linking at deactivation let one name an administrator's
    # username and disable them. Links are made only where a trusted party vouches: SCIM (the
    # IdP), an administrator creating the user, an SSO sign-in with a verified email.
    allowed = (
        actor_may_disable_admins(session, actor)
        if may_disable_admins is None
        else may_disable_admins
    )
    tokens, sessions, spared = revoke_credentials_of_person(
        session, person, actor=actor, clock=clock, may_disable_admins=allowed
    )
    report.tokens_revoked, report.sessions_revoked = tokens, sessions
    report.admins_spared = spared
    return report


_TRUSTED_ACTORS = ("cli", "system")
_TRUSTED_PREFIXES = ("scim:", "idp:")


def actor_may_disable_admins(session: Session, actor: str) -> bool:
    """Whether ``actor`` may disable console users holding ``admin`` through a lifecycle
    action: the IdP (``scim:``), the local operator (``cli``), or a user who is an admin.
    Everyone else — an analyst (``identity:lifecycle`` but not ``identity:admin``), a
    control-plane token (read/write only) — may deprovision people, not lock out the
    administrators: those are left for an administrator (audited, reported)."""
    if actor in _TRUSTED_ACTORS or actor.startswith(_TRUSTED_PREFIXES):
        return True
    if actor.startswith("user:"):
        caller = session.scalar(
            select(ConsoleUser).where(ConsoleUser.username == actor.removeprefix("user:"))
        )
        return caller is not None and caller.disabled_at is None and ADMIN in (caller.roles or [])
    return False


def link_console_users(session: Session, person: Person, *, actor: str, clock: Clock) -> int:
    """Link console users not yet linked to a person whose email they were declared with.

    A console user is linked when it is created after the person, or at an SSO sign-in; one
    created first (the usual roll-out: the console before SCIM) stayed unlinked, so
    deprovisioning the person left its tokens and password working. Only ``person_email``
    counts — an email from a trusted source (an administrator, or one the IdP verified) —
    never the username of an SSO user, which may be a ``preferred_username`` the user chose
    (linking grants the person's integrations). Called when SCIM creates, adopts or updates
    a person and at deactivation."""
    email = (person.email or "").strip().lower()
    found: list[tuple[ConsoleUser, str]] = []
    if email and "@" in email:
        found += [
            (user, "person_email")
            for user in session.scalars(
                select(ConsoleUser).where(
                    ConsoleUser.person_id.is_(None), ConsoleUser.person_email == email
                )
            )
        ]
    if person.external_id and session.get(ScimUser, person.id) is not None:
        # The IdP's own stable id: SCIM externalId is the IdP's user id (Okta), which is
        # also the ID token's sub. Only for people the IdP provisioned (an inventory
        # person's external_id is typed by people).
        candidates = session.scalars(
            select(ConsoleUser).where(
                ConsoleUser.person_id.is_(None),
                ConsoleUser.sso_subject.endswith(f"|{person.external_id}", autoescape=True),
            )
        )  # narrowed in SQL: SCIM calls this on every write (Entra sends externalId always)
        found += [
            (user, "sso_subject")
            for user in candidates
            if _sub_of(user) == person.external_id and all(u is not user for u, _ in found)
        ]
    linked = 0
    for user, how in found:
        user.person_id = person.id
        linked += 1
        audit.append(
            session,
            actor=actor,
            action="user.link_person",
            entity_type="console_user",
            entity_id=user.id,
            after={"person_id": person.id, "by": how},
            clock=clock,
        )
    if linked:
        session.flush()
    return linked


def _unlinked_sso_users(session: Session) -> list[ConsoleUser]:
    return list(
        session.scalars(
            select(ConsoleUser).where(
                ConsoleUser.person_id.is_(None), ConsoleUser.sso_subject.is_not(None)
            )
        )
    )


def _sub_of(user: ConsoleUser) -> str:
    return (user.sso_subject or "").rpartition("|")[2]


def users_of_person(session: Session, person: Person) -> list[ConsoleUser]:
    """Console users a deprovisioning of ``person`` reaches: those linked to the person and,
    for a person the IdP provisioned by SCIM, unlinked SSO users the same IdP named with the
    person's email or SCIM userName (e.g. Entra: no verified email, preferred_username = UPN
    = SCIM userName). Those names are not verified, so they only ever take access away
    (disable, revoke) and give it back on reactivation — they never link (which would grant
    the person's integrations)."""
    users = list(session.scalars(select(ConsoleUser).where(ConsoleUser.person_id == person.id)))
    scim = session.get(ScimUser, person.id)
    if scim is not None:
        # the names the IdP sent (userName, emails), not person.email: an analyst may edit
        # that through the inventory
        names = {scim.user_name_key}
        for entry in scim.document.get("emails") or []:
            if isinstance(entry, dict) and isinstance(entry.get("value"), str):
                names.add(entry["value"].strip().lower())
        names.discard("")
        users += [u for u in _unlinked_sso_users(session) if names & set(u.sso_names or [])]
    return users


def revoke_credentials_of_person(
    session: Session,
    person: Person,
    *,
    actor: str,
    clock: Clock,
    may_disable_admins: bool = True,
) -> tuple[int, int, list[str]]:
    """Revoke personal tokens and sessions of every console user the person's deprovisioning
    reaches, and disable those users (reason ``deprovisioned``: a reactivation lifts only
    that). Without ``may_disable_admins``, users holding admin are left alone (audited as
    ``user.disable_refused``) and returned."""
    now = clock.now()
    tokens = sessions = 0
    spared: list[str] = []
    for user in users_of_person(session, person):
        if not may_disable_admins and ADMIN in (user.roles or []):
            if user.disabled_at is None:
                spared.append(user.id)
                audit.append(
                    session,
                    actor=actor,
                    action="user.disable_refused",
                    entity_type="console_user",
                    entity_id=user.id,
                    after={
                        "person_id": person.id,
                        "reason": "holds admin; only an administrator may disable it",
                    },
                    clock=clock,
                )
            continue
        revoked_tokens, ended = revoke_user_credentials(session, user.id, now)
        tokens += revoked_tokens
        sessions += ended
        if user.disabled_at is None:
            user.disabled_at, user.disabled_reason = now, DISABLED_DEPROVISIONED
        audit.append(
            session,
            actor=actor,
            action="user.disable",
            entity_type="console_user",
            entity_id=user.id,
            after={
                "tokens_revoked": tokens,
                "sessions_revoked": sessions,
                "reason": user.disabled_reason,
                "person_id": person.id,
            },
            clock=clock,
        )
    return tokens, sessions, spared


def is_idp(actor: str) -> bool:
    """Whether ``actor`` is the identity provider (SCIM, or an SSO sign-in)."""
    return actor.startswith(_TRUSTED_PREFIXES)


def place_hold(session: Session, person: Person, *, actor: str, reason: str, clock: Clock) -> None:
    """Hold the person inactive against the IdP: a SCIM ``active=true`` no longer
    reactivates them (refused and audited) until ``lift_hold``. A later local deactivation
    records its own actor and reason."""
    reason = (reason.strip() or "deactivated in Ringfence")[:2000]
    hold = session.get(PersonHold, person.id)
    if hold is None:
        hold = PersonHold(person_id=person.id)
        session.add(hold)
    hold.held_by, hold.held_at, hold.reason = actor[:200], clock.now(), reason
    audit.append(
        session,
        actor=actor,
        action="person.hold",
        entity_type="person",
        entity_id=person.id,
        after={"reason": reason},
        clock=clock,
    )


def hold_of(session: Session, person_id: str) -> PersonHold | None:
    return session.get(PersonHold, person_id)


def _hold_out(hold: PersonHold) -> dict[str, str]:
    return {"held_by": hold.held_by, "held_at": hold.held_at.isoformat(), "reason": hold.reason}


def reactivate_person(
    session: Session,
    person: Person,
    *,
    actor: str,
    clock: Clock,
    lift_reason: str | None = None,
) -> int:
    """Person is back: resolve their owner-left findings and lift lifecycle quarantines.

    A person held by a local deactivation (``place_hold``) stays inactive when the IdP asks
    (audited as ``person.reactivate_refused``, returns 0); anyone else must give
    ``lift_reason``, which lifts the hold (``person.hold_lift``: who, when, why)."""
    hold = session.get(PersonHold, person.id)
    if hold is not None:
        if is_idp(actor):
            audit.append(
                session,
                actor=actor,
                action="person.reactivate_refused",
                entity_type="person",
                entity_id=person.id,
                after={**_hold_out(hold), "active": False},
                clock=clock,
            )
            return 0
        why = (lift_reason or "").strip()
        if len(why) < 3:
            raise ValidationError(
                f"{person.email} is held inactive by {hold.held_by} since "
                f"{hold.held_at.isoformat()} ({hold.reason}); give a reason to lift the hold",
                code="hold_reason_required",
            )
        audit.append(
            session,
            actor=actor,
            action="person.hold_lift",
            entity_type="person",
            entity_id=person.id,
            before=_hold_out(hold),
            after={"reason": why[:2000]},
            clock=clock,
        )
        session.delete(hold)
    if not person.active:
        person.active = True
        person.deactivated_at = None
        audit.append(
            session,
            actor=actor,
            action="person.reactivate",
            entity_type="person",
            entity_id=person.id,
            before={"active": False},
            after={"active": True},
            clock=clock,
        )
    for user in users_of_person(session, person):
        # Only what deprovisioning did is undone: an account an administrator disabled stays
        # disabled until an administrator enables it.
        if user.disabled_at is not None and user.disabled_reason == DISABLED_DEPROVISIONED:
            user.disabled_at, user.disabled_reason = None, None
            audit.append(
                session,
                actor=actor,
                action="user.enable",
                entity_type="console_user",
                entity_id=user.id,
                after={"reason": "person reactivated"},
                clock=clock,
            )
    resolved = 0
    for integ in session.scalars(select(Integration).where(Integration.owner_id == person.id)):
        resolved += _resolve_owner_findings(session, integ, actor=actor, clock=clock)
    return resolved


def _resolve_owner_findings(
    session: Session, integ: Integration, *, actor: str, clock: Clock
) -> int:
    now = clock.now()
    findings = session.scalars(
        select(IdentityFinding).where(
            IdentityFinding.integration_id == integ.id,
            IdentityFinding.kind == FINDING_OWNER_LEFT,
            IdentityFinding.status == "open",
        )
    ).all()
    lift = any(_QUARANTINED_MARK in f.detail for f in findings) and _quarantined_by_lifecycle(
        session, integ.id
    )
    for finding in findings:
        finding.status = "resolved"
        finding.resolved_at = now
        audit.append(
            session,
            actor=actor,
            action="finding.resolve",
            entity_type="identity_finding",
            entity_id=finding.id,
            after={"status": "resolved"},
            clock=clock,
        )
    if lift and integ.status == IntegrationStatus.QUARANTINED:
        integ.status = IntegrationStatus.ACTIVE
        integ.updated_at = now
        audit.append(
            session,
            actor=actor,
            action="integration.unquarantine",
            entity_type="integration",
            entity_id=integ.id,
            before={"status": "quarantined"},
            after={"status": "active", "reason": "owner reassigned or reactivated"},
            clock=clock,
        )
    return len(findings)


def _quarantined_by_lifecycle(session: Session, integration_id: str) -> bool:
    """Whether the integration's latest status change is this module's own quarantine.

    An analyst may have activated it and quarantined it again for an incident since (or a
    playbook may have): that quarantine is theirs and must outlive the owner's return. The
    audit log is the record of every status change (inventory, respond, SCIM, reviews)."""
    session.flush()
    records = session.scalars(
        select(AuditRecord)
        .where(AuditRecord.entity_type == "integration", AuditRecord.entity_id == integration_id)
        .order_by(AuditRecord.seq.desc())
    )
    for record in records:
        after, before = record.after or {}, record.before or {}
        if "status" not in after or before.get("status") == after.get("status"):
            continue  # not a status change
        if record.action != "integration.quarantine":
            return False
        # ours: marked (or, before the mark existed, the lifecycle's two-key record; the
        # inventory's records are full snapshots)
        return after.get("by") == _LIFECYCLE or (
            set(after) == {"status", "reason"} and str(after["reason"]).startswith("owner ")
        )
    return False


def integration_id_of(session: Session, ref: str) -> str:
    """The id of the integration ``ref`` names — an id first, then a name, as the inventory
    routes resolve it (an OR over both could pick another integration whose *name* is this
    one's id), or NotFoundError."""
    found = session.scalar(select(Integration.id).where(Integration.id == ref))
    if found is None:
        found = session.scalar(select(Integration.id).where(Integration.name == ref))
    if found is None:
        raise NotFoundError(f"no integration {ref!r}")
    return found


def reassign_owner(
    session: Session, integration_id: str, new_owner_id: str, *, actor: str, clock: Clock
) -> Integration:
    """Give the integration an active owner; resolves owner-left findings, lifts quarantine."""
    integ = session.get(Integration, integration_id)
    if integ is None:
        raise NotFoundError(f"no integration with id {integration_id!r}")
    owner = session.get(Person, new_owner_id)
    if owner is None:
        raise NotFoundError(f"no person with id {new_owner_id!r}")
    if not owner.active:
        raise ValidationError(f"person {owner.email} is not active and cannot own integrations")
    before = {"owner_id": integ.owner_id}
    integ.owner_id = owner.id
    integ.updated_at = clock.now()
    audit.append(
        session,
        actor=actor,
        action="integration.reassign_owner",
        entity_type="integration",
        entity_id=integ.id,
        before=before,
        after={"owner_id": owner.id},
        clock=clock,
    )
    _resolve_owner_findings(session, integ, actor=actor, clock=clock)
    # Undecided items of open review campaigns follow the integration to its new owner
    # (reminders go to them; deciding is checked against the current owner anyway).
    open_campaigns = select(ReviewCampaign.id).where(ReviewCampaign.status == "open")
    for item in session.scalars(
        select(ReviewItem).where(
            ReviewItem.integration_id == integ.id,
            ReviewItem.decision.is_(None),
            ReviewItem.campaign_id.in_(open_campaigns),
        )
    ):
        item.reviewer_id = owner.id
    return integ


def reconcile(
    session: Session,
    *,
    actor: str,
    clock: Clock,
    quarantine: bool,
    may_disable_admins: bool | None = None,
) -> list[DeprovisionReport]:
    """Run the leaver steps for people deactivated outside identity (inventory edits,
    ``ringfence apply``) whose doors were not reached yet: integrations without an open
    owner-left finding, or console users still enabled or holding a live session or
    personal token — also for a person who owns no integration. Idempotent."""
    now = clock.now()
    reached = select(IdentityFinding.integration_id).where(
        IdentityFinding.kind == FINDING_OWNER_LEFT, IdentityFinding.status == "open"
    )
    with_integrations = (
        select(Person.id)
        .join(Integration, Integration.owner_id == Person.id)
        .where(Person.active.is_(False), Integration.id.not_in(reached))
    )
    live_tokens = select(PersonalToken.user_id).where(
        PersonalToken.revoked_at.is_(None), PersonalToken.expires_at > now
    )
    live_sessions = select(ConsoleSession.user_id).where(
        ConsoleSession.revoked_at.is_(None), ConsoleSession.expires_at > now
    )
    allowed = (
        actor_may_disable_admins(session, actor)
        if may_disable_admins is None
        else may_disable_admins
    )
    user_rows = session.execute(
        select(Person.id, ConsoleUser.roles)
        .join(ConsoleUser, ConsoleUser.person_id == Person.id)
        .where(
            Person.active.is_(False),
            or_(
                ConsoleUser.disabled_at.is_(None),
                ConsoleUser.id.in_(live_tokens),
                ConsoleUser.id.in_(live_sessions),
            ),
        )
    ).all()
    # an administrator this caller may not disable is left for an administrator, and does
    # not make every later run deprovision the person again
    with_users = {pid for pid, roles in user_rows if allowed or ADMIN not in (roles or [])}
    pending = session.scalars(
        select(Person)
        .where(or_(Person.id.in_(with_integrations), Person.id.in_(with_users)))
        .order_by(Person.email)
    ).all()
    return [
        deactivate_person(
            session,
            person,
            actor=actor,
            clock=clock,
            quarantine=quarantine,
            may_disable_admins=allowed,
        )
        for person in pending
    ]


def open_findings(session: Session, person_id: str | None = None) -> list[IdentityFinding]:
    query = select(IdentityFinding).where(IdentityFinding.status == "open")
    if person_id is not None:
        query = query.where(IdentityFinding.person_id == person_id)
    return list(session.scalars(query.order_by(IdentityFinding.created_at)))

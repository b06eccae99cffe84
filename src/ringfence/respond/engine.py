"""Run incident-response playbooks: steps in order, approvals by a second person, a timeline.

An incident is one run of a playbook against one integration. Steps run in order; a step
marked ``approve`` waits until a person other than whoever opened the incident approves (or
skips) it. A failed step is recorded and the run goes on — containment must get as far as it
can — and the incident says how many failed. Every action that changes something outside
(quarantine, revocations, notifications) writes an audit record; the timeline tells the story
with times and actors. Containment time is measured from detection (the alert's first event,
or the start) to the moment the last containment step finished.

A **drill** runs the same playbook for real in every read-only step (evidence, lookups,
approvals, the notification to the team, marked DRILL) and in dry-run for every step that
would change the estate or contact a vendor: it proves each one *could* act (the integration,
its gateway credentials, the observed grants, the vendor's contacts, the configured sink and
connector are all there) and records what it would have done. Posture (RF-IRR-002) reads the
last completed drill.

Never stores or logs a secret: results hold ids, names, counts and references.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RingfenceError,
    ValidationError,
)
from ringfence.respond.estate_section import CONTAINMENT, SEVERITIES
from ringfence.respond.models import Evidence, Incident, IncidentStep, Playbook, TimelineEntry
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import (
    App,
    AuditRecord,
    Credential,
    CredentialKind,
    Integration,
    IntegrationStatus,
    Vendor,
)
from ringfence.store.vault import Vault, is_reserved

MAX_EVIDENCE_EVENTS = 10_000
# A step running for longer than this was left by a process that stopped (a step's vendor
# calls are bounded well below it): a person may mark it interrupted (``skip``).
STALE_RUNNING = timedelta(minutes=30)
DRILL_EVENT_PREFIX = "drill-"  # ids of events a detection drill injects
# Steps no one can undo (a revoked integration is final; the vendor's grants and the old
# secret are gone): they always wait for a second person, whatever the playbook says. Four
# eyes otherwise rested on `approve: true`, which one person with `write` could remove from
# the playbook by an estate apply and then run the steps alone (session 12 API review).
IRREVERSIBLE = frozenset({"revoke_integration", "revoke_oauth_grants", "rotate_client_secret"})
# The "playbook" of a revoke asked for directly (REST ``POST /integrations/{ref}/revoke``): the
# same four eyes as a playbook's revoke_integration step. Not a declarable playbook name (":").
REVOKE_REQUEST = "request:revoke_integration"


class StepFailed(RingfenceError):
    code = "step_failed"
    status = 409
    title = "Step failed"


Sink = Any  # ringfence.monitor.sinks.Sink (duck-typed: ``name`` and ``send(finding)``)


def person_of(actor: str) -> str | None:
    """The person an actor name stands for, or None for automation.

    ``user:alice`` (a console session or alice's personal token) and a bare ``alice`` (the
    operator named with ``--by`` on the CLI) are the same person, so four eyes cannot be met
    by switching from the CLI to the console. ``token:NAME`` (a control-plane token, held by
    automation and not attributable to one person) and system actors (``respond:watch``,
    ``incident:…``) are nobody. Names are compared case- and width-insensitively;
    ``Responder._people`` adds the inventory person behind a name, so two accounts of one
    person (a local one and an SSO one) are one person too.
    """
    kind, sep, name = actor.partition(":")
    raw = actor if not sep else (name if kind == "user" else "")
    # One spelling per person: "Alice", "alice" and its full-width form are the same name.
    return unicodedata.normalize("NFKC", raw).strip().casefold() or None


class Responder:
    def __init__(
        self,
        store: Store,
        vault: Vault,
        clock: Clock | None = None,
        *,
        sinks: Mapping[str, Sink] | None = None,
        connectors: Mapping[str, Any] | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.vault = vault
        self.clock = clock or SystemClock()
        self.sinks = dict(sinks or {})
        self.connectors = dict(connectors or {})  # vendor -> ConnectorConfig
        # Where monitor.yaml is: a rotation never overwrites a vault entry one of its sinks
        # reads (without it, only the SSO client secret is looked at; respond.wiring gives it).
        self.data_dir = data_dir

    # -- starting -------------------------------------------------------------------------
    def start(
        self,
        playbook: str,
        integration: str,
        *,
        actor: str,
        reason: str = "",
        drill: bool = False,
        alert_id: str | None = None,
        detected_at: datetime | None = None,
    ) -> str:
        """Open an incident (or a drill) and run it until it needs an approval or ends."""
        now = self.clock.now()
        with self.store.session() as s:
            book = s.scalar(select(Playbook).where(Playbook.name == playbook))
            if book is None:
                names = sorted(s.scalars(select(Playbook.name)))
                raise NotFoundError(
                    f"no playbook {playbook!r}; declared: {', '.join(names) or 'none'} "
                    "(add a `playbooks:` section to ringfence.yaml)"
                )
            # An id first, then a name, as the inventory routes resolve it: an OR over both
            # could take another integration whose *name* is this one's id.
            integ = s.get(Integration, integration) or s.scalar(
                select(Integration).where(Integration.name == integration)
            )
            if integ is None:
                raise NotFoundError(f"no integration {integration!r}")
            spec = dict(book.spec)
            # What the approvers approve: the integration's identity as it was when the
            # incident opened (a later edit of client_id must not retarget a rotation).
            spec["pinned"] = {"client_id": integ.client_id}
            if any(st.get("action") == "rotate_client_secret" for st in spec.get("steps", [])):
                # ... and where a rotation stores the new secret: an edit of the credential's
                # ref between the approval request and the approval must not send it over
                # another vault entry (which the vault keeps no older version of).
                spec["pinned"]["credential"] = _client_secret_pin(s, integ.id)
            if integ.kind.value not in spec.get("covers", []):
                raise ValidationError(
                    f"playbook {playbook!r} covers {spec.get('covers')}; integration "
                    f"{integ.name!r} is a {integ.kind.value} integration"
                )
            incident_id = self._open(
                s,
                playbook,
                spec,
                integ,
                actor=actor,
                reason=reason,
                drill=drill,
                alert_id=alert_id,
                detected_at=detected_at or now,
            )
        self.advance(incident_id, actor)
        return incident_id

    def request_revoke(
        self, integration: str, *, actor: str, reason: str = ""
    ) -> tuple[str | None, bool]:
        """Revoke an integration on request: quarantine it now, revoke once a second person
        approves. Returns (the request's incident, whether this call opened it); (None,
        False) when the integration is revoked already.

        Revoked is final, so a direct revoke (the REST API's, before session 14 one person's
        call) waits for the same four eyes as a playbook's ``revoke_integration`` step (always,
        ``IRREVERSIBLE``): it is an incident of the built-in :data:`REVOKE_REQUEST` playbook,
        approved, skipped and audited like any other. The quarantine is reversible
        containment, which one person may do alone (``/quarantine``), and keeps the
        integration stopped while the request waits. A request already waiting is returned,
        not opened twice."""
        with self.store.session() as s:
            integ = s.get(Integration, integration) or s.scalar(
                select(Integration).where(Integration.name == integration)
            )
            if integ is None:
                raise NotFoundError(f"no integration with id or name {integration!r}")
            if integ.status is IntegrationStatus.REVOKED:
                return None, False
            waiting = s.scalar(
                select(Incident.id)
                .where(
                    Incident.playbook == REVOKE_REQUEST,
                    Incident.integration_id == integ.id,
                    Incident.status.in_(("open", "awaiting_approval")),
                )
                .order_by(Incident.opened_at)
                .limit(1)
            )
            if waiting is not None:
                return waiting, False
            spec: dict[str, Any] = {
                "name": REVOKE_REQUEST,
                "description": "A revoke asked for directly: quarantine now, revoke once a "
                "second person approves.",
                "covers": [integ.kind.value],
                "steps": [{"action": "quarantine_integration"}, {"action": "revoke_integration"}],
                "pinned": {"client_id": integ.client_id},
            }
            incident_id = self._open(
                s,
                REVOKE_REQUEST,
                spec,
                integ,
                actor=actor,
                reason=reason.strip() or f"revoke of {integ.name} requested",
                drill=False,
                alert_id=None,
                detected_at=self.clock.now(),
            )
        self.advance(incident_id, actor)
        return incident_id, True

    def _open(
        self,
        s: Session,
        playbook: str,
        spec: dict[str, Any],
        integ: Integration,
        *,
        actor: str,
        reason: str,
        drill: bool,
        alert_id: str | None,
        detected_at: datetime,
    ) -> str:
        """Store an incident of ``spec`` (the playbook as it is now) with its steps."""
        now = self.clock.now()
        incident = Incident(
            playbook=playbook,
            spec=spec,
            integration_id=integ.id,
            integration_name=integ.name,
            status="open",
            drill=drill,
            reason=reason.strip()[:2000],
            opened_by=actor,
            trigger_alert_id=alert_id,
            detected_at=detected_at,
            opened_at=now,
            summary="",
            failed_steps=0,
        )
        s.add(incident)
        s.flush()
        for i, step in enumerate(spec["steps"], 1):
            s.add(
                IncidentStep(
                    incident_id=incident.id,
                    position=i,
                    action=step["action"],
                    status="pending",
                    needs_approval=bool(step.get("approve")) or step["action"] in IRREVERSIBLE,
                    result={},
                )
            )
        what = "drill" if drill else "incident"
        self._note(s, incident.id, actor, "opened", f"{what} opened: {reason or playbook}")
        audit.append(
            s,
            actor=actor,
            action="incident.drill" if drill else "incident.open",
            entity_type="integration",
            entity_id=integ.id,
            after={"incident": incident.id, "playbook": playbook, "alert": alert_id},
            clock=self.clock,
        )
        return incident.id

    # -- running ---------------------------------------------------------------------------
    def advance(self, incident_id: str, actor: str) -> None:
        """Run pending steps in order until one needs approval or none is left."""
        while True:
            with self.store.session() as s:
                incident = self._incident(s, incident_id)
                if incident.status == "closed":
                    return
                step = s.scalar(
                    select(IncidentStep)
                    .where(
                        IncidentStep.incident_id == incident_id,
                        IncidentStep.status.in_(("pending", "awaiting_approval", "running")),
                    )
                    .order_by(IncidentStep.position)
                    .limit(1)
                )
                if step is None:
                    self._finish(s, incident)
                    return
                if step.status in ("awaiting_approval", "running"):
                    # steps run in order: a running one is another run's, which goes on from
                    # there (or, if its process died, a person marks it interrupted: skip)
                    return
                if step.needs_approval and step.approved_by is None:
                    step.status = "awaiting_approval"
                    incident.status = "awaiting_approval"
                    what = ""
                    if step.action == "rotate_client_secret":
                        vendor = incident.spec["steps"][step.position - 1].get("vendor")
                        pins = incident.spec.get("pinned") or {}
                        what = (
                            f": a new secret for the {vendor} app with client id "
                            f"{pins.get('client_id')}"
                        )
                        if pins.get("credential"):
                            cred = pins["credential"]
                            what += f", stored over {cred['ref']} (credential {cred['name']})"
                    if step.action == "revoke_oauth_grants":
                        vendor = incident.spec["steps"][step.position - 1].get("vendor")
                        pins = incident.spec.get("pinned") or {}
                        what = (
                            f": the {vendor} OAuth grants of client id {pins.get('client_id')} "
                            f"/ app {incident.integration_name}"
                        )
                    if self._requester(s, incident.opened_by, incident.opened_at) is None:
                        what += (
                            f" — no one can approve it yet: {incident.opened_by} has no "
                            "creator recorded as a person (`ringfence token attribute`)"
                        )
                    self._note(
                        s,
                        incident_id,
                        actor,
                        "approval_needed",
                        f"step {step.position} ({step.action}) waits for approval by someone "
                        f"other than {incident.opened_by}{what}",
                    )
                    return
                position, action = step.position, step.action
                step_spec = dict(incident.spec["steps"][position - 1])
                drill = incident.drill
                exclusive = action in _ONE_AT_A_TIME and not drill and incident.integration_id
                if exclusive:
                    # PostgreSQL: claims of this integration's rotations queue here (SQLite:
                    # the claim below takes the database's write lock, with the same effect)
                    s.execute(
                        select(Integration.id)
                        .where(Integration.id == incident.integration_id)
                        .with_for_update()
                    )
                # Claim the step atomically: of two runs advancing at once (two approvals, a
                # watcher and a person), exactly one executes it.
                claimed = s.execute(
                    update(IncidentStep)
                    .where(IncidentStep.id == step.id, IncidentStep.status == "pending")
                    .values(status="running", started_at=self.clock.now())
                    .returning(IncidentStep.id)
                    .execution_options(synchronize_session=False)
                ).scalar_one_or_none()
                if claimed is None:
                    return  # another run took it; that run goes on from here
                busy = self._running_elsewhere(s, incident, step) if exclusive else None
            # The action runs outside our transaction: it commits its own changes.
            try:
                if busy is not None:
                    raise StepFailed(busy)
                result = self._run(action, incident_id, step_spec, drill=drill)
                status, error = "done", None
            except RingfenceError as exc:
                result, status, error = {}, "failed", exc.message
            except Exception as exc:  # a broken sink or connector must not stop containment
                result, status, error = {}, "failed", f"{type(exc).__name__}: {str(exc)[:300]}"
            with self.store.session() as s:
                incident = self._incident(s, incident_id)
                step = s.scalars(
                    select(IncidentStep).where(
                        IncidentStep.incident_id == incident_id, IncidentStep.position == position
                    )
                ).one()
                step.status, step.result, step.error = status, result, error
                step.finished_at = self.clock.now()
                if status == "failed":
                    incident.failed_steps += 1
                if incident.status == "awaiting_approval":
                    incident.status = "open"
                text = f"step {position} ({action}) {status}"
                if error:
                    text += f": {error}"
                elif result.get("summary"):
                    text += f": {result['summary']}"
                self._note(s, incident_id, "ringfence", f"step_{status}", text)
                self._maybe_contained(s, incident)

    def _running_elsewhere(self, s: Session, incident: Incident, step: IncidentStep) -> str | None:
        """Why ``step`` must not run now: the same action of another incident is running on
        the same integration. Two rotations at once each retire every secret but the one
        they minted — so each removes the other's, and the vault ends up holding a secret the
        vendor no longer accepts."""
        incident_now = self.clock.now()
        other = s.execute(
            select(IncidentStep.incident_id, IncidentStep.position, IncidentStep.started_at)
            .join(Incident, Incident.id == IncidentStep.incident_id)
            .where(
                Incident.integration_id == incident.integration_id,
                Incident.drill.is_(False),
                IncidentStep.action == step.action,
                IncidentStep.status == "running",
                IncidentStep.id != step.id,
                # one left running by a process that stopped holds nothing back
                IncidentStep.started_at >= incident_now - STALE_RUNNING,
            )
            .limit(1)
        ).first()
        if other is None:
            return None
        return (
            f"step {other.position} of incident {other.incident_id} is running {step.action} "
            f"on {incident.integration_name} (since {_iso(other.started_at)}); this one was not "
            "run, so neither removes the secret the other stores — see that incident's outcome"
        )

    def approve(self, incident_id: str, position: int, *, actor: str, comment: str = "") -> None:
        """Let a waiting step run. The approver must not be whoever opened the incident."""
        self._decide(incident_id, position, actor=actor, comment=comment, approve=True)
        self.advance(incident_id, actor)

    def skip(self, incident_id: str, position: int, *, actor: str, comment: str) -> None:
        """Decline a waiting step (with a reason); the run goes on with the next one. A step
        that has been running for longer than ``STALE_RUNNING`` (the process running it
        stopped) is marked failed as interrupted instead, and the run goes on likewise."""
        if len(comment.strip()) < 3:
            raise ValidationError("skipping a step needs a comment saying why")
        if not self._interrupt(incident_id, position, actor=actor, comment=comment):
            self._decide(incident_id, position, actor=actor, comment=comment, approve=False)
        self.advance(incident_id, actor)

    def _interrupt(self, incident_id: str, position: int, *, actor: str, comment: str) -> bool:
        """Mark a step that was left running (its process stopped mid-step) as failed; False
        if the step is not such a step. Before, it stayed running for good: the incident could
        not be closed, and the steps after it never ran."""
        with self.store.session() as s:
            incident = self._incident(s, incident_id)
            step = s.scalar(
                select(IncidentStep).where(
                    IncidentStep.incident_id == incident_id, IncidentStep.position == position
                )
            )
            if step is None or step.status != "running":
                return False
            now = self.clock.now()
            since = step.started_at
            if since is not None and now - since < STALE_RUNNING:
                raise ConflictError(
                    f"step {position} ({step.action}) is running since {_iso(since)}; it can be "
                    f"marked interrupted once it has run for {STALE_RUNNING} without finishing"
                )
            if not self._people(s, actor):
                raise PermissionDeniedError(
                    f"{actor} is not a person: marking a step interrupted needs a console user "
                    "or an operator named with --by",
                    code="person_required",
                )
            error = (
                f"interrupted: running since {_iso(since)} and never finished (the process "
                f"running it stopped?); marked by {actor}: {comment.strip()[:500]} — check at "
                "the vendor / in the audit log what it did before it stopped"
            )
            marked = s.execute(
                update(IncidentStep)
                .where(IncidentStep.id == step.id, IncidentStep.status == "running")
                .values(status="failed", error=error, finished_at=now)
                .returning(IncidentStep.id)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if marked is None:
                raise ConflictError(f"step {position} finished meanwhile")
            incident.failed_steps += 1
            if incident.status == "awaiting_approval":
                incident.status = "open"
            self._note(
                s, incident_id, actor, "step_failed", f"step {position} ({step.action}) {error}"
            )
            audit.append(
                s,
                actor=actor,
                action="incident.step_interrupted",
                entity_type="incident",
                entity_id=incident_id,
                after={"position": position, "action": step.action, "comment": comment[:500]},
                clock=self.clock,
            )
        return True

    def _decide(
        self, incident_id: str, position: int, *, actor: str, comment: str, approve: bool
    ) -> None:
        with self.store.session() as s:
            incident = self._incident(s, incident_id)
            step = s.scalar(
                select(IncidentStep).where(
                    IncidentStep.incident_id == incident_id, IncidentStep.position == position
                )
            )
            if step is None:
                raise NotFoundError(f"incident {incident_id} has no step {position}")
            if step.status != "awaiting_approval":
                raise ConflictError(f"step {position} is {step.status}, not awaiting approval")
            approver = self._people(s, actor)
            if not approver:
                raise PermissionDeniedError(
                    f"{actor} is not a person: approving or skipping a step needs a console user "
                    "(session or personal token) or an operator named with --by; a "
                    "control-plane token belongs to automation and cannot be a second pair of eyes",
                    code="person_required",
                )
            opener = self._requester(s, incident.opened_by, incident.opened_at)
            if opener is None:
                raise PermissionDeniedError(
                    _unattributed(incident.opened_by, "opened"), code="four_eyes"
                )
            if approver & opener:
                via = (
                    f" with the control-plane token {incident.opened_by[6:]!r}, which they "
                    "created (a token's requests are its creator's)"
                    if incident.opened_by.startswith("token:")
                    else ""
                )
                raise PermissionDeniedError(
                    f"{actor} opened this incident{via}: four eyes — a second person must "
                    "approve its steps",
                    code="four_eyes",
                )
            if incident.trigger_alert_id:
                suppliers, unknown = self._suppliers(s, incident)
                if unknown:
                    raise PermissionDeniedError(
                        _unattributed(unknown[0], "pushed records that raised the alert of"),
                        code="four_eyes",
                    )
                if approver & suppliers:
                    raise PermissionDeniedError(
                        f"{actor} pushed records that raised this incident's alert: a second "
                        "person must approve its steps",
                        code="four_eyes",
                    )
            # Decide atomically: of two people deciding at once, only the first counts (a
            # second, stale decision must not put a running or done step back to pending).
            now = self.clock.now()
            decided = s.execute(
                update(IncidentStep)
                .where(IncidentStep.id == step.id, IncidentStep.status == "awaiting_approval")
                .values(
                    approved_by=actor,
                    approved_at=now,
                    status="pending" if approve else "skipped",
                    finished_at=None if approve else now,
                )
                .returning(IncidentStep.id)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if decided is None:
                raise ConflictError(f"step {position} was decided by someone else meanwhile")
            verdict = "approved" if approve else "skipped"
            note = f"step {position} ({step.action}) {verdict} by {actor}"
            self._note(s, incident_id, actor, verdict, note + (f": {comment}" if comment else ""))
            audit.append(
                s,
                actor=actor,
                action=f"incident.step_{verdict}",
                entity_type="incident",
                entity_id=incident_id,
                after={"position": position, "action": step.action, "comment": comment[:500]},
                clock=self.clock,
            )

    def close(self, incident_id: str, *, actor: str, summary: str) -> None:
        if len(summary.strip()) < 3:
            raise ValidationError("closing an incident needs a summary")
        with self.store.session() as s:
            incident = self._incident(s, incident_id)
            if incident.status == "closed":
                raise ConflictError(f"incident {incident_id} is already closed")
            waiting = s.scalar(
                select(IncidentStep.position).where(
                    IncidentStep.incident_id == incident_id,
                    IncidentStep.status.in_(("pending", "awaiting_approval", "running")),
                )
            )
            if waiting is not None:
                raise ConflictError(
                    f"step {waiting} is still open: approve or skip it before closing"
                )
            incident.status, incident.summary = "closed", summary.strip()[:5000]
            incident.closed_at, incident.closed_by = self.clock.now(), actor
            self._note(s, incident_id, actor, "closed", f"closed: {summary.strip()[:300]}")
            audit.append(
                s,
                actor=actor,
                action="incident.close",
                entity_type="incident",
                entity_id=incident_id,
                after={"summary": summary[:500], "drill": incident.drill},
                clock=self.clock,
            )

    def _suppliers(self, s: Session, incident: Incident) -> tuple[set[str], list[str]]:
        """The people who pushed events the incident's alert names: for an incident the
        watcher opened, they are the ones who set it off, so they cannot be its second pair
        of eyes. Read from the pushes' audit records (source and event-time bounds). A push
        with a control-plane token is its creator's; the second list names the tokens among
        them whose creator is not a person (nobody can be shown to differ from them)."""
        from ringfence.monitor.ingest import MAX_FUTURE
        from ringfence.monitor.models import Alert, MonitorEvent

        alert = s.get(Alert, incident.trigger_alert_id)
        info = (alert.finding or {}).get("finding_info", {}) if alert is not None else {}
        ids = [
            e["uid"]
            for e in info.get("related_events", [])
            if isinstance(e, dict) and isinstance(e.get("uid"), str)
        ]
        if not ids:
            return set(), []
        events = s.execute(
            select(MonitorEvent.source, MonitorEvent.ts).where(MonitorEvent.id.in_(ids))
        ).all()
        if not events:
            return set(), []
        pushes = s.execute(
            select(
                AuditRecord.actor, AuditRecord.entity_id, AuditRecord.after, AuditRecord.ts
            ).where(
                AuditRecord.action == "monitor.ingest",
                AuditRecord.entity_id.in_({src for src, _ in events}),
                AuditRecord.ts >= min(ts for _, ts in events) - MAX_FUTURE,
                AuditRecord.ts <= incident.opened_at,
            )
        ).all()
        found: set[str] = set()
        unknown: list[str] = []
        for who, source, after, pushed_at in pushes:
            lo, hi = (after or {}).get("earliest"), (after or {}).get("latest")
            if not (isinstance(lo, str) and isinstance(hi, str)):
                continue
            first, last = datetime.fromisoformat(lo), datetime.fromisoformat(hi)
            if not any(src == source and first <= ts <= last for src, ts in events):
                continue
            people = self._requester(s, who, pushed_at)
            if people is None:
                unknown.append(who)
            else:
                found |= people
        return found, unknown

    @classmethod
    def _requester(cls, s: Session, actor: str, at: datetime) -> set[str] | None:
        """The people a request by ``actor`` at ``at`` stands for, in four-eyes checks: a
        person's own keys; for a control-plane token (``token:NAME``), its creator's (every
        token of that name usable then: names are not unique); an empty set for system
        actors (``respond:watch``: no person to keep apart). None when the actor is a token
        whose creator is not a person (``cli``, unknown) or no such token existed: then no
        one can be shown to be a second person (fail closed)."""
        from ringfence.store.apitokens import creators, is_person

        kind, sep, name = actor.partition(":")
        if not (sep and kind == "token"):
            return cls._people(s, actor)
        made_by = creators(s, name, at)
        if not made_by or not all(is_person(c) for c in made_by):
            return None
        keys: set[str] = set()
        for creator in made_by:
            keys |= cls._people(s, str(creator))
        return keys

    @staticmethod
    def _people(s: Session, actor: str) -> set[str]:
        """Keys of the person behind an actor: their normalised name and, where a console
        account or an inventory person carries that name, the inventory person's id."""
        from ringfence.identity.models import ConsoleUser
        from ringfence.store.models import Person

        name = person_of(actor)
        if name is None:
            return set()
        keys = {f"name:{name}"}
        pid = s.scalar(select(ConsoleUser.person_id).where(ConsoleUser.username == name))
        if pid is None:
            pid = s.scalar(select(Person.id).where(func.lower(Person.email) == name))
        if pid is not None:
            keys.add(f"person:{pid}")
        return keys

    # -- alerts start incidents -------------------------------------------------------------
    def watch_alerts(self, *, actor: str = "respond:watch") -> list[str]:
        """Open an incident for every new alert that a playbook's trigger matches (once)."""
        from ringfence.monitor.models import Alert

        started: list[str] = []
        with self.store.session() as s:
            books = [dict(b.spec) for b in s.scalars(select(Playbook).order_by(Playbook.name))]
            triggered = [b for b in books if b.get("trigger")]
            if not triggered:
                return []
            rules = {r for b in triggered for r in b["trigger"]["rules"]}
            linked = select(Incident.trigger_alert_id).where(Incident.trigger_alert_id.isnot(None))
            alerts = s.execute(
                select(Alert.id, Alert.rule_id, Alert.severity, Alert.first_seen, Alert.dedup_key)
                .where(
                    Alert.rule_id.in_(rules),
                    Alert.status != "closed",
                    Alert.id.not_in(linked),
                )
                .order_by(Alert.first_seen)
            ).all()
            targets = []
            for alert_id, rule_id, severity, first_seen, dedup_key in alerts:
                if self._from_drill(s, alert_id):
                    continue
                entity = str(dedup_key).split("|", 1)[-1]
                integ = self._integration_for_entity(s, entity)
                for b in triggered:
                    trig = b["trigger"]
                    if rule_id not in trig["rules"] or not _at_least(
                        severity, trig["min_severity"]
                    ):
                        continue
                    if integ is None or integ.kind.value not in b["covers"]:
                        continue
                    targets.append((b["name"], integ.id, alert_id, rule_id, first_seen))
                    break
        for name, integ_id, alert_id, rule_id, first_seen in targets:
            try:
                started.append(
                    self.start(
                        name,
                        integ_id,
                        actor=actor,
                        reason=f"alert {alert_id} ({rule_id})",
                        alert_id=alert_id,
                        detected_at=first_seen,
                    )
                )
            except SAIntegrityError:
                continue  # another watcher took this alert first
        return started

    @staticmethod
    def _from_drill(s: Session, alert_id: str) -> bool:
        """An alert raised only by a detection drill's injected events is not an incident."""
        from ringfence.monitor.models import Alert

        finding = s.scalar(select(Alert.finding).where(Alert.id == alert_id)) or {}
        related = (finding.get("finding_info") or {}).get("related_events") or []
        uids = [str(e.get("uid", "")) for e in related if isinstance(e, dict)]
        return bool(uids) and all(u.startswith(DRILL_EVENT_PREFIX) for u in uids)

    # -- detection drills ----------------------------------------------------------------------
    def drill_detection(
        self, playbook: str, integration: str, *, actor: str, monitor: Any, rules: Any
    ) -> str:
        """A drill from the attack on: inject the should-match records of the playbook's first
        trigger rule (from the rule's own test cases) into the monitoring pipeline, wait for the
        alert, then run the playbook in drill mode from it. Measures time to detect (injection →
        alert stored) and time to contain (injection → containment, approvals included)."""
        import time
        import uuid

        from ringfence.monitor.models import Alert
        from ringfence.monitor.sigma.testing import build_events

        with self.store.session() as s:
            book = s.scalar(select(Playbook).where(Playbook.name == playbook))
            if book is None:
                raise NotFoundError(f"no playbook {playbook!r}")
            wanted = list((book.spec.get("trigger") or {}).get("rules") or [])
        if not wanted:
            raise ValidationError(
                f"playbook {playbook!r} has no trigger: a detection drill needs the alert "
                "rules that start it (or run a plain drill)"
            )
        events: list[Any] = []
        chosen = None
        for key in wanted:
            rule = rules.rule(key)  # the RuleSet the monitor's Sigma detector evaluates
            cases = [c for c in (rule.tests if rule else []) if c.get("match") and "record" in c]
            if cases:
                chosen, events = key, build_events(cases[0], [0])
                break
        if chosen is None:
            raise ValidationError(
                f"none of {wanted} is a loaded rule with a should-match test record to inject"
            )
        run = uuid.uuid4().hex[:12]
        now = self.clock.now()
        latest = max(e.time for e in events)
        for i, e in enumerate(events):
            e.id = f"{DRILL_EVENT_PREFIX}{run}-{i}"
            e.time = now - (latest - e.time)
        started = time.perf_counter()
        monitor.process(events)
        detect_seconds = time.perf_counter() - started
        injected = {e.id for e in events}
        with self.store.session() as s:
            # The drill's own alert: the one whose events are all injected ones. Not "the
            # newest alert of the rule": that could be a real one (raised meanwhile, or the
            # open alert the injected events were counted into), which was then closed — and
            # a closed alert never opens its incident.
            candidates = list(
                s.scalars(
                    select(Alert)
                    .where(Alert.rule_id == chosen, Alert.last_seen >= min(e.time for e in events))
                    .order_by(Alert.last_seen.desc())
                )
            )
            alert = next((a for a in candidates if _only_events(a, injected)), None)
            if alert is None:
                merged = [a.id for a in candidates if a.status != "closed"]
                raise StepFailed(
                    f"the injected {chosen} events raised no alert of their own: "
                    + (
                        f"they were counted into open alert {merged[0]} (same rule and entity, "
                        "within its suppression window), which is left open; run the drill "
                        "again once it is closed"
                        if merged
                        else "detection is broken or the rule is suppressed"
                    )
                )
            alert_id = alert.id
            # The drill's alert is closed at once: it must not page anyone as a real one.
            alert.status = "closed"
        incident = self.start(
            playbook,
            integration,
            actor=actor,
            reason=f"detection drill: {chosen} injected",
            drill=True,
            detected_at=now,
        )
        with self.store.session() as s:
            row = self._incident(s, incident)
            row.seconds_to_detect = round(detect_seconds, 6)
            self._note(
                s,
                incident,
                actor,
                "detected",
                f"alert {alert_id} ({chosen}) raised {detect_seconds * 1000:.1f} ms after the "
                "injected events",
            )
        return incident

    @staticmethod
    def _integration_for_entity(s: Session, entity: str) -> Integration | None:
        """An alert's entity is an integration name, its client id or a gateway client id."""
        from ringfence.gateway.models import GatewayClient

        found = s.scalar(
            select(Integration).where(
                or_(Integration.name == entity, Integration.client_id == entity)
            )
        )
        if found is None:
            found = s.scalar(
                select(Integration)
                .join(GatewayClient, GatewayClient.integration_id == Integration.id)
                .where(GatewayClient.client_id == entity)
            )
        return found

    # -- reading ----------------------------------------------------------------------------
    def incidents(
        self, status: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Incidents newest first (ties by id, so pages are stable); ``limit`` None is all."""
        with self.store.session() as s:
            q = select(Incident).order_by(Incident.opened_at.desc(), Incident.id.desc())
            if status:
                q = q.where(Incident.status == status)
            if offset:
                q = q.offset(offset)
            if limit is not None:
                q = q.limit(limit)
            return [self._summary(i) for i in s.scalars(q)]

    def count_incidents(self, status: str | None = None) -> int:
        with self.store.session() as s:
            q = select(func.count()).select_from(Incident)
            if status:
                q = q.where(Incident.status == status)
            return int(s.scalar(q) or 0)

    def show(self, incident_id: str) -> dict[str, Any]:
        with self.store.session() as s:
            incident = self._incident(s, incident_id)
            steps = s.scalars(
                select(IncidentStep)
                .where(IncidentStep.incident_id == incident_id)
                .order_by(IncidentStep.position)
            )
            timeline = s.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.incident_id == incident_id)
                .order_by(TimelineEntry.id)
            )
            return {
                **self._summary(incident),
                "reason": incident.reason,
                "summary": incident.summary,
                "steps": [
                    {
                        "position": st.position,
                        "action": st.action,
                        "status": st.status,
                        "needs_approval": st.needs_approval,
                        "approved_by": st.approved_by,
                        "result": st.result,
                        "error": st.error,
                    }
                    for st in steps
                ],
                "timeline": [
                    {"ts": t.ts.isoformat(), "actor": t.actor, "kind": t.kind, "message": t.message}
                    for t in timeline
                ],
            }

    def evidence(self, incident_id: str) -> list[dict[str, Any]]:
        with self.store.session() as s:
            self._incident(s, incident_id)
            rows = s.scalars(
                select(Evidence)
                .where(Evidence.incident_id == incident_id)
                .order_by(Evidence.collected_at)
            )
            return [
                {
                    "id": e.id,
                    "collected_at": e.collected_at.isoformat(),
                    "sha256": e.sha256,
                    "bundle": e.bundle,
                }
                for e in rows
            ]

    @staticmethod
    def _summary(i: Incident) -> dict[str, Any]:
        contain = (
            (i.contained_at - i.detected_at).total_seconds() if i.contained_at is not None else None
        )
        return {
            "id": i.id,
            "playbook": i.playbook,
            "integration": i.integration_name,
            "status": i.status,
            "drill": i.drill,
            "opened_by": i.opened_by,
            "alert": i.trigger_alert_id,
            "detected_at": i.detected_at.isoformat(),
            "opened_at": i.opened_at.isoformat(),
            "contained_at": i.contained_at.isoformat() if i.contained_at else None,
            "closed_at": i.closed_at.isoformat() if i.closed_at else None,
            "seconds_to_contain": contain,
            "seconds_to_detect": i.seconds_to_detect,
            "failed_steps": i.failed_steps,
        }

    # -- bookkeeping -------------------------------------------------------------------------
    @staticmethod
    def _incident(s: Session, incident_id: str) -> Incident:
        incident = s.get(Incident, incident_id)
        if incident is None:
            raise NotFoundError(f"no incident {incident_id!r}")
        return incident

    def _note(self, s: Session, incident_id: str, actor: str, kind: str, message: str) -> None:
        s.add(
            TimelineEntry(
                incident_id=incident_id,
                ts=self.clock.now(),
                actor=actor[:200],
                kind=kind,
                message=message[:4000],
            )
        )

    def _maybe_contained(self, s: Session, incident: Incident) -> None:
        if incident.contained_at is not None:
            return
        steps = list(
            s.scalars(
                select(IncidentStep).where(
                    IncidentStep.incident_id == incident.id,
                    IncidentStep.action.in_(CONTAINMENT),
                )
            )
        )
        if steps and all(st.status == "done" for st in steps):
            incident.contained_at = self.clock.now()
            secs = (incident.contained_at - incident.detected_at).total_seconds()
            self._note(
                s, incident.id, "ringfence", "contained", f"contained {secs:.1f} s after detection"
            )

    def _finish(self, s: Session, incident: Incident) -> None:
        if incident.status in ("contained", "needs_attention"):
            return
        self._maybe_contained(s, incident)
        incident.status = "contained" if incident.contained_at else "needs_attention"
        if incident.status == "needs_attention":
            self._note(
                s,
                incident.id,
                "ringfence",
                "needs_attention",
                "every step ran but containment is not complete: see the failed or skipped steps",
            )

    # -- actions ---------------------------------------------------------------------------
    def _run(
        self, action: str, incident_id: str, step: dict[str, Any], *, drill: bool
    ) -> dict[str, Any]:
        handler: Callable[[str, dict[str, Any], bool], dict[str, Any]] = getattr(
            self, f"_act_{action}"
        )
        return handler(incident_id, step, drill)

    def _target(self, s: Session, incident_id: str) -> tuple[Incident, Integration]:
        incident = self._incident(s, incident_id)
        integ = s.get(Integration, incident.integration_id) if incident.integration_id else None
        if integ is None:
            raise StepFailed(f"integration {incident.integration_name!r} no longer exists")
        return incident, integ

    def _set_status(
        self, incident_id: str, status: IntegrationStatus, drill: bool
    ) -> dict[str, Any]:
        from ringfence.inventory.repository import InventoryRepository

        with self.store.session() as s:
            _incident, integ = self._target(s, incident_id)
            current = integ.status
            if drill:
                would = current is not status
                if current is IntegrationStatus.REVOKED and status is not current:
                    raise StepFailed(f"integration {integ.name!r} is revoked already")
                return {
                    "drill": True,
                    "summary": f"would set {integ.name} {current.value} → {status.value}"
                    if would
                    else f"{integ.name} is already {status.value}",
                }
            repo = InventoryRepository(s, actor=f"incident:{incident_id}", clock=self.clock)
            _obj, changed = repo.set_integration_status(
                integ.id, status, reason=f"incident {incident_id}"
            )
            verb = "set" if changed else "already"
            return {"summary": f"{integ.name} {verb} {status.value}", "changed": changed}

    def _act_quarantine_integration(
        self, incident_id: str, step: dict[str, Any], drill: bool
    ) -> dict[str, Any]:
        del step
        return self._set_status(incident_id, IntegrationStatus.QUARANTINED, drill)

    def _act_revoke_integration(
        self, incident_id: str, step: dict[str, Any], drill: bool
    ) -> dict[str, Any]:
        del step
        return self._set_status(incident_id, IntegrationStatus.REVOKED, drill)

    def _act_revoke_gateway_access(
        self, incident_id: str, step: dict[str, Any], drill: bool
    ) -> dict[str, Any]:
        del step
        from ringfence.gateway.clients import (
            list_api_keys,
            list_clients,
            revoke_api_key,
            revoke_client,
        )

        with self.store.session() as s:
            _incident, integ = self._target(s, incident_id)
            name = integ.name
        clients = [
            c["client_id"]
            for c in list_clients(self.store)
            if c["integration"] == name and not c["revoked"]
        ]
        keys = [
            k["prefix"]
            for k in list_api_keys(self.store)
            if k["client_id"] in clients and not k["revoked"]
        ]
        if not drill:
            actor = f"incident:{incident_id}"
            for prefix in keys:
                revoke_api_key(self.store, self.clock, prefix, actor=actor)
            for client_id in clients:
                revoke_client(self.store, self.clock, client_id, actor=actor)
        verb = "would revoke" if drill else "revoked"
        return {
            "drill": drill,
            "clients": clients,
            "api_keys": keys,
            "summary": f"{verb} {len(clients)} gateway client(s) and {len(keys)} API key(s)",
        }

    def _connector_for(self, step: dict[str, Any]) -> tuple[str, Any]:
        vendor = str(step["vendor"])
        cfg = self.connectors.get(vendor)
        if cfg is None:
            raise StepFailed(
                f"no {vendor} connector is configured (pass the connectors file with --connectors)"
            )
        return vendor, cfg

    def _act_revoke_oauth_grants(
        self, incident_id: str, step: dict[str, Any], drill: bool
    ) -> dict[str, Any]:
        from ringfence.connectors import build_connector
        from ringfence.posture.loader import grant_from_json
        from ringfence.posture.models import SaasObservation

        vendor, cfg = self._connector_for(step)
        with self.store.session() as s:
            incident, integ = self._target(s, incident_id)
            # The grants of the app the approver approved: the client id and name as they were
            # when the incident opened. Before, the current ones: an edit of client_id before
            # the approval revoked another app's grants at the vendor (irreversible).
            pins = incident.spec.get("pinned") or {}
            pinned = pins.get("client_id", integ.client_id)
            if "client_id" in pins and integ.client_id != pinned:
                raise StepFailed(
                    f"integration {integ.name!r}'s client_id changed since the incident opened "
                    f"({pinned} → {integ.client_id}): open a new incident to revoke the grants "
                    "of the new one"
                )
            ids = {v for v in (pinned, incident.integration_name) if v}
            grants = [
                dict(row.data)
                for row in s.scalars(
                    select(SaasObservation).where(
                        SaasObservation.vendor == vendor, SaasObservation.kind == "grant"
                    )
                )
                if row.data.get("client_id") in ids or row.data.get("app_name") in ids
            ]
        if not grants:
            return {
                "drill": drill,
                "grants": [],
                "summary": f"no {vendor} grant observed for {integ.name} (last connector pull)",
            }
        if drill:
            return {
                "drill": True,
                "grants": [g["external_id"] for g in grants],
                "summary": f"would revoke {len(grants)} {vendor} grant(s)",
            }
        # Each grant on its own: a failure does not hide what was already revoked, and every
        # outcome is audited before the step reports. A grant the vendor no longer has (404)
        # is what the step wants — already revoked, by someone or an earlier run. Revoked
        # grants leave the observations, so a re-run or a drill does not count them again
        # (until a later pull sees them again).
        from ringfence.connectors import ConnectorError

        results: list[dict[str, Any]] = []
        revoked: list[str] = []  # external ids revoked or already gone: leave the observations
        try:
            with build_connector(cfg, secrets=self.vault, clock=self.clock) as conn:
                for g in grants:
                    try:
                        r = conn.revoke_grant(grant_from_json(g))
                        outcome = {"grant": r.target, "ok": r.ok, "detail": r.detail[:300]}
                    except ConnectorError as exc:
                        gone = exc.http_status == 404
                        outcome = {
                            "grant": str(g["external_id"]),
                            "ok": gone,
                            "detail": (
                                "already gone at the vendor (404)" if gone else str(exc)[:300]
                            ),
                        }
                    results.append(outcome)
                    if outcome["ok"]:
                        revoked.append(str(g["external_id"]))
        finally:
            if results:
                with self.store.session() as s:
                    audit.append(
                        s,
                        actor=f"incident:{incident_id}",
                        action="connector.revoke_grant",
                        entity_type="integration",
                        entity_id=integ.id,
                        after={"vendor": vendor, "results": results},
                        clock=self.clock,
                    )
                    if revoked:
                        s.execute(
                            delete(SaasObservation).where(
                                SaasObservation.vendor == vendor,
                                SaasObservation.kind == "grant",
                                SaasObservation.external_id.in_(revoked),
                            )
                        )
        failed = [r for r in results if not r["ok"]]
        if failed:
            raise StepFailed(
                f"{len(failed)} of {len(results)} {vendor} grant revocation(s) failed "
                f"({len(results) - len(failed)} revoked or already gone): "
                + "; ".join(f"{r['grant']}: {r['detail']}" for r in failed[:3])
            )
        return {"grants": results, "summary": f"revoked {len(results)} {vendor} grant(s)"}

    def _act_rotate_client_secret(
        self, incident_id: str, step: dict[str, Any], drill: bool
    ) -> dict[str, Any]:
        """Mint a new client secret for the integration's app at the vendor, store it in the
        vault under the integration's client-secret credential, then remove every other secret
        of the app there. The new secret is stored before any old one is removed, so a failure
        never leaves the app without a secret Ringfence holds."""
        from ringfence.connectors import build_connector

        vendor, cfg = self._connector_for(step)
        with self.store.session() as s:
            incident, integ = self._target(s, incident_id)
            pinned = (incident.spec.get("pinned") or {}).get("client_id", integ.client_id)
            if not integ.client_id:
                raise StepFailed(
                    f"integration {integ.name!r} declares no client_id, so which {vendor} app "
                    "to rotate is unknown"
                )
            if integ.client_id != pinned:
                raise StepFailed(
                    f"integration {integ.name!r}'s client_id changed since the incident opened "
                    f"({pinned} → {integ.client_id}): open a new incident to rotate the new one"
                )
            creds = list(
                s.scalars(
                    select(Credential).where(
                        Credential.integration_id == integ.id,
                        Credential.kind == CredentialKind.OAUTH_CLIENT_SECRET,
                    )
                )
            )
            if len(creds) != 1:
                raise StepFailed(
                    f"integration {integ.name!r} has {len(creds)} oauth_client_secret "
                    "credentials; rotation needs exactly one to hold the new secret"
                )
            cred_id, cred_name, ref, client_id = (
                creds[0].id,
                creds[0].name,
                creds[0].ref,
                integ.client_id,
            )
            pins = incident.spec.get("pinned") or {}
            if "credential" in pins:  # (incidents opened before session 13 pinned none)
                pin = pins["credential"]
                if pin is None or (pin["id"], pin["ref"]) != (cred_id, ref):
                    was = f"{pin['name']} at {pin['ref']}" if pin else "no single credential"
                    raise StepFailed(
                        f"integration {integ.name!r}'s client-secret credential changed since "
                        f"the incident opened ({was} → {cred_name} at {ref}): the approval was "
                        "for the former; open a new incident to rotate into the new one"
                    )
            scheme, _, vault_name = ref.partition(":")
            if scheme != "vault" or not vault_name:
                raise StepFailed(
                    f"credential {cred_name!r} lives at {ref}, outside the vault: Ringfence "
                    "rotates only secrets it stores"
                )
            if is_reserved(vault_name):  # refused at apply too; never overwrite Ringfence's keys
                raise StepFailed(f"credential {cred_name!r} names a reserved vault entry ({ref})")
            users = self._other_users_of(s, vault_name, cred_id)
            if users:
                raise StepFailed(
                    f"vault:{vault_name} is also used by {', '.join(users[:5])}: rotating "
                    f"{cred_name} would overwrite that secret (the vault keeps no older "
                    f"version); give {cred_name} a vault entry of its own"
                )
        with build_connector(cfg, secrets=self.vault, clock=self.clock) as conn:
            if drill:
                app_id = conn.client_app(client_id)
                return {
                    "drill": True,
                    "credential": cred_name,
                    "app": app_id,
                    "summary": f"would rotate {cred_name}: a new secret for {vendor} app "
                    f"{app_id}, stored at vault:{vault_name}, the old ones removed",
                }
            try:
                new = conn.add_client_secret(client_id)
            except RingfenceError as exc:
                # The vendor may or may not have created one (a lost answer): say so, on record.
                self._rotation_record(incident_id, cred_id, vendor, "mint", exc.message)
                raise StepFailed(
                    f"{exc.message} — no new secret is held; if the vendor answered late it "
                    f"may have created one nobody holds: check the app's secrets at {vendor}"
                ) from None
            try:
                self.vault.put(
                    vault_name,
                    new.secret.get_secret_value(),
                    description=f"{vendor} client secret {new.secret_id} (rotated by incident "
                    f"{incident_id})",
                    actor=f"incident:{incident_id}",  # as its quarantine/revoke steps are
                )
            except Exception as exc:  # any store failure: the minted secret must be named
                why = exc.message if isinstance(exc, RingfenceError) else type(exc).__name__
                with contextlib.suppress(Exception):  # the store may be what failed
                    self._rotation_record(incident_id, cred_id, vendor, "store", why, new)
                raise StepFailed(
                    f"{vendor} minted secret {new.secret_id} but the vault could not store it "
                    f"({why}); the old secrets were left active — remove {new.secret_id} at "
                    f"{vendor} by hand"
                ) from None
            retired: list[str] = []
            problem = None
            try:
                conn.retire_client_secrets(new.app_id, new.secret_id, retired)
            except RingfenceError as exc:
                problem = exc.message
        self._rotation_record(incident_id, cred_id, vendor, None, problem, new, retired)
        if problem is not None:
            raise StepFailed(
                f"the new {vendor} secret {new.secret_id} is in the vault at vault:{vault_name}, "
                f"but removing the old ones failed: {problem} — remove them at {vendor} by hand"
            )
        return {
            "credential": cred_name,
            "app": new.app_id,
            "new_secret_id": new.secret_id,
            "retired": retired,
            "summary": f"rotated {cred_name}: new {vendor} secret {new.secret_id} at "
            f"vault:{vault_name}; {len(retired)} old secret(s) removed",
        }

    def _other_users_of(self, s: Session, vault_name: str, cred_id: str) -> list[str]:
        """What else reads the vault entry ``vault_name``: other credentials, gateway routes
        (their ``credential.ref``), the configured connectors, and Ringfence's own
        configuration (the SSO client secret, monitor.yaml's sinks)."""
        from ringfence.gateway.models import GatewayRoute

        refs = {f"vault:{vault_name}", f"${{vault:{vault_name}}}"}
        users = [
            f"credential {name}"
            for (name,) in s.execute(
                select(Credential.name).where(Credential.ref.in_(refs), Credential.id != cred_id)
            )
        ]
        users += [
            f"gateway route {name}"
            for name, spec in s.execute(select(GatewayRoute.name, GatewayRoute.spec))
            if _mentions(spec, refs)
        ]
        for vendor, cfg in sorted(self.connectors.items()):
            if getattr(cfg, "credential_ref", None) in refs:
                users.append(f"the {vendor} connector")
            # its other tokens: GitHub's action_credential_ref, Microsoft's
            # management_credential_ref (the Office 365 Management Activity API), ...
            options = getattr(cfg, "options", None) or {}
            users += [
                f"the {vendor} connector ({key})"
                for key, value in sorted(options.items())
                if key.endswith("_credential_ref") and value in refs
            ]
        return users + self._platform_users_of(vault_name)

    def _platform_users_of(self, vault_name: str) -> list[str]:
        """The parts of Ringfence's own configuration that read ``vault_name``: the SSO
        client secret (``RINGFENCE_IDENTITY_OIDC_CLIENT_SECRET_REF``) and the ``*_vault``
        keys of monitor.yaml's sinks. Before session 14 a rotation wrote over them unseen,
        breaking console sign-in or the SIEM feed. Read now, not when the Responder was
        made: the files may have changed while the approval waited. A configuration that
        cannot be read fails the step (fail closed: whether it reads the entry is unknown)."""
        from ringfence.posture.platform import platform_secret_refs

        try:
            refs = platform_secret_refs(self.data_dir)
        except Exception as exc:  # a broken monitor.yaml, a bad RINGFENCE_IDENTITY_* value
            why = exc.message if isinstance(exc, RingfenceError) else type(exc).__name__
            raise StepFailed(
                f"cannot tell whether Ringfence's own configuration reads vault:{vault_name} "
                f"({why[:300]}); nothing was rotated — fix it and open a new incident"
            ) from None
        return [r.used_by for r in refs if r.vault_name == vault_name]

    def _rotation_record(
        self,
        incident_id: str,
        cred_id: str,
        vendor: str,
        failed_at: str | None,
        problem: str | None,
        new: Any = None,
        retired: list[str] | None = None,
    ) -> None:
        """The audit record of a rotation, also when it stopped part-way (ids only: keys
        named like "secret" are redacted by the audit log anyway)."""
        with self.store.session() as s:
            if failed_at is None:
                cred = s.get(Credential, cred_id)
                if cred is not None:
                    cred.rotated_at = self.clock.now()
            audit.append(
                s,
                actor=f"incident:{incident_id}",
                action="credential.rotate" if failed_at is None else "credential.rotate_failed",
                entity_type="credential",
                entity_id=cred_id,
                after={
                    "vendor": vendor,
                    "app": new.app_id if new is not None else None,
                    "minted": new.secret_id if new is not None else None,
                    "retired": list(retired or []),
                    "failed_at": failed_at,
                    "problem": problem,
                },
                clock=self.clock,
            )

    def _act_collect_evidence(
        self, incident_id: str, step: dict[str, Any], drill: bool
    ) -> dict[str, Any]:
        from ringfence.gateway.models import GatewayApiKey, GatewayClient, GatewayUsage
        from ringfence.monitor.models import Alert, MonitorEvent

        hours = int(step.get("hours") or 24)
        now = self.clock.now()
        since = now - timedelta(hours=hours)
        with self.store.session() as s:
            incident, integ = self._target(s, incident_id)
            clients = list(
                s.scalars(select(GatewayClient).where(GatewayClient.integration_id == integ.id))
            )
            names = {integ.name, *(c.client_id for c in clients)}
            if integ.client_id:
                names.add(integ.client_id)
            dest = s.get(App, integ.destination_app_id)
            events = s.execute(
                select(
                    MonitorEvent.id,
                    MonitorEvent.ts,
                    MonitorEvent.source,
                    MonitorEvent.action,
                    MonitorEvent.actor,
                    MonitorEvent.src_ip,
                    MonitorEvent.status_id,
                )
                .where(MonitorEvent.ts >= since, MonitorEvent.actor.in_(names))
                # the newest: the bound keeps what the incident is about, not the oldest of
                # the window (before, a busy integration's bundle stopped hours before it)
                .order_by(MonitorEvent.ts.desc(), MonitorEvent.id.desc())
                .limit(MAX_EVIDENCE_EVENTS + 1)
            ).all()
            truncated = len(events) > MAX_EVIDENCE_EVENTS
            events = list(reversed(events[:MAX_EVIDENCE_EVENTS]))
            alerts = s.execute(
                select(Alert.id, Alert.rule_id, Alert.severity, Alert.first_seen, Alert.dedup_key)
                .where(Alert.last_seen >= since)
                .order_by(Alert.first_seen)
            ).all()
            bundle: dict[str, Any] = {
                "incident": incident.id,
                "drill": drill,
                "collected_at": now.isoformat(),
                "window_hours": hours,
                # more events than a bundle holds: those before the first one are left out
                "events_truncated": truncated,
                "integration": {
                    "id": integ.id,
                    "name": integ.name,
                    "kind": integ.kind.value,
                    "status": integ.status.value,
                    "client_id": integ.client_id,
                    "scopes": list(integ.scopes),
                    "data_classes": list(integ.data_classes),
                    "destination_app": dest.name if dest else None,
                    "owner_id": integ.owner_id,
                },
                "credentials": [
                    {
                        "name": c.name,
                        "kind": c.kind.value,
                        "ref": c.ref,  # a reference (vault:NAME / ${env:NAME}), never a value
                        "rotated_at": _iso(c.rotated_at),
                        "expires_at": _iso(c.expires_at),
                        "last_used_at": _iso(c.last_used_at),
                    }
                    for c in s.scalars(
                        select(Credential).where(Credential.integration_id == integ.id)
                    )
                ],
                "gateway_clients": [
                    {
                        "client_id": c.client_id,
                        "revoked_at": _iso(c.revoked_at),
                        "scopes": list(c.scopes),
                    }
                    for c in clients
                ],
                "api_keys": [
                    {
                        "prefix": k.prefix,
                        "revoked_at": _iso(k.revoked_at),
                        "last_used_at": _iso(k.last_used_at),
                    }
                    for k in s.scalars(
                        select(GatewayApiKey).where(
                            GatewayApiKey.client_pk.in_([c.id for c in clients])
                        )
                    )
                ],
                "usage": [
                    {
                        "scope": u.scope,
                        "route": u.route,
                        "count": u.count,
                        "last_seen": _iso(u.last_seen),
                    }
                    for u in s.scalars(
                        select(GatewayUsage).where(GatewayUsage.integration == integ.name)
                    )
                ],
                "events": [
                    {
                        "id": e[0],
                        "ts": _iso(e[1]),
                        "source": e[2],
                        "action": e[3],
                        "actor": e[4],
                        "src_ip": e[5],
                        "status_id": e[6],
                    }
                    for e in events
                ],
                "alerts": [
                    {"id": a[0], "rule": a[1], "severity": a[2], "first_seen": _iso(a[3])}
                    for a in alerts
                    if str(a[4]).split("|", 1)[-1] in names
                ],
                "audit": [
                    {
                        "seq": r.seq,
                        "ts": _iso(r.ts),
                        "actor": r.actor,
                        "action": r.action,
                        "hash": r.hash,
                    }
                    for r in s.scalars(
                        select(AuditRecord)
                        .where(AuditRecord.entity_id == integ.id)
                        .order_by(AuditRecord.seq)
                    )
                ],
            }
            digest = hashlib.sha256(orjson.dumps(bundle, option=orjson.OPT_SORT_KEYS)).hexdigest()
            s.add(Evidence(incident_id=incident.id, collected_at=now, sha256=digest, bundle=bundle))
            audit.append(
                s,
                actor=f"incident:{incident_id}",
                action="incident.evidence",
                entity_type="incident",
                entity_id=incident_id,
                after={"sha256": digest, "events": len(events)},
                clock=self.clock,
            )
        return {
            "sha256": digest,
            "events": len(bundle["events"]),
            "summary": f"{len(bundle['events'])} events"
            + (" (the newest; more in the window)" if truncated else "")
            + f", {len(bundle['alerts'])} alerts, "
            f"{len(bundle['audit'])} audit records over {hours} h; sha256 {digest[:16]}",
        }

    def _finding(
        self, incident: Incident, title: str, message: str, severity: str = "high"
    ) -> dict[str, Any]:
        """A notification in the OCSF Detection Finding shape the sinks already speak."""
        prefix = "[DRILL] " if incident.drill else ""
        return {
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "activity_id": 1,
            "type_uid": 200401,
            "time": int(self.clock.now().timestamp() * 1000),
            "severity": severity.capitalize(),
            "severity_id": {"low": 2, "medium": 3, "high": 4, "critical": 5}.get(severity, 4),
            "message": prefix + message,
            "finding_info": {
                "uid": incident.id,
                "title": prefix + title,
                "desc": prefix + message,
                "analytic": {"uid": f"respond:{incident.playbook}", "name": incident.playbook},
            },
            "resources": [{"name": incident.integration_name, "type": "integration"}],
            "unmapped": {"incident": incident.id, "drill": incident.drill},
        }

    def _sink(self, name: str) -> Sink:
        sink = self.sinks.get(name)
        if sink is None:
            known = ", ".join(sorted(self.sinks)) or "none"
            raise StepFailed(f"sink {name!r} is not configured (monitor.yaml sinks: {known})")
        return sink

    def _message(self, incident: Incident, step: dict[str, Any], default: str) -> str:
        # Plain substitution of three names, not str.format: a format string can walk
        # attributes ("{incident.__class__...}") and the template comes from a file.
        text = str(step.get("message") or default)
        for name, value in (
            ("{incident}", incident.id),
            ("{integration}", incident.integration_name),
            ("{playbook}", incident.playbook),
        ):
            text = text.replace(name, value)
        return text

    def _act_notify(self, incident_id: str, step: dict[str, Any], drill: bool) -> dict[str, Any]:
        sink = self._sink(str(step["sink"]))
        with self.store.session() as s:
            incident = self._incident(s, incident_id)
            s.expunge(incident)
        message = self._message(
            incident,
            step,
            "Incident {incident}: playbook {playbook} is running on integration {integration}.",
        )
        sink.send(self._finding(incident, f"Incident on {incident.integration_name}", message))
        return {"drill": drill, "sink": sink.name, "summary": f"sent to {sink.name}"}

    def _act_notify_vendor(
        self, incident_id: str, step: dict[str, Any], drill: bool
    ) -> dict[str, Any]:
        from ringfence.monitor.sinks import EmailSink
        from ringfence.vendors.models import VendorProfile

        sink = self._sink(str(step["sink"]))
        if not isinstance(sink, EmailSink):
            raise StepFailed(f"notify_vendor needs an email sink; {sink.name!r} is not one")
        with self.store.session() as s:
            incident, integ = self._target(s, incident_id)
            app = s.get(App, integ.destination_app_id)
            vendor = s.get(Vendor, app.vendor_id) if app is not None else None
            if vendor is None:
                raise StepFailed(f"the destination app of {integ.name!r} has no vendor")
            profile = s.scalar(select(VendorProfile).where(VendorProfile.vendor_id == vendor.id))
            recipients: list[str] = []
            protocol = {"channel": "email", "hours": "24x7"}
            if profile is not None:
                protocol = {"channel": profile.channel, "hours": profile.hours}
                if profile.breach_notification_address:
                    recipients.append(profile.breach_notification_address)
                recipients += [c.email for c in profile.contacts if c.email not in recipients]
            vendor_name = vendor.name
            s.expunge(incident)
        if not recipients:
            raise StepFailed(
                f"vendor {vendor_name!r} has no breach-notification address or security contact "
                "(`ringfence vendors` profile)"
            )
        result = {
            "drill": drill,
            "vendor": vendor_name,
            "recipients": recipients,
            "protocol": protocol,
        }
        if drill:
            return {**result, "summary": f"would notify {vendor_name}: {', '.join(recipients)}"}
        message = self._message(
            incident,
            step,
            "Security incident {incident} involves our integration {integration} with your "
            "service. Please contact our security team.",
        )
        finding = self._finding(incident, f"Security incident: {vendor_name}", message)
        dataclasses.replace(sink, recipients=recipients).send(finding)
        with self.store.session() as s:
            audit.append(
                s,
                actor=f"incident:{incident_id}",
                action="incident.vendor_notified",
                entity_type="vendor",
                entity_id=vendor_name,
                after={"recipients": recipients, "protocol": protocol},
                clock=self.clock,
            )
        return {**result, "summary": f"notified {vendor_name}: {', '.join(recipients)}"}


def _unattributed(actor: str, what: str) -> str:
    """Why a request by a token whose creator is not a person cannot be approved."""
    return (
        f"{actor} {what} this incident, and that control-plane token's creator is not "
        "recorded as a person (made by the CLI without --by, or before creators were "
        "recorded): four eyes — no one can be shown to be a second person, so its steps "
        "cannot be approved or skipped. Name the token's person with `ringfence token "
        "attribute ID --by NAME` (`ringfence token list` shows ID), then decide again"
    )


# Actions that must not run on one integration in two incidents at once.
_ONE_AT_A_TIME = frozenset({"rotate_client_secret"})


def _client_secret_pin(s: Session, integration_id: str) -> dict[str, str] | None:
    """The integration's one client-secret credential (id, name, ref), or None."""
    rows = s.execute(
        select(Credential.id, Credential.name, Credential.ref).where(
            Credential.integration_id == integration_id,
            Credential.kind == CredentialKind.OAUTH_CLIENT_SECRET,
        )
    ).all()
    if len(rows) != 1:
        return None
    return {"id": rows[0].id, "name": rows[0].name, "ref": rows[0].ref}


def _only_events(alert: Any, ids: set[str]) -> bool:
    """Whether every event ``alert`` names is one of ``ids`` (and it names some)."""
    related = ((alert.finding or {}).get("finding_info") or {}).get("related_events") or []
    uids = {str(e.get("uid")) for e in related if isinstance(e, dict)}
    return bool(uids) and uids <= ids


def _mentions(value: Any, needles: set[str]) -> bool:
    if isinstance(value, str):
        return value in needles
    if isinstance(value, dict):
        return any(_mentions(v, needles) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, needles) for v in value)
    return False


def _at_least(severity: str, minimum: str) -> bool:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return rank.get(str(severity).lower(), -1) >= rank.get(minimum, len(SEVERITIES))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

"""Incident-response readiness and monitoring checks (active once those capabilities report
playbooks, drills, backups, audit sources and SIEM sinks)."""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import MonitoringFacts, PostureContext, ReadinessFacts


def _ir(ctx: PostureContext) -> ReadinessFacts:
    if ctx.readiness is None:
        raise LookupError("no readiness facts")
    return ctx.readiness


def _mon(ctx: PostureContext) -> MonitoringFacts:
    if ctx.monitoring is None:
        raise LookupError("no monitoring facts")
    return ctx.monitoring


@check(
    id="RF-IRR-001",
    title="No playbook for an integration class",
    area="readiness",
    severity=Severity.MEDIUM,
    resource="integration_class",
    requires=("readiness",),
    rationale="Without a playbook, containing a compromised integration is improvised.",
    remediation="Write a playbook for the class (quarantine, revoke, rotate, notify).",
)
def no_playbook(ctx: PostureContext) -> Iterator[Failure]:
    covered = _ir(ctx).playbook_classes
    if "*" in covered:
        return
    for kind in sorted({i.kind for i in ctx.integrations}):
        if kind not in covered:
            yield fail(
                "integration_class", kind, f"no incident playbook covers {kind} integrations"
            )


@check(
    id="RF-IRR-002",
    title="No incident drill in 90 days",
    area="readiness",
    severity=Severity.MEDIUM,
    resource="organisation",
    requires=("readiness",),
    rationale="Untested playbooks fail in the incident; drills measure time to contain.",
    remediation="Run a drill (`ringfence respond drill`).",
)
def no_recent_drill(ctx: PostureContext) -> Iterator[Failure]:
    age = ctx.days_since(_ir(ctx).last_drill_at)
    if age is None or age > ctx.policy.drill_max_age_days:
        when = "never" if age is None else f"{int(age)} days ago"
        yield fail("organisation", "drills", f"last incident drill: {when}")


@check(
    id="RF-IRR-003",
    title="No verified backup in 24 hours",
    area="readiness",
    severity=Severity.HIGH,
    resource="organisation",
    requires=("readiness",),
    rationale="An unverified backup is a hope, not a recovery plan.",
    remediation="Run a backup with restore verification.",
)
def no_verified_backup(ctx: PostureContext) -> Iterator[Failure]:
    at = _ir(ctx).last_verified_backup_at
    hours = None if at is None else (ctx.now - at).total_seconds() / 3600
    if hours is None or hours > ctx.policy.backup_max_age_hours:
        when = "never" if hours is None else f"{int(hours)} hours ago"
        yield fail("organisation", "backups", f"last verified backup: {when}")


@check(
    id="RF-MON-001",
    title="Audit source silent for 24 hours",
    area="monitoring",
    severity=Severity.HIGH,
    resource="audit_source",
    requires=("monitoring",),
    rationale="A silent audit source usually means a broken collector (or a disabled log), "
    "and detections are blind meanwhile.",
    remediation="Check the collector's credentials and the vendor's audit-log settings.",
)
def silent_source(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.audit_source_silence_hours
    for name, last in sorted(_mon(ctx).sources.items()):
        hours = None if last is None else (ctx.now - last).total_seconds() / 3600
        if hours is None or hours > limit:
            when = "never" if hours is None else f"{int(hours)} hours ago"
            yield fail("audit_source", name, f"audit source {name}: last event {when}")


@check(
    id="RF-MON-002",
    title="SIEM sink failing",
    area="monitoring",
    severity=Severity.HIGH,
    resource="siem_sink",
    requires=("monitoring",),
    rationale="Alerts that never reach the SIEM are never triaged.",
    remediation="Fix the sink's endpoint or credentials; replay its outbox.",
)
def sink_failing(ctx: PostureContext) -> Iterator[Failure]:
    for name, failing in sorted(_mon(ctx).sinks_failing.items()):
        if failing:
            yield fail("siem_sink", name, f"SIEM sink {name} is failing")


@check(
    id="RF-MON-003",
    title="SaaS tenant without an audit source",
    area="monitoring",
    severity=Severity.MEDIUM,
    resource="saas_tenant",
    requires=("monitoring", "saas"),
    rationale="A tenant whose audit log nobody collects cannot be investigated.",
    remediation="Enable audit-log collection for the tenant's connector.",
)
def tenant_without_source(ctx: PostureContext) -> Iterator[Failure]:
    sources = {s.split(":")[0] for s in _mon(ctx).sources}
    assert ctx.saas is not None
    for vendor in sorted(ctx.saas.vendors_pulled):
        if not sources & _AUDIT_SOURCES.get(vendor, {vendor}):
            yield fail("saas_tenant", vendor, f"no audit-log source collects {vendor}")


# Monitor source names that carry each connector vendor's audit log.
_AUDIT_SOURCES = {"microsoft365": {"entra", "m365", "microsoft365"}}

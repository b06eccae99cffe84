"""Data-governance checks: clearance, undeclared observed flows, retention rules."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from ringfence.core.levels import DataClass
from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext

_LEVELS = {c.label: c for c in DataClass}


@lru_cache(maxsize=4096)
def _level(classes: tuple[str, ...]) -> DataClass:
    """Most sensitive known class of ``classes`` (unknown labels count as public)."""
    return max((_LEVELS.get(c, DataClass.PUBLIC) for c in classes), default=DataClass.PUBLIC)


@check(
    id="RF-DAT-001",
    title="Data flow above the destination's clearance",
    area="data",
    severity=Severity.HIGH,
    resource="data_flow",
    rationale="Data more sensitive than the destination is cleared for leaves its control "
    "zone (contract, DPA, security level).",
    remediation="Stop the flow, redact at the gateway, or raise the destination's clearance "
    "after a vendor review.",
)
def flow_above_clearance(ctx: PostureContext) -> Iterator[Failure]:
    apps = ctx.apps_by_id
    for f in ctx.flows:
        dest = apps.get(f.destination_app_id)
        level = _level(f.data_classes)
        if dest is not None and level > dest.clearance:
            yield fail(
                "data_flow",
                f.name,
                f"flow {f.name} carries {level.label} data to "
                f"{dest.name} (cleared for {dest.clearance.label})",
                level=level.label,
                clearance=dest.clearance.label,
                origin=f.origin,
            )


@check(
    id="RF-DAT-002",
    title="Integration carries data above the destination's clearance",
    area="data",
    severity=Severity.HIGH,
    resource="integration",
    rationale="The integration's declared data classes exceed what its destination may hold.",
    remediation="Narrow the integration's data or raise the destination's clearance.",
)
def integration_above_clearance(ctx: PostureContext) -> Iterator[Failure]:
    apps = ctx.apps_by_id
    for i in ctx.integrations:
        dest = apps.get(i.destination_app_id)
        level = _level(i.data_classes)
        if dest is not None and level > dest.clearance:
            yield fail(
                "integration",
                i.name,
                f"{i.name} sends {level.label} data to {dest.name}"
                f" (cleared for {dest.clearance.label})",
            )


@check(
    id="RF-DAT-003",
    title="Observed data flow not declared",
    area="data",
    severity=Severity.HIGH,
    resource="data_flow",
    rationale="Data moving along a path nobody declared is shadow IT by definition.",
    remediation="Adopt the flow into ringfence.yaml (`ringfence adopt flow NAME`) or block "
    "it at the gateway.",
)
def observed_flow_undeclared(ctx: PostureContext) -> Iterator[Failure]:
    declared = ctx.declared_flow_keys
    for f in ctx.flows:
        if f.origin == "observed" and (f.source_app_id, f.destination_app_id) not in declared:
            yield fail(
                "data_flow",
                f.name,
                f"observed flow {ctx.app_name(f.source_app_id)} → "
                f"{ctx.app_name(f.destination_app_id)} ({', '.join(f.data_classes)}) is "
                "not declared",
                data_classes=list(f.data_classes),
            )


@check(
    id="RF-DAT-004",
    title="Restricted data stored without a retention rule",
    area="data",
    severity=Severity.MEDIUM,
    resource="app",
    rationale="Restricted data kept forever multiplies breach impact and breaks "
    "storage-limitation duties (GDPR Art. 5(1)(e)).",
    remediation="Set retention_days.restricted on the app.",
)
def restricted_without_retention(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        if "restricted" in a.data_classes and "restricted" not in a.retention:
            yield fail("app", a.name, f"{a.name} holds restricted data with no retention rule")


@check(
    id="RF-DAT-005",
    title="Data class stored without a retention rule",
    area="data",
    severity=Severity.LOW,
    resource="app",
    rationale="Every stored data class needs a retention period.",
    remediation="Add retention_days for each data class the app holds.",
)
def class_without_retention(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        missing = [c for c in a.data_classes if c != "restricted" and c not in a.retention]
        if missing:
            yield fail("app", a.name, f"{a.name} has no retention rule for {', '.join(missing)}")


@check(
    id="RF-DAT-006",
    title="Retention beyond policy maximum",
    area="data",
    severity=Severity.MEDIUM,
    resource="app",
    rationale="Keeping data longer than policy allows is a retention breach.",
    remediation="Shorten the app's retention to the policy maximum and purge older data.",
)
def retention_breach(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        over = []
        for cls, days in a.retention_days:
            limit = ctx.policy.max_retention(cls)
            if limit is not None and days > limit:
                over.append(f"{cls} {days}d > {limit}d")
        if over:
            yield fail("app", a.name, f"{a.name} retains {'; '.join(over)}", breaches=over)


@check(
    id="RF-DAT-007",
    title="Unsanctioned app receives company data",
    area="data",
    severity=Severity.HIGH,
    resource="integration",
    rationale="Unsanctioned apps have no vendor review, DPA or offboarding.",
    remediation="Stop the integration or get the app sanctioned after a vendor review.",
)
def unsanctioned_destination(ctx: PostureContext) -> Iterator[Failure]:
    apps = ctx.apps_by_id
    for i in ctx.integrations:
        dest = apps.get(i.destination_app_id)
        if dest is not None and not dest.sanctioned and i.status == "active":
            yield fail("integration", i.name, f"{i.name} sends data to unsanctioned {dest.name}")


@check(
    id="RF-DAT-008",
    title="App holds data above its clearance",
    area="data",
    severity=Severity.HIGH,
    resource="app",
    rationale="The app's declared contents contradict its clearance.",
    remediation="Raise the clearance after review or remove the data class.",
)
def app_above_clearance(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        level = _level(a.data_classes)
        if level > a.clearance:
            yield fail(
                "app",
                a.name,
                f"{a.name} holds {level.label} data but is cleared for {a.clearance.label}",
            )


@check(
    id="RF-DAT-009",
    title="Declared flow without an integration",
    area="data",
    severity=Severity.LOW,
    resource="data_flow",
    rationale="A flow no integration carries cannot be enforced or monitored at the gateway.",
    remediation="Attach the flow to the integration that carries it.",
)
def flow_without_integration(ctx: PostureContext) -> Iterator[Failure]:
    for f in ctx.flows:
        if f.origin == "declared" and f.integration_id is None:
            yield fail("data_flow", f.name, f"declared flow {f.name} names no integration")


@check(
    id="RF-DAT-010",
    title="Data leaves an unsanctioned app",
    area="data",
    severity=Severity.MEDIUM,
    resource="integration",
    rationale="Data sourced from an unsanctioned app has unknown provenance and quality.",
    remediation="Sanction the source app or stop the integration.",
)
def unsanctioned_source(ctx: PostureContext) -> Iterator[Failure]:
    apps = ctx.apps_by_id
    for i in ctx.integrations:
        src = apps.get(i.source_app_id) if i.source_app_id else None
        if src is not None and not src.sanctioned and i.status == "active":
            yield fail("integration", i.name, f"{i.name} reads from unsanctioned {src.name}")

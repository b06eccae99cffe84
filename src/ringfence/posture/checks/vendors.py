"""Vendor checks (active once vendor-risk data exists): assessments, certificates, DPA,
open critical pentest findings, security contacts."""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.core.levels import DataClass
from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import AppFact, PostureContext, VendorFact


def _exposure(ctx: PostureContext) -> dict[str, DataClass]:
    """Most sensitive class each vendor's apps are cleared for / hold (cached per context)."""
    cached = ctx.__dict__.get("_vendor_exposure")
    if cached is None:
        cached = {}
        for a in ctx.apps:
            level = max([a.clearance, *(_LEVELS.get(c, DataClass.PUBLIC) for c in a.data_classes)])
            if level > cached.get(a.vendor, DataClass.PUBLIC):
                cached[a.vendor] = level
        ctx.__dict__["_vendor_exposure"] = cached
    return cached


_LEVELS = {c.label: c for c in DataClass}


def _vendors_in_use(ctx: PostureContext) -> Iterator[tuple[VendorFact, list[AppFact]]]:
    apps_by_vendor = ctx.apps_by_vendor
    for v in ctx.vendors or ():
        if v.name in apps_by_vendor:
            yield v, apps_by_vendor[v.name]


@check(
    id="RF-VND-001",
    title="Vendor not assessed in 12 months",
    area="vendors",
    severity=Severity.HIGH,
    resource="vendor",
    requires=("vendors",),
    rationale="Vendor controls drift; an assessment older than a year says little.",
    remediation="Send the vendor a questionnaire (`ringfence vendors assess`).",
)
def no_recent_assessment(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.assessment_max_age_days
    for v, _apps in _vendors_in_use(ctx):
        age = ctx.days_since(v.last_assessment_at)
        if age is None or age > limit:
            when = "never" if age is None else f"{int(age)} days ago"
            yield fail("vendor", v.name, f"vendor {v.name} last assessed {when}")


@check(
    id="RF-VND-002",
    title="Vendor certification expired",
    area="vendors",
    severity=Severity.MEDIUM,
    resource="vendor",
    requires=("vendors",),
    rationale="An expired SOC 2 / ISO 27001 report no longer evidences the vendor's controls.",
    remediation="Request the current report from the vendor.",
)
def certificate_expired(ctx: PostureContext) -> Iterator[Failure]:
    today = ctx.now.date()
    for v, _apps in _vendors_in_use(ctx):
        expired = [k for k, until in v.certifications if until is not None and until < today]
        if expired and not any(until is None or until >= today for _, until in v.certifications):
            yield fail(
                "vendor",
                v.name,
                f"{v.name}: all certifications expired ({', '.join(sorted(set(expired)))})",
            )


@check(
    id="RF-VND-003",
    title="No DPA with a vendor receiving confidential data",
    area="vendors",
    severity=Severity.HIGH,
    resource="vendor",
    requires=("vendors",),
    rationale="Processing personal or confidential data without a DPA breaches GDPR Art. 28 "
    "and leaves breach notification undefined.",
    remediation="Sign a DPA (record it as a contract clause `dpa: true`).",
)
def no_dpa(ctx: PostureContext) -> Iterator[Failure]:
    exposure = _exposure(ctx)
    for v, _apps in _vendors_in_use(ctx):
        level = exposure.get(v.name, DataClass.PUBLIC)
        if level >= DataClass.CONFIDENTIAL and not v.has_dpa:
            yield fail("vendor", v.name, f"{v.name} receives {level.label} data without a DPA")


@check(
    id="RF-VND-004",
    title="Open critical pentest finding",
    area="vendors",
    severity=Severity.CRITICAL,
    resource="vendor",
    requires=("vendors",),
    rationale="A known critical vulnerability at a vendor that holds our data is an "
    "accepted breach path until fixed.",
    remediation="Agree a fix date with the vendor; restrict data to it meanwhile.",
)
def open_critical_pentest(ctx: PostureContext) -> Iterator[Failure]:
    for v, _apps in _vendors_in_use(ctx):
        if v.open_critical_findings:
            yield fail(
                "vendor",
                v.name,
                f"{v.name} has {v.open_critical_findings} open critical pentest finding(s)",
            )


@check(
    id="RF-VND-005",
    title="Vendor without a security contact",
    area="vendors",
    severity=Severity.LOW,
    resource="vendor",
    requires=("vendors",),
    rationale="In an incident every hour spent finding the right person at the vendor counts.",
    remediation="Record the vendor's security contact (`ringfence vendors contact add`).",
)
def no_security_contact(ctx: PostureContext) -> Iterator[Failure]:
    for v, _apps in _vendors_in_use(ctx):
        if v.security_contacts == 0:
            yield fail("vendor", v.name, f"{v.name} has no security contact")


@check(
    id="RF-VND-006",
    title="Restricted data at a vendor without certification",
    area="vendors",
    severity=Severity.HIGH,
    resource="vendor",
    requires=("vendors",),
    rationale="Restricted data should only go to vendors with independently audited controls.",
    remediation="Obtain a SOC 2 Type II or ISO 27001 certificate, or move the data.",
)
def restricted_without_certification(ctx: PostureContext) -> Iterator[Failure]:
    exposure = _exposure(ctx)
    for v, _apps in _vendors_in_use(ctx):
        if exposure.get(v.name) == DataClass.RESTRICTED and not v.certifications:
            yield fail(
                "vendor", v.name, f"{v.name} holds restricted data and has no certification on file"
            )

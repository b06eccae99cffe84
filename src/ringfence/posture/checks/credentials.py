"""Credential checks: age, rotation, expiry, use, where the secret lives, SaaS tokens."""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of
from ringfence.posture.scopes import is_admin_scope, is_high_risk

_REFERENCE_SCHEMES = ("vault:", "env:", "${env:", "${vault:")
_EXPIRING_KINDS = {"api_key", "oauth_refresh_token", "oauth_client_secret", "password"}


@check(
    id="RF-CRD-001",
    title="Credential older than policy",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="The longer a secret lives, the likelier it has leaked (logs, laptops, "
    "ex-employees) without anyone knowing.",
    remediation="Rotate the credential (`ringfence vault put` + update the upstream) and "
    "record rotated_at.",
)
def older_than_policy(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.credential_max_age_days
    for c in ctx.credentials:
        age = ctx.days_since(c.rotated_at or c.created_at)
        if age is not None and age > limit:
            yield fail(
                "credential",
                c.name,
                f"credential {c.name} is {int(age)} days old (policy {limit})",
                age_days=int(age),
            )


@check(
    id="RF-CRD-002",
    title="Credential without expiry",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="A secret that never expires stays valid after it leaks.",
    remediation="Issue credentials with an expiry (expires_at) where the SaaS supports it.",
)
def no_expiry(ctx: PostureContext) -> Iterator[Failure]:
    for c in ctx.credentials:
        if c.expires_at is None and c.kind in _EXPIRING_KINDS:
            yield fail("credential", c.name, f"{c.kind} {c.name} never expires")


@check(
    id="RF-CRD-003",
    title="Credential never rotated",
    area="credentials",
    severity=Severity.LOW,
    resource="credential",
    rationale="A credential that has never been rotated shows rotation is not practised and "
    "may not work when it is needed in an incident.",
    remediation="Rotate it once now and schedule rotation (rotation_days).",
)
def never_rotated(ctx: PostureContext) -> Iterator[Failure]:
    grace = ctx.policy.never_rotated_grace_days
    for c in ctx.credentials:
        age = ctx.days_since(c.created_at)
        if c.rotated_at is None and age is not None and age > grace:
            yield fail(
                "credential", c.name, f"credential {c.name} was never rotated in {int(age)} days"
            )


@check(
    id="RF-CRD-004",
    title="Credential unused for 90 days",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="Unused credentials are pure risk: nothing breaks when they are revoked.",
    remediation="Revoke the credential and delete it from the vault.",
)
def unused(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.credential_unused_days
    for c in ctx.credentials:
        idle = ctx.days_since(c.last_used_at or c.created_at)
        if idle is not None and idle > limit:
            yield fail(
                "credential",
                c.name,
                f"credential {c.name} unused for {int(idle)} days",
                idle_days=int(idle),
            )


@check(
    id="RF-CRD-005",
    title="Expired credential on an active integration",
    area="credentials",
    severity=Severity.HIGH,
    resource="credential",
    rationale="An expired credential means the integration is broken or someone swapped in "
    "an untracked secret.",
    remediation="Rotate the credential and update the reference.",
)
def expired(ctx: PostureContext) -> Iterator[Failure]:
    ints = ctx.integrations_by_id
    for c in ctx.credentials:
        integ = ints.get(c.integration_id) if c.integration_id else None
        if (
            c.expires_at is not None
            and c.expires_at < ctx.now
            and (integ is None or integ.status == "active")
        ):
            yield fail(
                "credential",
                c.name,
                f"credential {c.name} expired on {c.expires_at.date().isoformat()}",
            )


@check(
    id="RF-CRD-006",
    title="Credential expiring soon",
    area="credentials",
    severity=Severity.LOW,
    resource="credential",
    rationale="Rotating before expiry avoids an outage that tempts people to bypass controls.",
    remediation="Rotate the credential before it expires.",
)
def expiring_soon(ctx: PostureContext) -> Iterator[Failure]:
    window = ctx.policy.credential_expiry_warning_days
    for c in ctx.credentials:
        if c.expires_at is not None:
            left = (c.expires_at - ctx.now).total_seconds() / 86400
            if 0 <= left <= window:
                yield fail("credential", c.name, f"credential {c.name} expires in {int(left)} days")


@check(
    id="RF-CRD-007",
    title="Secret inline instead of a reference",
    area="credentials",
    severity=Severity.CRITICAL,
    resource="credential",
    rationale="A secret written into configuration is copied into repos, backups and logs.",
    remediation="Store the secret in the vault and reference it as vault:NAME.",
)
def inline_secret(ctx: PostureContext) -> Iterator[Failure]:
    for c in ctx.credentials:
        if not c.ref.startswith(_REFERENCE_SCHEMES):
            yield fail("credential", c.name, f"credential {c.name} is not a vault:/env: reference")


@check(
    id="RF-CRD-008",
    title="Credential read from the environment",
    area="credentials",
    severity=Severity.LOW,
    resource="credential",
    rationale="Environment variables leak into crash dumps, child processes and CI logs; "
    "the vault encrypts at rest and audits access.",
    remediation="Move the secret into the vault (vault:NAME).",
)
def env_reference(ctx: PostureContext) -> Iterator[Failure]:
    for c in ctx.credentials:
        if c.ref.startswith(("env:", "${env:")):
            yield fail("credential", c.name, f"credential {c.name} comes from the environment")


@check(
    id="RF-CRD-009",
    title="Rotation overdue",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="The credential's own rotation schedule has lapsed.",
    remediation="Rotate it and record rotated_at.",
)
def rotation_overdue(ctx: PostureContext) -> Iterator[Failure]:
    for c in ctx.credentials:
        if c.rotation_days:
            age = ctx.days_since(c.rotated_at or c.created_at)
            if age is not None and age > c.rotation_days:
                yield fail(
                    "credential",
                    c.name,
                    f"credential {c.name} is {int(age)} days since "
                    f"rotation (schedule {c.rotation_days})",
                )


@check(
    id="RF-CRD-010",
    title="Password used as an integration credential",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="Passwords of (shared) user accounts cannot be scoped and usually bypass MFA.",
    remediation="Switch the integration to OAuth client credentials or a scoped API key.",
)
def password_credential(ctx: PostureContext) -> Iterator[Failure]:
    for c in ctx.credentials:
        if c.kind == "password":
            yield fail("credential", c.name, f"integration credential {c.name} is a password")


@check(
    id="RF-CRD-011",
    title="Live credential of a revoked or quarantined integration",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="Stopping an integration at the gateway does not stop its credential at the "
    "SaaS; it stays usable around the gateway.",
    remediation="Revoke the credential at the SaaS and expire it here.",
)
def credential_of_stopped_integration(ctx: PostureContext) -> Iterator[Failure]:
    ints = ctx.integrations_by_id
    for c in ctx.credentials:
        integ = ints.get(c.integration_id) if c.integration_id else None
        if (
            integ is not None
            and integ.status != "active"
            and (c.expires_at is None or c.expires_at > ctx.now)
        ):
            yield fail(
                "credential",
                c.name,
                f"credential {c.name} of {integ.status} integration {integ.name} is still valid",
            )


@check(
    id="RF-CRD-012",
    title="SaaS token with admin scope and no expiry",
    area="credentials",
    severity=Severity.HIGH,
    resource="saas_grant",
    requires=("saas",),
    rationale="A non-expiring token with administrative scope is a standing skeleton key.",
    remediation="Replace it with an expiring, narrowly scoped token (e.g. fine-grained PAT).",
)
def saas_token_no_expiry(ctx: PostureContext) -> Iterator[Failure]:
    for g in saas_of(ctx).grants:
        risky = [s for s in g.scopes if is_admin_scope(s) or is_high_risk(s, g.vendor)]
        if g.expires_at is None and g.last_used_at is not None and risky:
            yield fail(
                "saas_grant",
                f"{g.vendor}:{g.external_id}",
                f"{g.vendor} token of {g.principal} never expires and has {', '.join(risky)}",
                scopes=risky,
            )


@check(
    id="RF-CRD-013",
    title="SaaS token unused for 90 days",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="saas_grant",
    requires=("saas",),
    rationale="An idle token can be revoked with no impact.",
    remediation="Revoke the token through the connector.",
)
def saas_token_unused(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.credential_unused_days
    for g in saas_of(ctx).grants:
        idle = ctx.days_since(g.last_used_at)
        if idle is not None and idle > limit:
            yield fail(
                "saas_grant",
                f"{g.vendor}:{g.external_id}",
                f"{g.vendor} token of {g.principal} unused for {int(idle)} days",
            )

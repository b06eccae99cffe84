"""Helpers shared by the credentials checks (pure functions of the context, no I/O)."""

from __future__ import annotations

from datetime import datetime

from ringfence.posture.context import CredentialFact, PostureContext

_REFERENCE_SCHEMES = ("vault:", "env:", "${env:", "${vault:")


_EXPIRING_KINDS = {"api_key", "oauth_refresh_token", "oauth_client_secret", "password"}


def value_since(c: CredentialFact) -> tuple[datetime | None, str]:
    """When the credential's current value was put in place, and what shows it.

    Evidence (a vault version's audit record, a respond rotation run) wins; without it the
    age counts from when Ringfence recorded the credential (``created_at``). ``rotated_at`` is
    never the basis: anyone who may edit the estate can set it."""
    if c.evidence is not None:
        return c.evidence.current_since, c.evidence.source
    return c.created_at, "no evidence (the value is not in the vault)"


def declared_note(c: CredentialFact, since: datetime | None) -> str:
    """A sentence for a finding whose credential claims a later rotation than evidenced."""
    if c.rotated_at is None or (since is not None and c.rotated_at <= since):
        return ""
    return (
        f"; rotated_at declares a rotation on {c.rotated_at.date().isoformat()}, but it is "
        "declared, not evidenced (no new vault version or rotation run since)"
    )


def declared_evidence(c: CredentialFact, since: datetime | None) -> dict[str, str]:
    """Evidence fields naming what the age counts from and the unevidenced claim, if any."""
    _, source = value_since(c)
    out = {"evidenced_by": source}
    if since is not None:
        out["value_since"] = since.isoformat()
    if c.rotated_at is not None and (since is None or c.rotated_at > since):
        out["declared_rotated_at"] = c.rotated_at.isoformat()
        out["rotation"] = "declared, not evidenced"
    return out


def _vault_name(ref: str) -> str | None:
    if ref.startswith("vault:"):
        return ref[len("vault:") :] or None
    if ref.startswith("${vault:") and ref.endswith("}"):
        return ref[len("${vault:") : -1] or None
    return None


def rotation_subjects(ctx: PostureContext) -> list[tuple[CredentialFact, dict[str, str]]]:
    """What the rotation checks age: every inventory credential, and every vault entry only
    Ringfence's own configuration reads (the SSO client secret, a monitor sink's token) as a
    credential named by its id (``sso:oidc_client_secret``) with ``used_by`` in its evidence.
    An entry an inventory credential also references is that credential's finding."""
    out: list[tuple[CredentialFact, dict[str, str]]] = [(c, {}) for c in ctx.credentials]
    referenced = {n for c in ctx.credentials if (n := _vault_name(c.ref))}
    for p in ctx.platform_secrets:
        if _vault_name(p.ref) in referenced:
            continue
        fact = CredentialFact(
            p.id, p.id, "platform", p.ref, created_at=p.created_at, evidence=p.evidence
        )
        out.append((fact, {"used_by": p.used_by}))
    return out


def used_by_note(extra: dict[str, str]) -> str:
    """``" — read by ..."`` for a platform secret's finding, else ``""``."""
    return f" — read by {extra['used_by']}" if "used_by" in extra else ""

"""Helpers shared by the credentials checks (pure functions of the context, no I/O)."""

from __future__ import annotations

from datetime import datetime

from ringfence.posture.context import CredentialFact

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

"""Roles and the scopes they grant; the API's ``Principal`` carries only effective scopes.

``admin`` manages users and everything else; ``security-analyst`` operates (inventory writes,
lifecycle, reviews) but cannot manage users or SCIM tokens; ``auditor`` reads everything and
changes nothing; ``integration-owner`` sees and acts on only the integrations they own (checked
per object by the API, see ``api/deps.py``).

Admins and security analysts must use MFA (``IdentitySettings.mfa_required_roles``, whose
default is ``MFA_REQUIRED_ROLES``; admin can never be taken out of it): until such a user has
enrolled a second factor and passed it in this session, they hold only ``{mfa:enroll, self}``,
and their personal tokens act on nothing. An SSO sign-in counts MFA from the provider's ``amr``.
"""

from __future__ import annotations

from collections.abc import Iterable

ADMIN = "admin"
ANALYST = "security-analyst"
AUDITOR = "auditor"
OWNER = "integration-owner"
ROLES = frozenset({ADMIN, ANALYST, AUDITOR, OWNER})
# The default of IdentitySettings.mfa_required_roles: both roles change the perimeter.
MFA_REQUIRED_ROLES = frozenset({ADMIN, ANALYST})

# Scope names beyond the API's method-level read/write.
IDENTITY_ADMIN = "identity:admin"  # users, roles, SCIM tokens
LIFECYCLE = "identity:lifecycle"  # deactivate people, reassign owners
REVIEWS_MANAGE = "reviews:manage"  # create/close campaigns, send reminders
REVIEWS_READ = "reviews:read"  # read campaigns and export evidence
REVIEWS_DECIDE = "reviews:decide"  # decide items (owners: only their integrations)
OWN_INTEGRATIONS = "integrations:own"  # object-level access to integrations one owns
AUDIT_READ = "audit:read"
SELF = "self"  # own profile, MFA and personal tokens
MFA_ENROLL = "mfa:enroll"  # the only scope of an admin who has not completed MFA

ROLE_SCOPES: dict[str, frozenset[str]] = {
    ADMIN: frozenset(
        {
            "read",
            "write",
            IDENTITY_ADMIN,
            LIFECYCLE,
            REVIEWS_MANAGE,
            REVIEWS_READ,
            REVIEWS_DECIDE,
            AUDIT_READ,
            SELF,
        }
    ),
    ANALYST: frozenset(
        {"read", "write", LIFECYCLE, REVIEWS_MANAGE, REVIEWS_READ, REVIEWS_DECIDE, AUDIT_READ, SELF}
    ),
    AUDITOR: frozenset({"read", REVIEWS_READ, AUDIT_READ, SELF}),
    OWNER: frozenset({OWN_INTEGRATIONS, REVIEWS_DECIDE, SELF}),
}


def scopes_of(roles: Iterable[str]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_SCOPES.get(role, frozenset())
    return frozenset(granted)


def check_roles(roles: Iterable[str]) -> list[str]:
    from ringfence.core.errors import ValidationError

    wanted = sorted(set(roles))
    unknown = set(wanted) - ROLES
    if unknown:
        raise ValidationError(f"unknown roles {sorted(unknown)}; known roles: {sorted(ROLES)}")
    return wanted


def needs_mfa(roles: Iterable[str], required: Iterable[str] | None = None) -> bool:
    """Whether a user holding ``roles`` must use MFA: ``required`` is the deployment's
    ``IdentitySettings.mfa_required_roles``; without it, the default ``MFA_REQUIRED_ROLES``."""
    wanted = MFA_REQUIRED_ROLES if required is None else frozenset(required) | {ADMIN}
    return bool(set(roles) & wanted)

"""What RF-IDN-016 and RF-IDN-017 share: which console users act without a second factor.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.context import ConsoleUserFact, PostureContext

#: Roles that change the perimeter (inventory, routes, quarantines, lifecycle, playbooks).
OPERATOR_ROLES = frozenset({"admin", "security-analyst"})


def must_use_mfa(ctx: PostureContext) -> frozenset[str]:
    """The roles RF-IDN-016 covers: the operators, whatever the deployment enforces (one that
    relaxes enforcement to admins is exactly when posture must still say so), and every role
    the deployment requires MFA of (``RINGFENCE_IDENTITY_MFA_REQUIRED_ROLES``): a role sign-in
    holds to MFA is not reported as a lesser finding than sign-in treats it."""
    return OPERATOR_ROLES | ctx.policy.mfa_required_roles


def without_mfa(users: list[ConsoleUserFact]) -> Iterator[tuple[ConsoleUserFact, str]]:
    """Enabled console users with no second factor, and how they sign in without one.

    A local password and no TOTP: every password sign-in is single-factor. SSO only and no
    TOTP: the factor is the identity provider's, and the newest sign-in recorded shows
    whether it asserted one (``amr``); one that did not is single-factor. Admins with a local
    password are RF-IDN-014's."""
    for u in users:
        if u.disabled or not u.roles or u.mfa:
            continue
        if u.local_password:
            if "admin" in u.roles:
                continue  # RF-IDN-014
            yield u, "signs in with a password and has no MFA enrolled"
        elif u.sso and u.last_signin_mfa is False:
            yield (
                u,
                (
                    "has no MFA enrolled, and their newest SSO sign-in carried no MFA from the "
                    "identity provider"
                ),
            )

"""Identity: console/API users (passwords, TOTP MFA, sessions, personal tokens), OIDC SSO,
roles, the SCIM 2.0 server, the joiner/leaver lifecycle and access reviews.

Public surface for other capabilities: the lifecycle functions (deactivate a person, reassign
an owner), the roles/scopes table, and the access-review service. Identity never stores a
plaintext credential: only argon2id/SHA-256 hashes, and TOTP seeds in the vault.
"""

from ringfence.identity.lifecycle import (
    DeprovisionReport,
    deactivate_person,
    open_findings,
    reactivate_person,
    reassign_owner,
)
from ringfence.identity.reviews import AccessReviews
from ringfence.identity.roles import ROLE_SCOPES, ROLES, scopes_of

__all__ = [
    "ROLES",
    "ROLE_SCOPES",
    "AccessReviews",
    "DeprovisionReport",
    "deactivate_person",
    "open_findings",
    "reactivate_person",
    "reassign_owner",
    "scopes_of",
]

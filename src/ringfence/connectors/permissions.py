"""The permissions each connector needs: read-only by default; response actions need more.

Kept as data so docs/connectors.md and ``ringfence connectors vendors`` say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permissions:
    credential: str
    read: tuple[str, ...]
    actions: tuple[str, ...]
    notes: str = ""


PERMISSIONS: dict[str, Permissions] = {
    "okta": Permissions(
        credential="API token (SSWS) of a Read-Only Administrator, or an OAuth service app",
        read=(
            "okta.users.read",
            "okta.apps.read",
            "okta.logs.read",
            "okta.roles.read",
            "okta.factors.read",
        ),
        actions=(
            "okta.users.manage (revoke user grants, deactivate user)",
            "okta.apps.manage (deactivate app, rotate an app's client secrets)",
        ),
    ),
    "github": Permissions(
        credential="fine-grained token or GitHub App installation token of an org owner",
        read=(
            "Organization members: read",
            "Organization administration: read",
            "read:org (credential authorizations, SAML SSO orgs)",
            "read:audit_log (Enterprise Cloud)",
        ),
        actions=(
            "admin:org (remove credential authorization, remove member)",
            "GitHub App JWT of the app's owner (suspend installation; option "
            "action_credential_ref)",
        ),
        notes="2FA state (filter=2fa_disabled) is only visible to organisation owners.",
    ),
    "google_workspace": Permissions(
        credential="OAuth access token of a service account with domain-wide delegation",
        read=(
            "https://www.googleapis.com/auth/admin.directory.user.readonly",
            "https://www.googleapis.com/auth/admin.directory.user.security (tokens.list)",
            "https://www.googleapis.com/auth/admin.reports.audit.readonly (Reports API "
            "activities: token, admin, login by default; option audit_applications)",
        ),
        actions=(
            "https://www.googleapis.com/auth/admin.directory.user.security (tokens.delete)",
            "https://www.googleapis.com/auth/admin.directory.user (suspend user)",
        ),
        notes="tokens.list needs the user.security scope, which also allows tokens.delete: "
        "Google has no read-only scope for third-party tokens.",
    ),
    "microsoft365": Permissions(
        credential="client-credentials token of an Entra app registration (application perms)",
        read=(
            "User.Read.All",
            "Application.Read.All",
            "Directory.Read.All (oauth2PermissionGrants)",
            "AuditLog.Read.All (directoryAudits, signIns, userRegistrationDetails; signIns "
            "also need Directory.Read.All and an Entra ID P1/P2 licence)",
            "ActivityFeed.Read of the Office 365 Management APIs (optional: the Management "
            "Activity API, on its own token for https://manage.office.com — options "
            "management_base_url, management_credential_ref)",
        ),
        actions=(
            "DelegatedPermissionGrant.ReadWrite.All (delete oauth2PermissionGrant)",
            "Application.ReadWrite.All (disable service principal; addPassword / "
            "removePassword to rotate an app registration's secret, for which "
            "Application.ReadWrite.OwnedBy suffices on apps the connector owns)",
            "User.EnableDisableAccount.All + User.RevokeSessions.All (deactivate user)",
        ),
    ),
    "slack": Permissions(
        credential="user token (xoxp) of an Enterprise Grid org owner/admin",
        read=(
            "users:read",
            "users:read.email",
            "admin.apps:read",
            "admin (team.integrationLogs)",
            "auditlogs:read",
        ),
        actions=(
            "admin.apps:write (admin.apps.restrict, admin.apps.uninstall)",
            "admin (SCIM API: deactivate user)",
        ),
        notes="admin.apps.* and the Audit Logs API are Enterprise Grid only.",
    ),
}

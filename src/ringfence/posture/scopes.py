"""Per-vendor catalogue of high-risk OAuth scopes / app permissions, and admin/wildcard shapes.

A scope is high risk when it grants read or write access to all of a tenant's mail, files,
messages, directory or code, or administrative control. The catalogue is data: extend it
here, never inside a check.
"""

from __future__ import annotations

import re

HIGH_RISK_SCOPES: dict[str, frozenset[str]] = {
    "google_workspace": frozenset(
        {
            "https://mail.google.com/",
            "https://www.googleapis.com/auth/gmail.modify",
            "https://www.googleapis.com/auth/gmail.readonly",
            "https://www.googleapis.com/auth/gmail.send",
            "https://www.googleapis.com/auth/drive",
            "https://www.googleapis.com/auth/drive.readonly",
            "https://www.googleapis.com/auth/admin.directory.user",
            "https://www.googleapis.com/auth/admin.directory.group",
            "https://www.googleapis.com/auth/cloud-platform",
        }
    ),
    "microsoft365": frozenset(
        {
            "Mail.ReadWrite",
            "Mail.Read",
            "Mail.Send",
            "Files.ReadWrite.All",
            "Files.Read.All",
            "Sites.ReadWrite.All",
            "Sites.FullControl.All",
            "Directory.ReadWrite.All",
            "User.ReadWrite.All",
            "RoleManagement.ReadWrite.Directory",
            "Application.ReadWrite.All",
            "AppRoleAssignment.ReadWrite.All",
            "full_access_as_app",
        }
    ),
    "slack": frozenset(
        {
            "channels:history",
            "groups:history",
            "im:history",
            "mpim:history",
            "admin",
            "files:read",
            "users:read.email",
            "admin.users:write",
            "client",
        }
    ),
    "github": frozenset(
        {
            "repo",
            "admin:org",
            "delete_repo",
            "admin:enterprise",
            "admin:repo_hook",
            "write:packages",
            "workflow",
            "administration:write",
            "contents:write",
            "secrets:read",
            "secrets:write",
            "members:write",
            "organization_administration:write",
        }
    ),
    "okta": frozenset(
        {
            "okta.users.manage",
            "okta.apps.manage",
            "okta.groups.manage",
            "okta.roles.manage",
            "okta.authorizationServers.manage",
            "okta.policies.manage",
            "okta.factors.manage",
        }
    ),
}
ALL_HIGH_RISK: frozenset[str] = frozenset().union(*HIGH_RISK_SCOPES.values())

_ADMIN = re.compile(
    r"(^|[.:_/-])(admin|manage|root|full[_-]?access|owner|superuser)"
    r"([.:_/-]|$)|readwrite\.all$|\.write\.all$|:write:admin$",
    re.IGNORECASE,
)
_WILDCARD = re.compile(r"(^\*$|[:./]\*$|^all$|^full$|^\.default$)", re.IGNORECASE)


def is_high_risk(scope: str, vendor: str | None = None) -> bool:
    if vendor is not None and vendor in HIGH_RISK_SCOPES:
        return scope in HIGH_RISK_SCOPES[vendor]
    return scope in ALL_HIGH_RISK


def is_admin_scope(scope: str) -> bool:
    return bool(_ADMIN.search(scope))


def is_wildcard_scope(scope: str) -> bool:
    return bool(_WILDCARD.search(scope))


def high_risk(scopes: tuple[str, ...] | list[str], vendor: str | None = None) -> list[str]:
    return [s for s in scopes if is_high_risk(s, vendor)]

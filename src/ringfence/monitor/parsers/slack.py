"""Slack Audit Logs API entries (``GET /audit/v1/logs``) → OCSF.

``date_create`` is epoch seconds. Logins → Authentication 3002; app installs / scope
expansions and role changes → User Access 3005; user lifecycle → Account Change 3001; file
downloads → File Hosting 6006; else API Activity 6003.
"""

from __future__ import annotations

from typing import Any

from ringfence.monitor.events import Event, OcsfClass, build_event
from ringfence.monitor.parsers._common import (
    RecordError,
    obj,
    opt_dict,
    opt_str,
    parse_time,
    req_str,
    sub,
)

_ACTIONS: dict[str, tuple[OcsfClass, int, str]] = {
    "user_login": (OcsfClass.AUTHENTICATION, 1, "Logon"),
    "user_logout": (OcsfClass.AUTHENTICATION, 2, "Logoff"),
    "user_login_failed": (OcsfClass.AUTHENTICATION, 1, "Logon"),
    "app_installed": (OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    "app_scopes_expanded": (OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    "app_approved": (OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    "app_uninstalled": (OcsfClass.USER_ACCESS, 2, "Revoke Privileges"),
    "app_token_preserved": (OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    "role_change_to_admin": (OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    "role_change_to_owner": (OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    "role_change_to_user": (OcsfClass.USER_ACCESS, 2, "Revoke Privileges"),
    "user_created": (OcsfClass.ACCOUNT_CHANGE, 1, "Create"),
    "user_deactivated": (OcsfClass.ACCOUNT_CHANGE, 5, "Disable"),
    "user_reactivated": (OcsfClass.ACCOUNT_CHANGE, 2, "Enable"),
    "user_session_reset_by_admin": (OcsfClass.ACCOUNT_CHANGE, 99, "Other"),
    "file_downloaded": (OcsfClass.FILE_HOSTING, 7, "Download"),
    "file_downloaded_blocked": (OcsfClass.FILE_HOSTING, 7, "Download"),
    "file_uploaded": (OcsfClass.FILE_HOSTING, 1, "Upload"),
    "file_public_link_created": (OcsfClass.FILE_HOSTING, 8, "Share"),
}


def parse(record: Any) -> list[Event]:
    r = obj(record)
    rid = req_str(r, "id")
    action = req_str(r, "action")
    when = parse_time(r.get("date_create"), "date_create")
    actor = opt_dict(r, "actor")
    if not actor:
        raise RecordError("missing field 'actor'")
    actor_user = opt_dict(actor, "user")
    entity = opt_dict(r, "entity")
    context = opt_dict(r, "context")
    cls, act, act_name = _ACTIONS.get(action, (OcsfClass.API_ACTIVITY, 99, action))
    extra: dict[str, Any] = {}
    etype = opt_str(entity, "type") or ""
    target = sub(entity, etype)
    if etype == "app":
        scopes = target.get("scopes")
        extra["resource"] = {"uid": target.get("id"), "name": target.get("name"), "type": "app"}
        if isinstance(scopes, list):
            extra["privileges"] = [str(s) for s in scopes]
    elif etype == "user" and cls in (OcsfClass.ACCOUNT_CHANGE, OcsfClass.USER_ACCESS):
        extra["user"] = {
            "uid": target.get("id"),
            "name": target.get("name"),
            "email_addr": target.get("email"),
        }
    elif etype == "file":
        extra["file"] = {"uid": target.get("id"), "name": target.get("name")}
    if cls is OcsfClass.API_ACTIVITY:
        extra["api"] = {"operation": action, "service": {"name": "slack"}}
    ua = opt_str(context, "ua")
    if ua:
        extra["http_request"] = {"user_agent": ua}
    session = opt_str(context, "session_id")
    if session:
        extra["session"] = {"uid": session}
    return [
        build_event(
            source="slack",
            vendor_id=rid,
            raw=r,
            time=when,
            class_uid=cls,
            activity_id=act,
            activity_name=act_name,
            action=action,
            vendor_name="Slack",
            product_name="Slack Audit Logs",
            actor_user={
                "uid": opt_str(actor_user, "id"),
                "name": opt_str(actor_user, "name"),
                "email_addr": opt_str(actor_user, "email"),
                "type": opt_str(actor, "type"),
            },
            src_ip=opt_str(context, "ip_address"),
            status_id=2 if action.endswith(("_failed", "_blocked")) else 1,
            extra=extra,
        )
    ]

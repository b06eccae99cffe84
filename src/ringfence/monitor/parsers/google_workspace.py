"""Google Workspace Reports API activities (``activities.list``) → OCSF.

One activity carries ``events[]``; each becomes its own Event (id = activity id + index).
Applications: login → Authentication 3002; admin role / token grants → User Access 3005;
user changes → Account Change 3001; group membership → Group Management 3006; drive →
File Hosting 6006; else API Activity 6003. Parameters are flattened to
``unmapped.parameters`` (name → value) so rules can address them by name.
"""

from __future__ import annotations

from typing import Any

from ringfence.monitor.events import Event, OcsfClass, build_event
from ringfence.monitor.parsers._common import (
    RecordError,
    obj,
    opt_dict,
    opt_list,
    opt_str,
    parse_time,
)

_ADMIN_ACCESS = {
    "ASSIGN_ROLE": 1,
    "GRANT_ADMIN_PRIVILEGE": 1,
    "GRANT_DELEGATED_ADMIN_PRIVILEGES": 1,
    "UNASSIGN_ROLE": 2,
    "REVOKE_ADMIN_PRIVILEGE": 2,
    "AUTHORIZE_API_CLIENT_ACCESS": 1,
    "REMOVE_API_CLIENT_ACCESS": 2,
}
_ADMIN_ACCOUNT = {
    "CREATE_USER": (1, "Create"),
    "DELETE_USER": (6, "Delete"),
    "SUSPEND_USER": (5, "Disable"),
    "UNSUSPEND_USER": (2, "Enable"),
    "CHANGE_PASSWORD": (3, "Password Change"),
    "TURN_OFF_2_STEP_VERIFICATION": (10, "MFA Factor Disable"),
    "ENFORCE_STRONG_AUTHENTICATION": (9, "MFA Factor Enable"),
}
_GROUP = {"ADD_GROUP_MEMBER": (3, "Add User"), "REMOVE_GROUP_MEMBER": (4, "Remove User")}


def _param_value(p: dict[str, Any]) -> Any:
    for key in ("value", "multiValue", "boolValue", "intValue", "multiIntValue"):
        if key in p:
            v = p[key]
            return (
                int(v)
                if key == "intValue" and isinstance(v, str) and v.lstrip("-").isdigit()
                else v
            )
    return None


def _classify(app: str, name: str) -> tuple[OcsfClass, int, str]:
    if app == "login":
        if name == "logout":
            return OcsfClass.AUTHENTICATION, 2, "Logoff"
        return OcsfClass.AUTHENTICATION, 1, "Logon"
    if app == "token":
        return (
            OcsfClass.USER_ACCESS,
            2 if name == "revoke" else 1,
            ("Revoke Privileges" if name == "revoke" else "Assign Privileges"),
        )
    if name in _ADMIN_ACCESS:
        act = _ADMIN_ACCESS[name]
        return OcsfClass.USER_ACCESS, act, "Assign Privileges" if act == 1 else "Revoke Privileges"
    if name in _ADMIN_ACCOUNT:
        act, act_name = _ADMIN_ACCOUNT[name]
        return OcsfClass.ACCOUNT_CHANGE, act, act_name
    if name in _GROUP:
        act, act_name = _GROUP[name]
        return OcsfClass.GROUP_MANAGEMENT, act, act_name
    if app == "drive":
        act = {"download": 7, "view": 2, "upload": 1, "create": 1, "delete": 4, "edit": 3}.get(
            name, 99
        )
        return OcsfClass.FILE_HOSTING, act, name
    return OcsfClass.API_ACTIVITY, 99, name


def parse(record: Any) -> list[Event]:
    r = obj(record)
    ident = opt_dict(r, "id")
    app = opt_str(ident, "applicationName")
    if not app:
        raise RecordError("missing field 'id.applicationName'")
    when = parse_time(ident.get("time"), "id.time")
    qualifier = opt_str(ident, "uniqueQualifier")
    actor = opt_dict(r, "actor")
    events = opt_list(r, "events")
    if not events:
        raise RecordError("activity has no 'events'")
    out: list[Event] = []
    for i, ev in enumerate(events):
        if not isinstance(ev, dict) or not isinstance(ev.get("name"), str):
            raise RecordError(f"events[{i}] must be an object with a 'name'")
        name = ev["name"]
        params: dict[str, Any] = {}
        for p in opt_list(ev, "parameters"):
            if isinstance(p, dict) and isinstance(p.get("name"), str):
                params[p["name"]] = _param_value(p)
        cls, act, act_name = _classify(app, name)
        status = 1
        if (
            app == "login"
            and name in ("login_failure", "login_challenge")
            and (
                name == "login_failure"
                or params.get("login_challenge_status") == "Challenge Failed"
            )
        ):
            status = 2
        extra: dict[str, Any] = {
            "unmapped": {
                "application": app,
                "event_service": f"{app}.googleapis.com",
                "event_type": ev.get("type"),
                "event_name": name,
                "parameters": params,
            }
        }
        target = params.get("USER_EMAIL") or params.get("target_user")
        if target and cls in (
            OcsfClass.ACCOUNT_CHANGE,
            OcsfClass.USER_ACCESS,
            OcsfClass.GROUP_MANAGEMENT,
        ):
            extra["user"] = {"email_addr": target}
        if cls is OcsfClass.USER_ACCESS:
            scopes = params.get("scope")
            if isinstance(scopes, list):
                extra["privileges"] = scopes
            elif isinstance(scopes, str):
                extra["privileges"] = scopes.split()
            if params.get("ROLE_NAME"):
                extra["privileges"] = [params["ROLE_NAME"]]
            if params.get("app_name") or params.get("client_id"):
                extra["resource"] = {"name": params.get("app_name"), "uid": params.get("client_id")}
        if cls is OcsfClass.GROUP_MANAGEMENT:
            extra["group"] = {"name": params.get("GROUP_EMAIL")}
        if cls is OcsfClass.FILE_HOSTING:
            extra["file"] = {"name": params.get("doc_title"), "uid": params.get("doc_id")}
        if cls is OcsfClass.API_ACTIVITY:
            extra["api"] = {"operation": name, "service": {"name": f"{app}.googleapis.com"}}
        out.append(
            build_event(
                source="google_workspace",
                vendor_id=f"{qualifier}:{ident.get('time')}" if qualifier else None,
                raw=r,
                time=when,
                class_uid=cls,
                activity_id=act,
                activity_name=act_name,
                action=name,
                vendor_name="Google",
                product_name=f"Google Workspace {app}",
                actor_user={
                    "email_addr": opt_str(actor, "email"),
                    "uid": opt_str(actor, "profileId"),
                    "type": opt_str(actor, "callerType"),
                },
                src_ip=opt_str(r, "ipAddress"),
                status_id=status,
                extra=extra,
                service=f"google_workspace.{app}",
                id_suffix=f"#{i}",
            )
        )
    return out

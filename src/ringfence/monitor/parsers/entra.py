"""Microsoft Entra ID (Graph) ``directoryAudits`` and ``signIns`` records → OCSF.

A record is a sign-in when it has ``createdDateTime`` and ``userPrincipalName`` (service
``signinlogs``, Authentication 3002, ``status.errorCode`` 0 = success); otherwise a directory
audit (service ``auditlogs``) classified by ``category`` / ``activityDisplayName``.
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
    req_str,
    sub,
)


def _signin(r: dict[str, Any]) -> Event:
    rid = req_str(r, "id")
    when = parse_time(r.get("createdDateTime"), "createdDateTime")
    status = opt_dict(r, "status")
    code = status.get("errorCode", 0)
    if not isinstance(code, int):
        raise RecordError("field 'status.errorCode' must be an integer")
    loc = opt_dict(r, "location")
    location: dict[str, Any] = {
        k: v
        for k, v in {
            "city": loc.get("city"),
            "region": loc.get("state"),
            "country": loc.get("countryOrRegion"),
        }.items()
        if v
    }
    geo = loc.get("geoCoordinates")
    if isinstance(geo, dict) and isinstance(geo.get("latitude"), int | float):
        location["coordinates"] = [geo.get("longitude"), geo.get("latitude")]
    return build_event(
        source="entra",
        vendor_id=rid,
        raw=r,
        time=when,
        class_uid=OcsfClass.AUTHENTICATION,
        activity_id=1,
        activity_name="Logon",
        action="Sign-in activity",
        vendor_name="Microsoft",
        product_name="Entra ID sign-in logs",
        message=f"sign-in to {r.get('appDisplayName') or 'an application'}",
        actor_user={
            "email_addr": opt_str(r, "userPrincipalName"),
            "name": opt_str(r, "userDisplayName"),
            "uid": opt_str(r, "userId"),
        },
        actor_extra={"app_name": r.get("appDisplayName"), "app_uid": r.get("appId")},
        src_ip=opt_str(r, "ipAddress"),
        src_extra={"location": location} if location else None,
        status_id=1 if code == 0 else 2,
        status_detail=opt_str(status, "failureReason"),
        extra={"dst_endpoint": {"svc_name": r.get("appDisplayName")}},
        service="signinlogs",
    )


def _audit(r: dict[str, Any]) -> Event:
    rid = req_str(r, "id")
    activity = req_str(r, "activityDisplayName")
    when = parse_time(r.get("activityDateTime"), "activityDateTime")
    category = opt_str(r, "category") or ""
    initiated = opt_dict(r, "initiatedBy")
    user = sub(initiated, "user")
    app = sub(initiated, "app")
    targets = [t for t in opt_list(r, "targetResources") if isinstance(t, dict)]
    low = activity.lower()
    if category == "RoleManagement" or "consent" in low or "permission grant" in low:
        cls = OcsfClass.USER_ACCESS
        act, act_name = (2, "Revoke Privileges") if "remove" in low else (1, "Assign Privileges")
    elif category == "GroupManagement" and "member" in low:
        cls = OcsfClass.GROUP_MANAGEMENT
        act, act_name = (4, "Remove User") if "remove" in low else (3, "Add User")
    elif category == "UserManagement":
        cls = OcsfClass.ACCOUNT_CHANGE
        act, act_name = (
            (1, "Create")
            if low.startswith("add")
            else (6, "Delete")
            if "delete" in low
            else (4, "Password Reset")
            if "reset" in low and "password" in low
            else (99, "Other")
        )
    else:
        cls, act, act_name = OcsfClass.API_ACTIVITY, 99, activity
    result = (opt_str(r, "result") or "").lower()
    extra: dict[str, Any] = {}
    user_t = [t for t in targets if str(t.get("type", "")).lower() == "user"]
    if user_t:
        extra["user"] = {
            "uid": user_t[0].get("id"),
            "email_addr": user_t[0].get("userPrincipalName"),
            "name": user_t[0].get("displayName"),
        }
    if cls is OcsfClass.API_ACTIVITY:
        extra["api"] = {"operation": activity, "service": {"name": r.get("loggedByService")}}
    privileges: list[str] = []
    for t in targets:
        props = t.get("modifiedProperties") if isinstance(t, dict) else None
        for m in props if isinstance(props, list) else []:
            if isinstance(m, dict) and m.get("displayName") in (
                "Role.DisplayName",
                "ConsentAction.Permissions",
                "DelegatedPermissionGrant.Scope",
            ):
                privileges.append(str(m.get("newValue", "")).strip('"'))
    if privileges:
        extra["privileges"] = privileges
    return build_event(
        source="entra",
        vendor_id=rid,
        raw=r,
        time=when,
        class_uid=cls,
        activity_id=act,
        activity_name=act_name,
        action=activity,
        vendor_name="Microsoft",
        product_name="Entra ID audit logs",
        message=activity,
        actor_user={
            "email_addr": opt_str(user, "userPrincipalName"),
            "uid": opt_str(user, "id"),
            "name": opt_str(user, "displayName"),
        },
        actor_extra={"app_name": app.get("displayName")} if app.get("displayName") else None,
        src_ip=opt_str(user, "ipAddress"),
        status_id=1 if result == "success" else 2 if result in ("failure", "timeout") else 0,
        status_detail=opt_str(r, "resultReason"),
        extra=extra,
        service="auditlogs",
    )


def parse(record: Any) -> list[Event]:
    r = obj(record)
    if "createdDateTime" in r and "userPrincipalName" in r:
        return [_signin(r)]
    if "activityDisplayName" in r:
        return [_audit(r)]
    raise RecordError("neither an Entra sign-in nor a directory audit record")

"""Okta System Log records (``GET /api/v1/logs``) → OCSF.

Classes: sign-in events → Authentication 3002; account lifecycle, password and MFA factor
changes → Account Change 3001; admin role / app assignment → User Access Management 3005;
group membership → Group Management 3006; everything else → API Activity 6003.
Never drops the record: the full System Log object is kept as ``raw``.
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

_SEVERITY = {"DEBUG": 1, "INFO": 1, "WARN": 3, "ERROR": 4}

# eventType prefix → (class, activity_id, activity_name)
_RULES: list[tuple[str, OcsfClass, int, str]] = [
    ("user.session.start", OcsfClass.AUTHENTICATION, 1, "Logon"),
    ("user.session.end", OcsfClass.AUTHENTICATION, 2, "Logoff"),
    ("user.authentication.", OcsfClass.AUTHENTICATION, 1, "Logon"),
    ("policy.evaluate_sign_on", OcsfClass.AUTHENTICATION, 1, "Logon"),
    ("user.lifecycle.create", OcsfClass.ACCOUNT_CHANGE, 1, "Create"),
    ("user.lifecycle.activate", OcsfClass.ACCOUNT_CHANGE, 2, "Enable"),
    ("user.lifecycle.deactivate", OcsfClass.ACCOUNT_CHANGE, 5, "Disable"),
    ("user.lifecycle.suspend", OcsfClass.ACCOUNT_CHANGE, 5, "Disable"),
    ("user.lifecycle.delete", OcsfClass.ACCOUNT_CHANGE, 6, "Delete"),
    ("user.account.update_password", OcsfClass.ACCOUNT_CHANGE, 3, "Password Change"),
    ("user.account.reset_password", OcsfClass.ACCOUNT_CHANGE, 4, "Password Reset"),
    ("user.mfa.factor.deactivate", OcsfClass.ACCOUNT_CHANGE, 10, "MFA Factor Disable"),
    ("user.mfa.factor.reset_all", OcsfClass.ACCOUNT_CHANGE, 10, "MFA Factor Disable"),
    ("user.mfa.factor.activate", OcsfClass.ACCOUNT_CHANGE, 9, "MFA Factor Enable"),
    ("user.account.privilege.grant", OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    ("user.account.privilege.revoke", OcsfClass.USER_ACCESS, 2, "Revoke Privileges"),
    ("application.user_membership.add", OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    ("application.user_membership.remove", OcsfClass.USER_ACCESS, 2, "Revoke Privileges"),
    ("app.oauth2.as.consent.grant", OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    ("app.oauth2.as.consent.revoke", OcsfClass.USER_ACCESS, 2, "Revoke Privileges"),
    ("group.user_membership.add", OcsfClass.GROUP_MANAGEMENT, 3, "Add User"),
    ("group.user_membership.remove", OcsfClass.GROUP_MANAGEMENT, 4, "Remove User"),
]


def _classify(event_type: str) -> tuple[OcsfClass, int, str]:
    for prefix, cls, act, name in _RULES:
        if event_type.startswith(prefix):
            return cls, act, name
    verb = event_type.rsplit(".", 1)[-1]
    act = {"create": 1, "add": 1, "read": 2, "update": 3, "delete": 4, "remove": 4}.get(verb, 99)
    return OcsfClass.API_ACTIVITY, act, verb.capitalize() if act != 99 else "Other"


def parse(record: Any) -> list[Event]:
    r = obj(record)
    uuid = req_str(r, "uuid")
    event_type = req_str(r, "eventType")
    when = parse_time(r.get("published"), "published")
    actor = opt_dict(r, "actor")
    client = opt_dict(r, "client")
    outcome = opt_dict(r, "outcome")
    targets = opt_list(r, "target")
    if any(not isinstance(t, dict) for t in targets):
        raise RecordError("field 'target' must be a list of objects")
    cls, act, act_name = _classify(event_type)
    result = (opt_str(outcome, "result") or "").upper()
    status = {"SUCCESS": 1, "ALLOW": 1, "FAILURE": 2, "DENY": 2}.get(result, 0)
    geo = sub(client, "geographicalContext")
    location: dict[str, Any] = {}
    if geo:
        location = {
            k: v
            for k, v in {
                "city": geo.get("city"),
                "region": geo.get("state"),
                "country": geo.get("country"),
            }.items()
            if v
        }
        gl = geo.get("geolocation")
        if isinstance(gl, dict) and isinstance(gl.get("lat"), int | float):
            location["coordinates"] = [gl.get("lon"), gl.get("lat")]
    ua = sub(client, "userAgent")
    security = opt_dict(r, "securityContext")
    src_extra: dict[str, Any] = {}
    if location:
        src_extra["location"] = location
    if security.get("asNumber") is not None:
        src_extra["autonomous_system"] = {
            "number": security.get("asNumber"),
            "name": security.get("asOrg"),
        }
    extra: dict[str, Any] = {}
    if ua.get("rawUserAgent"):
        extra["http_request"] = {"user_agent": ua.get("rawUserAgent")}
    user_targets = [t for t in targets if str(t.get("type", "")).lower() == "user"]
    if user_targets and cls in (
        OcsfClass.ACCOUNT_CHANGE,
        OcsfClass.USER_ACCESS,
        OcsfClass.GROUP_MANAGEMENT,
    ):
        extra["user"] = {
            "uid": user_targets[0].get("id"),
            "email_addr": user_targets[0].get("alternateId"),
            "name": user_targets[0].get("displayName"),
        }
    if cls is OcsfClass.GROUP_MANAGEMENT:
        groups = [t for t in targets if str(t.get("type", "")).lower() == "usergroup"]
        if groups:
            extra["group"] = {"uid": groups[0].get("id"), "name": groups[0].get("displayName")}
    if cls is OcsfClass.API_ACTIVITY:
        extra["api"] = {"operation": event_type, "service": {"name": "okta"}}
        extra["resources"] = [
            {"uid": t.get("id"), "type": t.get("type"), "name": t.get("displayName")}
            for t in targets
        ]
    if cls is OcsfClass.AUTHENTICATION:
        session = opt_str(r, "authenticationContext", "externalSessionId")
        if session:
            extra["session"] = {"uid": session}
    return [
        build_event(
            source="okta",
            vendor_id=uuid,
            raw=r,
            time=when,
            class_uid=cls,
            activity_id=act,
            activity_name=act_name,
            action=event_type,
            vendor_name="Okta",
            product_name="Okta System Log",
            message=opt_str(r, "displayMessage"),
            actor_user={
                "uid": opt_str(actor, "id"),
                "email_addr": opt_str(actor, "alternateId"),
                "name": opt_str(actor, "displayName"),
                "type": opt_str(actor, "type"),
            },
            src_ip=opt_str(client, "ipAddress"),
            src_extra=src_extra,
            status_id=status,
            status_detail=opt_str(outcome, "reason"),
            severity_id=_SEVERITY.get(str(r.get("severity", "INFO")).upper(), 1),
            extra=extra,
        )
    ]

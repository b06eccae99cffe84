"""Office 365 Management Activity API records (common schema) → OCSF.

``CreationTime`` is UTC without a zone. Azure AD sign-ins → Authentication 3002; role and
consent operations → User Access 3005; user changes → Account Change 3001; group membership →
Group Management 3006; SharePoint / OneDrive file operations → File Hosting 6006; else API
Activity 6003. Service is the lower-cased ``Workload`` (``exchange``, ``sharepoint`` ...).
"""

from __future__ import annotations

from typing import Any

from ringfence.monitor.events import Event, OcsfClass, build_event
from ringfence.monitor.parsers._common import RecordError, obj, opt_str, parse_time, req_str

_OPS: dict[str, tuple[OcsfClass, int, str]] = {
    "UserLoggedIn": (OcsfClass.AUTHENTICATION, 1, "Logon"),
    "UserLoginFailed": (OcsfClass.AUTHENTICATION, 1, "Logon"),
    "Add member to role.": (OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    "Remove member from role.": (OcsfClass.USER_ACCESS, 2, "Revoke Privileges"),
    "Consent to application.": (OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    "Add delegated permission grant.": (OcsfClass.USER_ACCESS, 1, "Assign Privileges"),
    "Add app role assignment to service principal.": (
        OcsfClass.USER_ACCESS,
        1,
        "Assign Privileges",
    ),
    "Add user.": (OcsfClass.ACCOUNT_CHANGE, 1, "Create"),
    "Delete user.": (OcsfClass.ACCOUNT_CHANGE, 6, "Delete"),
    "Update user.": (OcsfClass.ACCOUNT_CHANGE, 99, "Other"),
    "Disable Strong Authentication.": (OcsfClass.ACCOUNT_CHANGE, 10, "MFA Factor Disable"),
    "Reset user password.": (OcsfClass.ACCOUNT_CHANGE, 4, "Password Reset"),
    "Add member to group.": (OcsfClass.GROUP_MANAGEMENT, 3, "Add User"),
    "Remove member from group.": (OcsfClass.GROUP_MANAGEMENT, 4, "Remove User"),
    "FileDownloaded": (OcsfClass.FILE_HOSTING, 7, "Download"),
    "FileSyncDownloadedFull": (OcsfClass.FILE_HOSTING, 7, "Download"),
    "FileAccessed": (OcsfClass.FILE_HOSTING, 2, "Read"),
    "FileUploaded": (OcsfClass.FILE_HOSTING, 1, "Upload"),
    "FileDeleted": (OcsfClass.FILE_HOSTING, 4, "Delete"),
    "AnonymousLinkCreated": (OcsfClass.FILE_HOSTING, 8, "Share"),
    "SharingSet": (OcsfClass.FILE_HOSTING, 8, "Share"),
}


def parse(record: Any) -> list[Event]:
    r = obj(record)
    rid = req_str(r, "Id")
    op = req_str(r, "Operation")
    workload = req_str(r, "Workload")
    when = parse_time(r.get("CreationTime"), "CreationTime")
    if "RecordType" in r and not isinstance(r["RecordType"], int):
        raise RecordError("field 'RecordType' must be an integer")
    cls, act, act_name = _OPS.get(op, (OcsfClass.API_ACTIVITY, 99, op))
    result = (opt_str(r, "ResultStatus") or "").lower()
    status = (
        1
        if result in ("success", "succeeded", "true")
        else 2
        if result in ("failed", "failure", "false")
        else 0
    )
    if op == "UserLoginFailed":
        status = 2
    extra: dict[str, Any] = {}
    obj_id = opt_str(r, "ObjectId")
    if cls in (OcsfClass.USER_ACCESS, OcsfClass.ACCOUNT_CHANGE, OcsfClass.GROUP_MANAGEMENT):
        extra["user"] = {"name": obj_id}
        mods = r.get("ModifiedProperties")
        if isinstance(mods, list):
            for m in mods:
                if isinstance(m, dict) and m.get("Name") in (
                    "Role.DisplayName",
                    "ConsentAction.Permissions",
                ):
                    extra["privileges"] = [str(m.get("NewValue", ""))]
    elif cls is OcsfClass.FILE_HOSTING:
        extra["file"] = {"name": r.get("SourceFileName"), "path": obj_id}
    else:
        extra["api"] = {"operation": op, "service": {"name": workload}}
    ua = opt_str(r, "UserAgent")
    if ua:
        extra["http_request"] = {"user_agent": ua}
    ip = opt_str(r, "ClientIP") or opt_str(r, "ActorIpAddress")
    if ip and ip.startswith("[") and "]" in ip:
        ip = ip[1 : ip.index("]")]
    elif ip and ip.count(":") == 1:
        ip = ip.split(":")[0]
    return [
        build_event(
            source="m365",
            vendor_id=rid,
            raw=r,
            time=when,
            class_uid=cls,
            activity_id=act,
            activity_name=act_name,
            action=op,
            vendor_name="Microsoft",
            product_name=f"Microsoft 365 {workload}",
            actor_user={"name": opt_str(r, "UserId"), "uid": opt_str(r, "UserKey")},
            src_ip=ip,
            status_id=status,
            extra=extra,
            service=workload.lower(),
        )
    ]

"""GitHub organisation audit log entries (``GET /orgs/{org}/audit-log``) → OCSF.

Membership changes → Group Management 3006; role / permission / app / token grants → User
Access Management 3005; clones and archive downloads → File Hosting Activity 6006; the rest →
API Activity 6003. ``created_at`` / ``@timestamp`` are epoch milliseconds.
"""

from __future__ import annotations

from typing import Any

from ringfence.monitor.events import Event, OcsfClass, build_event
from ringfence.monitor.parsers._common import RecordError, obj, opt_str, parse_time, req_str

_GROUP = {
    "org.add_member": (3, "Add User"),
    "org.remove_member": (4, "Remove User"),
    "team.add_member": (3, "Add User"),
    "team.remove_member": (4, "Remove User"),
}
_ACCESS_GRANT = (
    "org.update_member",
    "org.add_billing_manager",
    "oauth_application.create",
    "oauth_authorization.create",
    "integration_installation.create",
    "integration_installation.repositories_added",
    "personal_access_token.access_granted",
    "personal_access_token.request_created",
    "business.add_admin",
    "team.promote_maintainer",
    "repo.add_member",
    "org_credential_authorization.grant",
)
_ACCESS_REVOKE = (
    "oauth_authorization.destroy",
    "integration_installation.destroy",
    "personal_access_token.access_revoked",
    "org_credential_authorization.revoke",
    "repo.remove_member",
)
_FILES = ("git.clone", "git.fetch", "repo.download_zip")


def parse(record: Any) -> list[Event]:
    r = obj(record)
    action = req_str(r, "action")
    if "." not in action:
        raise RecordError(f"field 'action' is not a GitHub audit action: {action[:40]!r}")
    stamp = r.get("@timestamp", r.get("created_at"))
    when = parse_time(stamp, "@timestamp")
    doc_id = opt_str(r, "_document_id")
    extra: dict[str, Any] = {}
    if action in _GROUP:
        cls, (act, act_name) = OcsfClass.GROUP_MANAGEMENT, _GROUP[action]
        extra["group"] = {"name": r.get("team") or r.get("org")}
        extra["user"] = {"name": r.get("user")}
    elif action in _ACCESS_GRANT:
        cls, act, act_name = OcsfClass.USER_ACCESS, 1, "Assign Privileges"
        extra["user"] = {"name": r.get("user") or r.get("actor")}
        scopes = r.get("token_scopes") or r.get("scopes") or r.get("permissions")
        if scopes:
            extra["privileges"] = (
                [f"{k}:{v}" for k, v in scopes.items()]
                if isinstance(scopes, dict)
                else (scopes.split(",") if isinstance(scopes, str) else list(scopes))
            )
    elif action in _ACCESS_REVOKE:
        cls, act, act_name = OcsfClass.USER_ACCESS, 2, "Revoke Privileges"
        extra["user"] = {"name": r.get("user") or r.get("actor")}
    elif action in _FILES:
        cls, act, act_name = OcsfClass.FILE_HOSTING, 7 if action != "git.clone" else 2, "Download"
        extra["file"] = {"name": r.get("repo") or r.get("repository"), "type": "repository"}
    else:
        cls = OcsfClass.API_ACTIVITY
        verb = action.rsplit(".", 1)[1]
        act = {"create": 1, "update": 3, "destroy": 4, "delete": 4}.get(verb, 99)
        act_name = verb
        extra["api"] = {"operation": action, "service": {"name": "github"}}
        if r.get("repo"):
            extra["resources"] = [{"name": r.get("repo"), "type": "repository"}]
    cc = opt_str(r, "actor_location", "country_code")
    ua = opt_str(r, "user_agent")
    if ua:
        extra["http_request"] = {"user_agent": ua}
    return [
        build_event(
            source="github",
            vendor_id=doc_id,
            raw=r,
            time=when,
            class_uid=cls,
            activity_id=act,
            activity_name=act_name,
            action=action,
            vendor_name="GitHub",
            product_name="GitHub Audit Log",
            message=f"{r.get('actor') or 'someone'} {action} in {r.get('org') or '?'}",
            actor_user={"name": opt_str(r, "actor"), "uid": opt_str(r, "actor_id")},
            actor_extra={"app_name": r["programmatic_access_type"]}
            if isinstance(r.get("programmatic_access_type"), str)
            else None,
            src_ip=opt_str(r, "actor_ip"),
            src_extra={"location": {"country": cc}} if cc else None,
            status_id=1,
            extra=extra,
        )
    ]

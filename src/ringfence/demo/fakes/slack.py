"""Loopback fake of Slack's Web API (``/api/<method>``), Audit Logs API (``/audit/v1/logs``) and
SCIM API (``/scim/v2/Users``) for one Enterprise Grid org.

Documented shapes: ``{"ok": true, ..., "response_metadata": {"next_cursor": ...}}``, errors as
HTTP 200 ``{"ok": false, "error": "invalid_auth"}``, rate limits as 429 + ``Retry-After``,
``team.integrationLogs`` paged by ``paging.page/pages``. Test/demo use only.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ringfence.demo.fakes._common import FakeVendor, int_param, page_slice
from ringfence.demo.fakes._seed import EPOCH_2026, PEOPLE, person


def _uid(key: str) -> str:
    return f"U{[p.key for p in PEOPLE].index(key):07d}"


def _log(app_id: str, app: str, key: str, change: str, day: int, scope: str) -> dict[str, Any]:
    return {
        "app_id": app_id,
        "app_type": app,
        "user_id": _uid(key),
        "user_name": person(key).first.lower(),
        "date": str(EPOCH_2026 + day * 86400),
        "change_type": change,
        "scope": scope,
    }


class SlackFake(FakeVendor):
    vendor = "slack"

    def __init__(self, token: str = "test-token") -> None:
        self.members: list[dict[str, Any]] = [
            {
                "id": "USLACKBOT",
                "name": "slackbot",
                "deleted": False,
                "is_bot": False,
                "is_admin": False,
                "profile": {"real_name": "Slackbot"},
            },
        ] + [
            {
                "id": _uid(p.key),
                "team_id": "T0FAKE",
                "name": p.key,
                "deleted": not p.active,
                "is_admin": p.admin,
                "is_owner": False,
                "is_bot": False,
                "has_2fa": p.mfa,
                "real_name": p.name,
                "profile": {"email": p.email, "real_name": p.name},
            }
            for p in PEOPLE
        ]
        self.approved = [
            self._approved("A04NWJIRACLOUD", "Jira Cloud", ["chat:write", "commands"]),
            self._approved("A04NWDEALALERTS", "Salesforce", ["chat:write", "channels:read"]),
            self._approved("A04NWPAGERDUTY", "PagerDuty", ["chat:write", "users:read"]),
        ]
        self.logs = [
            _log(
                "A04NWJIRACLOUD", "Jira Cloud", "amara.okafor", "added", -200, "chat:write,commands"
            ),
            _log("A04NWDEALALERTS", "Salesforce", "priya.raman", "added", -150, "chat:write"),
            _log(
                "A04NWPAGERDUTY",
                "PagerDuty",
                "mateo.garcia",
                "added",
                -120,
                "chat:write,users:read",
            ),
            _log("B03GIPHY", "Giphy", "lucas.moreau", "added", -90, "commands"),
            _log("B03GIPHY", "Giphy", "lucas.moreau", "removed", -80, "commands"),
            # Undeclared notes bot reading every conversation: risky shadow grant.
            _log(
                "A05NOTES",
                "Meeting Notes AI",
                "lucas.moreau",
                "added",
                -30,
                "channels:history,groups:history,im:history,files:read,users:read.email",
            ),
            _log("A05NOTES", "Meeting Notes AI", "lucas.moreau", "expanded", -10, "chat:write"),
        ]
        self.restricted: list[str] = []
        self.entries = [
            {
                "id": f"e{i}",
                "date_create": EPOCH_2026 - 3600 * (5 - i),
                "action": action,
                "actor": {
                    "type": "user",
                    "user": {"id": _uid("lucas.moreau"), "email": person("lucas.moreau").email},
                },
                "entity": {
                    "type": "app",
                    "app": {
                        "id": "A05NOTES",
                        "name": "Meeting Notes AI",
                        "is_directory_approved": False,
                        "scopes": ["channels:history"],
                    },
                },
                "context": {
                    "location": {"type": "workspace", "id": "T0FAKE"},
                    "ua": "Mozilla/5.0",
                    "ip_address": "198.51.100.20",
                },
            }
            for i, action in enumerate(
                (
                    "app_installed",
                    "app_scopes_expanded",
                    "user_login",
                    "file_downloaded",
                    "app_resources_added",
                )
            )
        ]
        super().__init__(token)

    @staticmethod
    def _approved(aid: str, name: str, scopes: list[str]) -> dict[str, Any]:
        return {
            "app": {
                "id": aid,
                "name": name,
                "is_app_directory_approved": True,
                "is_internal": False,
            },
            "scopes": [
                {"name": s, "is_sensitive": s.endswith("history"), "token_type": "bot"}
                for s in scopes
            ],
            "date_updated": EPOCH_2026 - 100 * 86400,
            "last_resolved_by": {"actor_id": _uid("jonas.weber"), "actor_type": "user"},
        }

    def unauthorized(self) -> Response:
        return JSONResponse({"ok": False, "error": "invalid_auth"})

    def rate_limited(self) -> Response:
        return JSONResponse(
            {"ok": False, "error": "ratelimited"},
            status_code=429,
            headers={"Retry-After": str(self.faults.retry_after)},
        )

    def server_error(self) -> Response:
        return JSONResponse({"ok": False, "error": "internal_error"}, status_code=500)

    def routes(self) -> list[Any]:
        return [
            Route("/api/users.list", self.users_list, methods=["GET", "POST"]),
            Route("/api/admin.apps.approved.list", self.approved_list, methods=["GET", "POST"]),
            Route("/api/team.integrationLogs", self.integration_logs, methods=["GET", "POST"]),
            Route("/api/admin.apps.restrict", self.restrict, methods=["POST"]),
            Route("/api/admin.apps.uninstall", self.uninstall, methods=["POST"]),
            Route("/audit/v1/logs", self.audit_logs),
            Route("/scim/v2/Users/{uid}", self.scim_delete, methods=["DELETE"]),
        ]

    def _cursor(self, request: Request, route: str, items: list[Any], key: str) -> Response:
        limit = int_param(request, "limit", 100)
        cursor = request.query_params.get("cursor", "")
        if cursor and not (cursor.startswith("dXNlcj") and cursor[6:].isdigit()):
            return JSONResponse({"ok": False, "error": "invalid_cursor"})
        chunk, nxt, page = page_slice(items, int(cursor[6:]) if cursor else 0, limit)
        failed = self.fault(route, page)
        if failed is not None:
            return failed
        return JSONResponse(
            {
                "ok": True,
                key: chunk,
                "response_metadata": {"next_cursor": f"dXNlcj{nxt}" if nxt is not None else ""},
            }
        )

    async def users_list(self, request: Request) -> Response:
        return self._cursor(request, "users", self.members, "members")

    async def approved_list(self, request: Request) -> Response:
        return self._cursor(request, "approved", self.approved, "approved_apps")

    async def integration_logs(self, request: Request) -> Response:
        count = max(1, int_param(request, "count", 100))
        page_no = max(1, int_param(request, "page", 1))
        chunk, _, page = page_slice(self.logs, (page_no - 1) * count, count)
        failed = self.fault("logs", page)
        if failed is not None:
            return failed
        pages = max(1, -(-len(self.logs) // count))
        return JSONResponse(
            {
                "ok": True,
                "logs": chunk,
                "paging": {
                    "count": count,
                    "total": len(self.logs),
                    "page": page_no,
                    "pages": pages,
                },
            }
        )

    async def audit_logs(self, request: Request) -> Response:
        return self._cursor(request, "audit", self.entries, "entries")

    async def _form_app(self, request: Request) -> str | None:
        form = await request.form()
        app_id = form.get("app_id")
        return app_id if isinstance(app_id, str) and app_id else None

    async def restrict(self, request: Request) -> Response:
        app_id = await self._form_app(request)
        if app_id is None:
            return JSONResponse({"ok": False, "error": "missing_argument"})
        self.restricted.append(app_id)
        self.actions.append(("suspend_app", app_id))
        return JSONResponse({"ok": True})

    async def uninstall(self, request: Request) -> Response:
        app_id = await self._form_app(request)
        if app_id is None or not any(entry["app_id"] == app_id for entry in self.logs):
            return JSONResponse({"ok": False, "error": "app_not_found"})
        users = {entry["user_id"]: entry for entry in self.logs if entry["app_id"] == app_id}
        for entry in users.values():
            self.logs.append({**entry, "change_type": "removed", "date": str(EPOCH_2026)})
        self.actions.append(("revoke_grant", app_id))
        return JSONResponse({"ok": True})

    async def scim_delete(self, request: Request) -> Response:
        uid = request.path_params["uid"]
        member = next((m for m in self.members if m["id"] == uid), None)
        if member is None:
            return JSONResponse(
                {"Errors": {"description": "User not found", "code": 404}}, status_code=404
            )
        member["deleted"] = True
        self.actions.append(("deactivate_person", uid))
        return Response(status_code=204)

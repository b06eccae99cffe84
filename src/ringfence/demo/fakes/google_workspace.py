"""Loopback fake of the Google Workspace Admin SDK: Directory users and tokens, Reports API
activities, token deletion and user suspension.

Documented shapes: ``{kind, users|items, nextPageToken}`` with ``pageToken``/``maxResults``,
errors as ``{"error": {code, message, errors:[{domain, reason, message}], status}}`` and quota
errors as 403 ``userRateLimitExceeded`` (no Retry-After). Test/demo use only.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ringfence.demo.fakes._common import FakeVendor, int_param, page_slice
from ringfence.demo.fakes._seed import EPOCH_2026, PEOPLE, person

# applicationName values activities.list accepts (a few; the real API lists more).
APPLICATIONS = ("admin", "drive", "login", "token", "groups", "saml", "user_accounts")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
GMAIL_FULL = "https://mail.google.com/"
DRIVE_FULL = "https://www.googleapis.com/auth/drive"


def _ts(days: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(EPOCH_2026 + days * 86400))


def _err(code: int, message: str, reason: str, status: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": code,
                "message": message,
                "status": status,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
            }
        },
        status_code=code,
    )


def _token(client_id: str, name: str, email: str, scopes: list[str]) -> dict[str, Any]:
    return {
        "kind": "admin#directory#token",
        "clientId": client_id,
        "displayText": name,
        "scopes": scopes,
        "userKey": email,
        "anonymous": False,
        "nativeApp": False,
        "etag": f'"{client_id}"',
    }


class GoogleWorkspaceFake(FakeVendor):
    vendor = "google_workspace"

    def __init__(self, token: str = "test-token") -> None:
        self.users: list[dict[str, Any]] = [
            {
                "kind": "admin#directory#user",
                "id": f"1{i:05d}",
                "primaryEmail": p.email,
                "name": {"givenName": p.first, "familyName": p.last, "fullName": p.name},
                "isAdmin": p.admin,
                "isEnrolledIn2Sv": p.mfa,
                "isEnforcedIn2Sv": False,
                "suspended": not p.active,
                "lastLoginTime": _ts(-2 if p.active else -120),
                "orgUnitPath": f"/{p.department}",
            }
            for i, p in enumerate(PEOPLE)
        ]
        hubspot = "481516234200-hubspotmeetings.apps.googleusercontent.com"
        self.tokens: dict[str, list[dict[str, Any]]] = {p.email: [] for p in PEOPLE}
        for key in ("amara.okafor", "priya.raman"):
            email = person(key).email
            self.tokens[email].append(
                _token(
                    hubspot,
                    "HubSpot Meetings",
                    email,
                    ["https://www.googleapis.com/auth/calendar.events"],
                )
            )
        grace = person("sofia.lindqvist").email
        self.tokens[grace].append(
            _token(
                "1002-workday.apps.googleusercontent.com", "Workday HCM", grace, ["openid", "email"]
            )
        )
        farid = person("lucas.moreau").email
        self.tokens[farid].append(
            _token(
                "2001-mailmerge.apps.googleusercontent.com",
                "Mail Merge Ninja",
                farid,
                [GMAIL_FULL, "https://www.googleapis.com/auth/spreadsheets"],
            )
        )
        eva = person("zoe.fischer").email
        self.tokens[eva].append(
            _token(
                "2002-pdfconv.apps.googleusercontent.com", "PDF Converter Pro", eva, [DRIVE_FULL]
            )
        )
        self.activities: list[dict[str, Any]] = [
            {
                "kind": "admin#reports#activity",
                "id": {
                    "time": _ts(-1 + i / 24),
                    "uniqueQualifier": str(9000 + i),
                    "applicationName": "token",
                    "customerId": "C0fake",
                },
                "actor": {"callerType": "USER", "email": eva, "profileId": "100004"},
                "ipAddress": "203.0.113.7",
                "events": [
                    {
                        "type": "auth",
                        "name": "authorize",
                        "parameters": [
                            {
                                "name": "client_id",
                                "value": "2002-pdfconv.apps.googleusercontent.com",
                            },
                            {"name": "app_name", "value": "PDF Converter Pro"},
                            {"name": "scope", "multiValue": [DRIVE_FULL]},
                        ],
                    }
                ],
            }
            for i in range(5)
        ]
        super().__init__(token)

    def unauthorized(self) -> Response:
        return _err(
            401, "Request had invalid authentication credentials.", "authError", "UNAUTHENTICATED"
        )

    def rate_limited(self) -> Response:
        return _err(
            403,
            "Quota exceeded for quota metric 'Queries'.",
            "userRateLimitExceeded",
            "PERMISSION_DENIED",
        )

    def server_error(self) -> Response:
        return _err(503, "The service is currently unavailable.", "backendError", "UNAVAILABLE")

    def routes(self) -> list[Any]:
        d = "/admin/directory/v1/users"
        return [
            Route(d, self.list_users),
            Route(d + "/{user}", self.update_user, methods=["PUT"]),
            Route(d + "/{user}/tokens", self.list_tokens),
            Route(d + "/{user}/tokens/{client}", self.delete_token, methods=["DELETE"]),
            Route("/admin/reports/v1/activity/users/all/applications/{app}", self.activities_list),
        ]

    def _paged(
        self, request: Request, route: str, items: list[Any], key: str, kind: str
    ) -> Response:
        limit = int_param(request, "maxResults", 100)
        token = request.query_params.get("pageToken", "o0")
        if not token.startswith("o") or not token[1:].isdigit():
            return _err(400, "Invalid pageToken", "invalid", "INVALID_ARGUMENT")
        chunk, nxt, page = page_slice(items, int(token[1:]), limit)
        failed = self.fault(route, page)
        if failed is not None:
            return failed
        body: dict[str, Any] = {"kind": kind, key: chunk, "etag": '"fake"'}
        if nxt is not None:
            body["nextPageToken"] = f"o{nxt}"
        return JSONResponse(body)

    async def list_users(self, request: Request) -> Response:
        if not request.query_params.get("customer") and not request.query_params.get("domain"):
            return _err(400, "Bad Request", "badRequest", "INVALID_ARGUMENT")
        return self._paged(request, "users", self.users, "users", "admin#directory#users")

    async def list_tokens(self, request: Request) -> Response:
        user = request.path_params["user"]
        if user not in self.tokens:
            return _err(404, "Resource Not Found: userKey", "notFound", "NOT_FOUND")
        failed = self.fault("tokens", 1)
        if failed is not None:
            return failed
        return JSONResponse(
            {"kind": "admin#directory#tokenList", "etag": '"fake"', "items": self.tokens[user]}
        )

    async def delete_token(self, request: Request) -> Response:
        user, client = request.path_params["user"], request.path_params["client"]
        before = len(self.tokens.get(user, []))
        self.tokens[user] = [t for t in self.tokens.get(user, []) if t["clientId"] != client]
        if len(self.tokens[user]) == before:
            return _err(404, "Resource Not Found: clientId", "notFound", "NOT_FOUND")
        self.actions.append(("revoke_grant", f"{user}/{client}"))
        return Response(status_code=204)

    async def update_user(self, request: Request) -> Response:
        user = next(
            (u for u in self.users if u["primaryEmail"] == request.path_params["user"]), None
        )
        if user is None:
            return _err(404, "Resource Not Found: userKey", "notFound", "NOT_FOUND")
        body = await request.json()
        if body.get("suspended") is True:
            user["suspended"] = True
            self.actions.append(("deactivate_person", user["primaryEmail"]))
        return JSONResponse(user)

    def add_activity(
        self,
        application: str,
        name: str,
        parameters: dict[str, Any],
        *,
        event_type: str,
        actor: str,
        when: str,
        ip: str = "198.51.100.23",
    ) -> dict[str, Any]:
        """Record one activity as the Reports API shows it (a list value → ``multiValue``,
        a bool → ``boolValue``, an int → ``intValue``, else ``value``)."""
        params: list[dict[str, Any]] = []
        for key, value in parameters.items():
            if isinstance(value, list):
                params.append({"name": key, "multiValue": value})
            elif isinstance(value, bool):
                params.append({"name": key, "boolValue": value})
            elif isinstance(value, int):
                params.append({"name": key, "intValue": str(value)})
            else:
                params.append({"name": key, "value": value})
        activity = {
            "kind": "admin#reports#activity",
            "id": {
                "time": when,
                "uniqueQualifier": str(10_000 + len(self.activities)),
                "applicationName": application,
                "customerId": "C0fake",
            },
            "etag": '"fake"',
            "actor": {"callerType": "USER", "email": actor, "profileId": "100001"},
            "ipAddress": ip,
            "events": [{"type": event_type, "name": name, "parameters": params}],
        }
        self.activities.append(activity)
        return activity

    def seed_audit_incident(self, when: float = -0.5) -> None:
        """An admin's bad afternoon (``when``: days from 2026-01-01): a super-admin role and
        admin privilege granted to a marketing user, that user's 2-step verification turned
        off, then failed and successful sign-ins — the admin and login activity the bundled
        Google rules and UEBA read."""
        admin, target = person("jonas.weber").email, person("zoe.fischer").email
        t = [_ts(when + i / 1440) for i in range(8)]
        self.add_activity(
            "admin",
            "ASSIGN_ROLE",
            {"ROLE_NAME": "_SEED_ADMIN_ROLE", "USER_EMAIL": target, "ROLE_ID": "3"},
            event_type="DELEGATED_ADMIN_SETTINGS",
            actor=admin,
            when=t[0],
        )
        self.add_activity(
            "admin",
            "GRANT_ADMIN_PRIVILEGE",
            {"USER_EMAIL": target},
            event_type="USER_SETTINGS",
            actor=admin,
            when=t[1],
        )
        self.add_activity(
            "admin",
            "TURN_OFF_2_STEP_VERIFICATION",
            {"USER_EMAIL": target},
            event_type="USER_SETTINGS",
            actor=admin,
            when=t[2],
        )
        for i in range(3, 7):
            self.add_activity(
                "login",
                "login_failure",
                {
                    "login_type": "google_password",
                    "login_failure_type": "login_failure_invalid_password",
                },
                event_type="login",
                actor=target,
                when=t[i],
                ip="203.0.113.66",
            )
        self.add_activity(
            "login",
            "login_success",
            {"login_type": "google_password", "is_suspicious": False},
            event_type="login",
            actor=target,
            when=t[7],
            ip="203.0.113.66",
        )

    async def activities_list(self, request: Request) -> Response:
        app = request.path_params["app"]
        if app not in APPLICATIONS:
            return _err(
                400,
                f"Invalid value '{app}'. Values must match the following regular expression: "
                f"'({')|('.join(APPLICATIONS)})'",
                "invalidParameter",
                "INVALID_ARGUMENT",
            )
        start = request.query_params.get("startTime")
        since = None
        if start is not None:
            if not _RFC3339.match(start):
                return _err(400, "Bad Request", "invalid", "INVALID_ARGUMENT")
            since = datetime.fromisoformat(start.replace("Z", "+00:00"))
        items = [
            a
            for a in self.activities
            if a["id"]["applicationName"] == app
            and (
                since is None
                or datetime.fromisoformat(a["id"]["time"].replace("Z", "+00:00")) >= since
            )
        ]
        # newest first, as the Reports API lists them
        items.sort(key=lambda a: a["id"]["time"], reverse=True)
        return self._paged(request, "activities", items, "items", "admin#reports#activities")

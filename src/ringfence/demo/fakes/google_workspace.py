"""Loopback fake of the Google Workspace Admin SDK: Directory users and tokens, Reports API
activities, token deletion and user suspension.

Documented shapes: ``{kind, users|items, nextPageToken}`` with ``pageToken``/``maxResults``,
errors as ``{"error": {code, message, errors:[{domain, reason, message}], status}}`` and quota
errors as 403 ``userRateLimitExceeded`` (no Retry-After). Test/demo use only.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ringfence.demo.fakes._common import FakeVendor, int_param, page_slice
from ringfence.demo.fakes._seed import EPOCH_2026, PEOPLE, person

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

    async def activities_list(self, request: Request) -> Response:
        app = request.path_params["app"]
        items = [a for a in self.activities if a["id"]["applicationName"] == app]
        return self._paged(request, "activities", items, "items", "admin#reports#activities")

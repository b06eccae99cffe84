"""Loopback fake of the Okta Management API (users, factors, roles, apps, grants, System Log).

Speaks Okta's documented shapes: JSON arrays paged by ``Link: <...after=...>; rel="next"``,
``X-Rate-Limit-*`` headers, 429 with ``X-Rate-Limit-Reset`` and an ``E0000047`` error body,
``Authorization: SSWS <token>``. Test/demo use only.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ringfence.demo.fakes._common import FakeVendor, int_param, page_slice
from ringfence.demo.fakes._seed import EPOCH_2026, PEOPLE

ISSUER = "https://example.okta.com"


def _ts(days: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(EPOCH_2026 + days * 86400))


def _error(
    code: str, summary: str, status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": "oae-fake",
            "errorCauses": [],
        },
        status_code=status,
        headers=headers,
    )


class OktaFake(FakeVendor):
    vendor = "okta"

    def __init__(self, token: str = "test-token") -> None:
        self.users: list[dict[str, Any]] = []
        self.factors: dict[str, list[dict[str, Any]]] = {}
        self.roles: dict[str, list[dict[str, Any]]] = {}
        self.grants: dict[str, list[dict[str, Any]]] = {}
        for i, p in enumerate(PEOPLE):
            uid = f"00u{i:03d}fake"
            self.users.append(
                {
                    "id": uid,
                    "status": "ACTIVE" if p.active else "DEPROVISIONED",
                    "created": _ts(-400 + i),
                    "lastLogin": _ts(-3 if p.active else -200),
                    "profile": {
                        "login": p.email,
                        "email": p.email,
                        "firstName": p.first,
                        "lastName": p.last,
                        "department": p.department,
                    },
                }
            )
            self.factors[uid] = (
                [
                    {
                        "id": f"mfa{i}",
                        "factorType": "token:software:totp",
                        "provider": "OKTA",
                        "status": "ACTIVE",
                    }
                ]
                if p.mfa
                else []
            )
            self.roles[uid] = (
                [{"id": f"ra{i}", "type": "SUPER_ADMIN", "status": "ACTIVE"}] if p.admin else []
            )
            self.grants[uid] = []
        self.apps: list[dict[str, Any]] = [
            self._app("0oa1salesforce", "salesforce", "Salesforce Sales Cloud", "0oa1nwsfsso"),
            self._app("0oa2slack", "slack", "Slack", "0oa1nwslackscim"),
            self._app("0oa3github", "github", "GitHub Enterprise Cloud", "0oa1nwgithubscim"),
            self._app("0oa4workday", "workday", "Workday HCM", "0oa1nwworkdayprovisioning"),
            self._app("0oa5hrinsights", "oidc_client", "HR Insights", "hr-insights-client"),
        ]
        # One active client secret per app. Okta's list answers carry the values too, so the
        # fake does: nothing Ringfence records may ever contain one (tested).
        self.client_secrets: dict[str, list[dict[str, Any]]] = {
            a["id"]: [self._secret(f"ocs{a['id']}0")] for a in self.apps
        }
        self.issued: dict[str, str] = {}  # secret id -> value, for tests to check the vault
        self.refuse_secret_deletes = False  # answer 403 as for a token without okta.apps.manage
        self.lose_next_created_secret = False  # create it, then answer 500 (a lost answer)
        bob = self.users[1]["id"]
        # Undeclared app holding a consent to manage users: risky shadow grant.
        for n, scope in enumerate(("okta.users.manage", "okta.groups.read")):
            self.grants[bob].append(
                {
                    "id": f"oag{n}hrinsights",
                    "status": "ACTIVE",
                    "created": _ts(-20),
                    "clientId": "hr-insights-client",
                    "userId": bob,
                    "issuer": ISSUER,
                    "scopeId": scope,
                    "source": "END_USER",
                }
            )
        alice = self.users[0]["id"]
        self.grants[alice].append(
            {
                "id": "oag9workday",
                "status": "ACTIVE",
                "created": _ts(-100),
                "clientId": "0oa1nwworkdayprovisioning",
                "userId": alice,
                "issuer": ISSUER,
                "scopeId": "okta.users.manage",
                "source": "ADMIN",
            }
        )
        self.logs: list[dict[str, Any]] = [
            {
                "uuid": f"log-{i}",
                "published": _ts(-1) if i < 3 else _ts(0),
                "eventType": et,
                "severity": "INFO",
                "displayMessage": et,
                "actor": {
                    "id": self.users[i % 3]["id"],
                    "type": "User",
                    "alternateId": self.users[i % 3]["profile"]["login"],
                    "displayName": self.users[i % 3]["profile"]["firstName"],
                },
                "client": {
                    "ipAddress": f"198.51.100.{10 + i}",
                    "userAgent": {"rawUserAgent": "Mozilla/5.0"},
                },
                "outcome": {"result": "SUCCESS"},
                "target": [],
            }
            for i, et in enumerate(
                (
                    "user.session.start",
                    "app.oauth2.as.consent.grant",
                    "user.authentication.auth_via_mfa",
                    "system.api_token.create",
                    "user.session.end",
                )
            )
        ]
        super().__init__(token)

    @staticmethod
    def _app(aid: str, name: str, label: str, client_id: str) -> dict[str, Any]:
        return {
            "id": aid,
            "name": name,
            "label": label,
            "status": "ACTIVE",
            "signOnMode": "OPENID_CONNECT",
            "created": _ts(-300),
            "credentials": {"oauthClient": {"client_id": client_id}},
        }

    @staticmethod
    def _secret(sid: str) -> dict[str, Any]:
        return {
            "id": sid,
            "status": "ACTIVE",
            "created": _ts(-90),
            "lastUpdated": _ts(-90),
            "secret_hash": hashlib.sha256(sid.encode()).hexdigest()[:22],
            "client_secret": f"seeded-{sid}-" + hashlib.sha256(sid.encode()).hexdigest(),
        }

    def auth_header(self) -> str:
        return f"SSWS {self.token}"

    def unauthorized(self) -> Response:
        return _error("E0000011", "Invalid token provided", 401)

    def rate_limited(self) -> Response:
        reset = int(time.time()) + self.faults.retry_after
        return _error(
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
            429,
            {
                "X-Rate-Limit-Limit": "600",
                "X-Rate-Limit-Remaining": "0",
                "X-Rate-Limit-Reset": str(reset),
            },
        )

    def server_error(self) -> Response:
        return _error("E0000009", "Internal Server Error", 500)

    def routes(self) -> list[Any]:
        return [
            Route("/api/v1/users", self.list_users),
            Route("/api/v1/users/{uid}/factors", self.list_factors),
            Route("/api/v1/users/{uid}/roles", self.list_roles),
            Route("/api/v1/users/{uid}/grants", self.list_grants),
            Route("/api/v1/users/{uid}/grants/{gid}", self.revoke_grant, methods=["DELETE"]),
            Route(
                "/api/v1/users/{uid}/lifecycle/deactivate", self.deactivate_user, methods=["POST"]
            ),
            Route("/api/v1/apps", self.list_apps),
            Route("/api/v1/apps/{aid}/lifecycle/deactivate", self.deactivate_app, methods=["POST"]),
            Route("/api/v1/logs", self.list_logs),
            Route(
                "/api/v1/apps/{aid}/credentials/secrets",
                self.client_secrets_route,
                methods=["GET", "POST"],
            ),
            Route(
                "/api/v1/apps/{aid}/credentials/secrets/{sid}/lifecycle/deactivate",
                self.deactivate_secret,
                methods=["POST"],
            ),
            Route(
                "/api/v1/apps/{aid}/credentials/secrets/{sid}",
                self.delete_secret,
                methods=["DELETE"],
            ),
        ]

    def _paged(self, request: Request, route: str, items: list[dict[str, Any]]) -> Response:
        limit = int_param(request, "limit", 20)
        offset = int_param(request, "after", 0)
        chunk, nxt, page = page_slice(items, offset, limit)
        failed = self.fault(route, page)
        if failed is not None:
            return failed
        headers = {
            "X-Rate-Limit-Limit": "600",
            "X-Rate-Limit-Remaining": "599",
            "X-Rate-Limit-Reset": str(int(time.time()) + 60),
        }
        if nxt is not None:
            base = str(request.url).split("?")[0]
            headers["Link"] = (
                f'<{base}?limit={limit}&after={offset}>; rel="self", '
                f'<{base}?limit={limit}&after={nxt}>; rel="next"'
            )
        return JSONResponse(chunk, headers=headers)

    def _user(self, uid: str) -> dict[str, Any] | None:
        return next((u for u in self.users if u["id"] == uid), None)

    async def list_users(self, request: Request) -> Response:
        return self._paged(request, "users", self.users)

    async def list_factors(self, request: Request) -> Response:
        uid = request.path_params["uid"]
        if uid not in self.factors:
            return _error("E0000007", f"Not found: Resource not found: {uid} (User)", 404)
        return JSONResponse(self.factors[uid])

    async def list_roles(self, request: Request) -> Response:
        return JSONResponse(self.roles.get(request.path_params["uid"], []))

    async def list_grants(self, request: Request) -> Response:
        uid = request.path_params["uid"]
        if uid not in self.grants:
            return _error("E0000007", f"Not found: Resource not found: {uid} (User)", 404)
        return self._paged(request, "grants", self.grants[uid])

    async def revoke_grant(self, request: Request) -> Response:
        uid, gid = request.path_params["uid"], request.path_params["gid"]
        before = len(self.grants.get(uid, []))
        self.grants[uid] = [g for g in self.grants.get(uid, []) if g["id"] != gid]
        if len(self.grants[uid]) == before:
            return _error("E0000007", f"Not found: Resource not found: {gid} (Grant)", 404)
        self.actions.append(("revoke_grant", gid))
        return Response(status_code=204)

    async def deactivate_user(self, request: Request) -> Response:
        user = self._user(request.path_params["uid"])
        if user is None:
            return _error("E0000007", "Not found: Resource not found (User)", 404)
        user["status"] = "DEPROVISIONED"
        self.actions.append(("deactivate_person", user["id"]))
        return JSONResponse({})

    async def deactivate_app(self, request: Request) -> Response:
        app = next((a for a in self.apps if a["id"] == request.path_params["aid"]), None)
        if app is None:
            return _error("E0000007", "Not found: Resource not found (AppInstance)", 404)
        app["status"] = "INACTIVE"
        self.actions.append(("suspend_app", app["id"]))
        return JSONResponse({})

    async def list_apps(self, request: Request) -> Response:
        return self._paged(request, "apps", self.apps)

    async def list_logs(self, request: Request) -> Response:
        return self._paged(request, "logs", self.logs)

    # -- client secrets (Okta: at most two per app; an active one cannot be deleted) ----------
    def _app_secrets(self, request: Request) -> list[dict[str, Any]] | None:
        return self.client_secrets.get(request.path_params["aid"])

    async def client_secrets_route(self, request: Request) -> Response:
        found = self._app_secrets(request)
        if found is None:
            return _error("E0000007", "Not found: Resource not found (AppInstance)", 404)
        if request.method == "GET":
            return JSONResponse(found)
        if len(found) >= 2:
            return _error(
                "E0000001",
                "Api validation failed: You can't have more than two client secrets per app.",
                400,
            )
        sid = f"ocs{secrets.token_hex(6)}"
        value = secrets.token_urlsafe(48)
        row = self._secret(sid)
        row["created"] = row["lastUpdated"] = _ts(0)
        row["client_secret"] = value
        found.append(row)
        self.issued[sid] = value
        self.actions.append(("add_client_secret", sid))
        if self.lose_next_created_secret:
            self.lose_next_created_secret = False
            return self.server_error()
        return JSONResponse(row, status_code=201)

    def _one_secret(self, request: Request) -> dict[str, Any] | Response:
        found = self._app_secrets(request)
        sid = request.path_params["sid"]
        row = next((x for x in found or [] if x["id"] == sid), None)
        if row is None:
            return _error("E0000007", f"Not found: Resource not found: {sid} (Secret)", 404)
        return row

    async def deactivate_secret(self, request: Request) -> Response:
        row = self._one_secret(request)
        if isinstance(row, Response):
            return row
        row["status"] = "INACTIVE"
        self.actions.append(("deactivate_client_secret", row["id"]))
        return JSONResponse(row)

    async def delete_secret(self, request: Request) -> Response:
        if self.refuse_secret_deletes:
            return _error(
                "E0000006", "You do not have permission to perform the requested action", 403
            )
        row = self._one_secret(request)
        if isinstance(row, Response):
            return row
        if row["status"] == "ACTIVE":
            return _error(
                "E0000001", "Api validation failed: Cannot delete an active client secret.", 400
            )
        self.client_secrets[request.path_params["aid"]].remove(row)
        self.actions.append(("delete_client_secret", row["id"]))
        return Response(status_code=204)

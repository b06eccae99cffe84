"""Loopback fake of Microsoft Graph v1.0: users, userRegistrationDetails, servicePrincipals,
oauth2PermissionGrants, directoryAudits and the response actions.

Documented shapes: ``{"@odata.context", "value": [...], "@odata.nextLink": "<absolute url>"}``
with ``$top``/``$skiptoken``, throttling as 429 + ``Retry-After`` and error bodies
``{"error": {code, message, innerError}}``. Test/demo use only.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ringfence.demo.fakes._common import FakeVendor, int_param, page_slice
from ringfence.demo.fakes._seed import EPOCH_2026, PEOPLE

V = "/v1.0"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"


def _ts(days: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH_2026 + days * 86400))


def _err(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": _ts(0),
                    "request-id": "00000000-fake",
                    "client-request-id": "00000000-fake",
                },
            }
        },
        status_code=status,
        headers=headers,
    )


class Microsoft365Fake(FakeVendor):
    vendor = "microsoft365"

    def __init__(self, token: str = "test-token") -> None:
        self.users: list[dict[str, Any]] = [
            {
                "id": f"u-{i:04d}",
                "displayName": p.name,
                "userPrincipalName": p.email,
                "mail": p.email,
                # Deprovisioning never reached this tenant: the leaver is still enabled here.
                "accountEnabled": True,
                "_admin": p.admin,
                "_mfa": p.mfa,
            }
            for i, p in enumerate(PEOPLE)
        ]
        self.sps: list[dict[str, Any]] = [
            self._sp("sp-graph", GRAPH_APP_ID, "Microsoft Graph", "Microsoft Services", True),
            self._sp("sp-sf", "app-salesforce", "Salesforce", "Salesforce", True),
            self._sp("sp-hubspot", "app-hubspot", "HubSpot", "HubSpot, Inc.", True),
            self._sp("sp-slack", "app-slack", "Slack", "Slack Technologies", True),
            self._sp(
                "sp-backup", "app-contoso-backup", "Contoso Backup Tool", "Contoso Ltd", False
            ),
        ]
        # App registrations owned by this tenant, with their client secrets (metadata only).
        self.applications: list[dict[str, Any]] = [
            {
                "id": "obj-reporting",
                "appId": "nw-reporting-daemon",
                "displayName": "Northwind reporting daemon",
                "passwordCredentials": [self._password("initial", -120)],
                "keyCredentials": [],
            }
        ]
        self.issued: dict[str, str] = {}  # keyId -> secretText, for tests to check the vault
        self.grants: list[dict[str, Any]] = [
            {
                "id": "g-sf-all",
                "clientId": "sp-sf",
                "consentType": "AllPrincipals",
                "principalId": None,
                "resourceId": "sp-graph",
                "scope": "openid profile User.Read",
            },
            {
                "id": "g-hubspot-chloe",
                "clientId": "sp-hubspot",
                "consentType": "Principal",
                "principalId": "u-0002",
                "resourceId": "sp-graph",
                "scope": "User.Read Contacts.Read Calendars.Read",
            },
            # Tenant-wide consent to an undeclared, unverified backup tool: read/write all mail
            # and files of everyone.
            {
                "id": "g-backup-all",
                "clientId": "sp-backup",
                "consentType": "AllPrincipals",
                "principalId": None,
                "resourceId": "sp-graph",
                "scope": "Mail.ReadWrite Files.ReadWrite.All offline_access",
            },
        ]
        self.audits = [
            {
                "id": f"Directory_{i}",
                "category": "ApplicationManagement",
                "activityDateTime": _ts(-1 + i / 24),
                "activityDisplayName": name,
                "operationType": "Add",
                "result": "success",
                "initiatedBy": {"user": {"userPrincipalName": PEOPLE[1].email}},
                "targetResources": [
                    {"displayName": "Contoso Backup Tool", "type": "ServicePrincipal"}
                ],
            }
            for i, name in enumerate(
                (
                    "Add service principal",
                    "Consent to application",
                    "Add delegated permission grant",
                    "Update application",
                    "Add app role assignment to service principal",
                )
            )
        ]
        super().__init__(token)

    @staticmethod
    def _sp(sid: str, app_id: str, name: str, publisher: str, verified: bool) -> dict[str, Any]:
        owner = MICROSOFT_TENANT if publisher == "Microsoft Services" else "tenant-of-" + sid
        return {
            "id": sid,
            "appId": app_id,
            "appOwnerOrganizationId": owner,
            "displayName": name,
            "accountEnabled": True,
            "servicePrincipalType": "Application",
            "publisherName": publisher,
            "verifiedPublisher": {
                "verifiedPublisherId": "1234567" if verified else None,
                "displayName": publisher if verified else None,
            },
        }

    @staticmethod
    def _password(name: str, days: int) -> dict[str, Any]:
        return {
            "keyId": str(uuid.uuid4()),
            "displayName": name,
            "hint": "abc",
            "startDateTime": _ts(days),
            "endDateTime": _ts(days + 365),
            "secretText": None,  # Graph returns the text only from addPassword
        }

    def unauthorized(self) -> Response:
        return _err(401, "InvalidAuthenticationToken", "Access token validation failure.")

    def rate_limited(self) -> Response:
        return _err(
            429,
            "TooManyRequests",
            "Too many requests.",
            {"Retry-After": str(self.faults.retry_after)},
        )

    def server_error(self) -> Response:
        return _err(503, "serviceNotAvailable", "Service unavailable.")

    def routes(self) -> list[Any]:
        return [
            Route(f"{V}/users", self.list_users),
            Route(f"{V}/users/{{uid}}", self.patch_user, methods=["PATCH"]),
            Route(
                f"{V}/users/{{uid}}/revokeSignInSessions", self.revoke_sessions, methods=["POST"]
            ),
            Route(
                f"{V}/reports/authenticationMethods/userRegistrationDetails", self.list_registration
            ),
            Route(f"{V}/servicePrincipals", self.list_sps),
            Route(f"{V}/servicePrincipals/{{sid}}", self.patch_sp, methods=["PATCH"]),
            Route(f"{V}/oauth2PermissionGrants", self.list_grants),
            Route(f"{V}/oauth2PermissionGrants/{{gid}}", self.delete_grant, methods=["DELETE"]),
            Route(f"{V}/auditLogs/directoryAudits", self.list_audits),
            Route(f"{V}/applications", self.list_applications),
            Route(f"{V}/applications/{{oid}}", self.get_application),
            Route(f"{V}/applications/{{oid}}", self.patch_application, methods=["PATCH"]),
            Route(
                f"{V}/servicePrincipals/{{sid}}/removePassword",
                self.remove_sp_password,
                methods=["POST"],
            ),
            Route(f"{V}/applications/{{oid}}/addPassword", self.add_password, methods=["POST"]),
            Route(
                f"{V}/applications/{{oid}}/removePassword", self.remove_password, methods=["POST"]
            ),
        ]

    def _paged(self, request: Request, route: str, items: list[Any], context: str) -> Response:
        top = int_param(request, "$top", 100)
        skip = request.query_params.get("$skiptoken", "0")
        if not skip.isdigit():
            return _err(400, "BadRequest", "Invalid $skiptoken")
        chunk, nxt, page = page_slice(items, int(skip), top)
        failed = self.fault(route, page)
        if failed is not None:
            return failed
        body: dict[str, Any] = {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#{context}",
            "value": chunk,
        }
        if nxt is not None:
            base = str(request.url).split("?")[0]
            body["@odata.nextLink"] = f"{base}?$top={top}&$skiptoken={nxt}"
        return JSONResponse(body)

    async def list_users(self, request: Request) -> Response:
        public = [{k: v for k, v in u.items() if not k.startswith("_")} for u in self.users]
        return self._paged(request, "users", public, "users")

    async def list_registration(self, request: Request) -> Response:
        rows = [
            {
                "id": u["id"],
                "userPrincipalName": u["userPrincipalName"],
                "userDisplayName": u["displayName"],
                "isAdmin": u["_admin"],
                "isMfaRegistered": u["_mfa"],
                "isMfaCapable": u["_mfa"],
                "methodsRegistered": ["microsoftAuthenticatorPush"] if u["_mfa"] else [],
            }
            for u in self.users
        ]
        return self._paged(
            request, "registration", rows, "reports/authenticationMethods/userRegistrationDetails"
        )

    async def list_sps(self, request: Request) -> Response:
        wanted = request.query_params.get("$filter", "")
        m = re.fullmatch(r"appId eq '([^']*)'", wanted) if wanted else None
        if wanted and m is None:
            return _err(400, "BadRequest", f"Invalid filter clause: {wanted[:80]}")
        sps = [s for s in self.sps if m is None or s["appId"] == m.group(1)]
        return self._paged(request, "servicePrincipals", sps, "servicePrincipals")

    async def remove_sp_password(self, request: Request) -> Response:
        sp = next((s for s in self.sps if s["id"] == request.path_params["sid"]), None)
        if sp is None:
            return _err(404, "Request_ResourceNotFound", "Resource does not exist.")
        body = await self._json(request)
        key = body.get("keyId") if body else None
        creds = sp.setdefault("passwordCredentials", [])
        row = next((c for c in creds if c["keyId"] == key), None)
        if row is None:
            return _err(400, "BadRequest", f"No password credential found with keyId {key}.")
        creds.remove(row)
        self.actions.append(("remove_sp_password", str(key)))
        return Response(status_code=204)

    async def patch_application(self, request: Request) -> Response:
        app = self._app(request)
        if app is None:
            return self._missing(request)
        body = await self._json(request)
        if not body or not isinstance(body.get("keyCredentials"), list):
            return _err(400, "BadRequest", "only keyCredentials can be updated here")
        if body["keyCredentials"]:
            return _err(400, "BadRequest", "this fake only clears keyCredentials")
        removed = [str(k["keyId"]) for k in app.get("keyCredentials", [])]
        app["keyCredentials"] = []
        self.actions.append(("remove_certificates", ",".join(removed)))
        return Response(status_code=204)

    async def list_grants(self, request: Request) -> Response:
        return self._paged(request, "grants", self.grants, "oauth2PermissionGrants")

    async def list_audits(self, request: Request) -> Response:
        return self._paged(request, "audits", self.audits, "auditLogs/directoryAudits")

    async def delete_grant(self, request: Request) -> Response:
        gid = request.path_params["gid"]
        if not any(g["id"] == gid for g in self.grants):
            return _err(404, "Request_ResourceNotFound", f"Resource '{gid}' does not exist.")
        self.grants = [g for g in self.grants if g["id"] != gid]
        self.actions.append(("revoke_grant", gid))
        return Response(status_code=204)

    async def patch_sp(self, request: Request) -> Response:
        sp = next((s for s in self.sps if s["id"] == request.path_params["sid"]), None)
        if sp is None:
            return _err(404, "Request_ResourceNotFound", "Resource does not exist.")
        body = await request.json()
        if body.get("accountEnabled") is False:
            sp["accountEnabled"] = False
            self.actions.append(("suspend_app", sp["id"]))
        return Response(status_code=204)

    async def patch_user(self, request: Request) -> Response:
        user = next((u for u in self.users if u["id"] == request.path_params["uid"]), None)
        if user is None:
            return _err(404, "Request_ResourceNotFound", "Resource does not exist.")
        body = await request.json()
        if body.get("accountEnabled") is False:
            user["accountEnabled"] = False
            self.actions.append(("deactivate_person", user["id"]))
        return Response(status_code=204)

    async def revoke_sessions(self, request: Request) -> Response:
        if not any(u["id"] == request.path_params["uid"] for u in self.users):
            return _err(404, "Request_ResourceNotFound", "Resource does not exist.")
        return JSONResponse(
            {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean",
                "value": True,
            }
        )

    # -- app registrations and their passwords ----------------------------------------------
    async def list_applications(self, request: Request) -> Response:
        wanted = request.query_params.get("$filter", "")
        m = re.fullmatch(r"appId eq '([^']*)'", wanted) if wanted else None
        if wanted and m is None:
            return _err(400, "BadRequest", f"Invalid filter clause: {wanted[:80]}")
        apps = [a for a in self.applications if m is None or a["appId"] == m.group(1)]
        return self._paged(request, "applications", apps, "applications")

    def _app(self, request: Request) -> dict[str, Any] | None:
        oid = request.path_params["oid"]
        return next((a for a in self.applications if a["id"] == oid), None)

    def _missing(self, request: Request) -> Response:
        oid = request.path_params["oid"]
        return _err(404, "Request_ResourceNotFound", f"Resource '{oid}' does not exist.")

    async def get_application(self, request: Request) -> Response:
        app = self._app(request)
        return self._missing(request) if app is None else JSONResponse(app)

    async def _json(self, request: Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def add_password(self, request: Request) -> Response:
        app = self._app(request)
        if app is None:
            return self._missing(request)
        body = await self._json(request)
        spec = body.get("passwordCredential") if body else None
        if not isinstance(spec, dict):
            return _err(400, "BadRequest", "passwordCredential is required")
        row = self._password(str(spec.get("displayName") or ""), 0)
        if isinstance(spec.get("endDateTime"), str):
            row["endDateTime"] = spec["endDateTime"]
        text = secrets.token_urlsafe(30)
        app["passwordCredentials"].append(row)
        self.issued[row["keyId"]] = text
        self.actions.append(("add_password", row["keyId"]))
        return JSONResponse({**row, "secretText": text, "hint": text[:3]})

    async def remove_password(self, request: Request) -> Response:
        app = self._app(request)
        if app is None:
            return self._missing(request)
        body = await self._json(request)
        key = body.get("keyId") if body else None
        creds = app["passwordCredentials"]
        row = next((c for c in creds if c["keyId"] == key), None)
        if row is None:
            return _err(400, "BadRequest", f"No password credential found with keyId {key}.")
        creds.remove(row)
        self.actions.append(("remove_password", str(key)))
        return Response(status_code=204)

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
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ringfence.demo.fakes._common import FakeVendor, int_param, page_slice
from ringfence.demo.fakes._seed import EPOCH_2026, PEOPLE

V = "/v1.0"
TENANT = "0b1d2e3f-fake-4a5b-8c9d-northwind000"
# Office 365 Management Activity API of the tenant (served by the same fake).
FEED = f"/api/v1.0/{TENANT}/activity/feed"
CONTENT_TYPES = (
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
)
BLOB_RECORDS = 25  # records per content blob
BLOBS_PER_PAGE = 2  # blobs per subscriptions/content answer before a NextPageUri
_FILTER = re.compile(r"^(activityDateTime|createdDateTime) ge (\d{4}-\d{2}-\d{2}T[\d:.]+Z)$")
_MGMT_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?)?$")
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"


def _ts(days: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH_2026 + days * 86400))


def _at(epoch: float, *, zone: bool = True) -> str:
    """Graph times end in Z; Management Activity API CreationTime has no zone (UTC)."""
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return text + "Z" if zone else text


def _parse(text: str) -> datetime:
    """A Graph / Management API time (with or without Z, date only) as aware UTC."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


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
        self.signins: list[dict[str, Any]] = []
        # Management Activity API: subscriptions by content type, records by content type
        self.subscriptions: dict[str, str] = {}
        # Content blobs per content type, formed as records arrive (ids stable across
        # listings, as Microsoft's contentId is): {"id", "created", "records"}.
        self._blobs: dict[str, list[dict[str, Any]]] = {}
        self._blob_index: dict[str, dict[str, Any]] = {}
        # Every Management Activity API call must carry PublisherIdentifier (Microsoft puts
        # calls without one in a shared, throttled quota); the fake refuses them outright so a
        # connector that forgets it fails its tests. What each call sent is kept here.
        self.publisher_ids: list[str | None] = []
        self.require_publisher = True
        # (contentType, startTime, endTime) of every content listing, as sent
        self.content_windows: list[tuple[str, str, str]] = []
        # A test switch: content URIs on another host (a connector must not follow them).
        self.content_base: str | None = None
        # Sign-in logs need Entra ID P1/P2; False answers as a tenant without the licence does.
        self.premium = True
        self.management: dict[str, list[dict[str, Any]]] = {t: [] for t in CONTENT_TYPES}
        super().__init__(token)

    # -- seeding audit data ------------------------------------------------------------------
    def add_signin(self, upn: str, error_code: int, when: str, ip: str = "203.0.113.66") -> None:
        """One Entra sign-in (``/auditLogs/signIns`` shape); error 0 is a success."""
        uid = next((u["id"] for u in self.users if u["userPrincipalName"] == upn), "u-unknown")
        self.signins.append(
            {
                "id": str(uuid.uuid4()),
                "createdDateTime": when,
                "userDisplayName": upn.split("@")[0],
                "userPrincipalName": upn,
                "userId": uid,
                "appId": "00000002-0000-0ff1-ce00-000000000000",
                "appDisplayName": "Office 365 Exchange Online",
                "ipAddress": ip,
                "clientAppUsed": "Browser",
                "isInteractive": True,
                "status": {
                    "errorCode": error_code,
                    "failureReason": "Invalid username or password or Invalid on-premise "
                    "username or password."
                    if error_code
                    else "Other.",
                    "additionalDetails": None,
                },
                "location": {"city": "Lagos", "state": "Lagos", "countryOrRegion": "NG"},
            }
        )

    def add_management_record(
        self, content_type: str, record: dict[str, Any], *, available: str | None = None
    ) -> None:
        """One Management Activity API record (common schema) in ``content_type``'s blobs.

        Records fill a blob of up to ``BLOB_RECORDS``, whose ``contentCreated`` is its first
        record's ``CreationTime``. ``available`` (a time, no zone): the record arrives late,
        in a blob of its own made available then — its events older than its
        ``contentCreated``, as Microsoft's aggregation delivers them."""
        full = {"Id": str(uuid.uuid4()), "OrganizationId": TENANT, **record}
        self.management[content_type].append(full)
        blobs = self._blobs.setdefault(content_type, [])
        last = blobs[-1] if blobs else None
        if available is not None or last is None or last["closed"]:
            last = {
                "id": f"{content_type}${uuid.uuid4().hex}",
                "created": available or full["CreationTime"],
                "records": [],
                "closed": available is not None,
            }
            blobs.append(last)
            self._blob_index[last["id"]] = last
        last["records"].append(full)
        if len(last["records"]) >= BLOB_RECORDS:
            last["closed"] = True

    def seed_audit_incident(self, when: float = -0.5) -> None:
        """A compromised account (``when``: days from 2026-01-01): twelve failed sign-ins in
        a minute, then per-user MFA switched off and sixty SharePoint downloads in five
        minutes — what the bundled Entra sign-in and Microsoft 365 rules read."""
        victim = PEOPLE[5].email
        base = EPOCH_2026 + when * 86400
        for i in range(12):
            self.add_signin(victim, 50126, _at(base + i * 5))
        self.add_signin(victim, 0, _at(base + 65))
        self.add_management_record(
            "Audit.AzureActiveDirectory",
            {
                "CreationTime": _at(base + 90, zone=False),
                "RecordType": 8,
                "Operation": "Disable Strong Authentication.",
                "ResultStatus": "Success",
                "UserKey": "10037FFE8D3A1B2C@northwind-analytics.example",
                "UserType": 0,
                "Workload": "AzureActiveDirectory",
                "ClientIP": "203.0.113.66",
                "ObjectId": victim,
                "UserId": PEOPLE[1].email,
                "AzureActiveDirectoryEventType": 1,
                "ModifiedProperties": [
                    {"Name": "StrongAuthenticationRequirement", "NewValue": "[]", "OldValue": ""}
                ],
                "Target": [{"ID": victim, "Type": 5}],
            },
        )
        site = "https://northwind.sharepoint.com/sites/finance/"
        for i in range(60):
            self.add_management_record(
                "Audit.SharePoint",
                {
                    "CreationTime": _at(base + 120 + i * 5, zone=False),
                    "RecordType": 6,
                    "Operation": "FileDownloaded",
                    "UserKey": "i:0h.f|membership|10037ffe8d3a1b2c@live.com",
                    "UserType": 0,
                    "Workload": "SharePoint",
                    "ClientIP": "203.0.113.66",
                    "ObjectId": f"{site}Shared Documents/q{i}.xlsx",
                    "UserId": victim,
                    "SourceFileName": f"q{i}.xlsx",
                    "SiteUrl": site,
                    "UserAgent": "python-requests/2.31",
                },
            )

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
            Route(f"{V}/auditLogs/signIns", self.list_signins),
            Route(f"{FEED}/subscriptions/list", self.subscriptions_list),
            Route(f"{FEED}/subscriptions/start", self.subscriptions_start, methods=["POST"]),
            Route(f"{FEED}/subscriptions/content", self.subscriptions_content),
            Route(f"{FEED}/audit/{{blob}}", self.content_blob),
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
            link = f"{base}?$top={top}&$skiptoken={nxt}"
            wanted = request.query_params.get("$filter")
            if wanted is not None:  # Graph's next link keeps the query (in its skiptoken)
                link += "&" + urlencode({"$filter": wanted})
            body["@odata.nextLink"] = link
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

    def _since(self, request: Request, field: str) -> datetime | Response | None:
        """The time of a ``$filter=<field> ge <time>`` (the one filter the fake knows)."""
        wanted = request.query_params.get("$filter")
        if wanted is None:
            return None
        m = _FILTER.match(wanted)
        if m is None or m.group(1) != field:
            return _err(400, "BadRequest", f"Invalid filter clause: {wanted[:80]}")
        return datetime.fromisoformat(m.group(2).replace("Z", "+00:00"))

    def _filtered(
        self, request: Request, rows: list[dict[str, Any]], field: str
    ) -> list[dict[str, Any]] | Response:
        since = self._since(request, field)
        if isinstance(since, Response):
            return since
        if since is None:
            return rows
        return [r for r in rows if _parse(r[field]) >= since]

    async def list_audits(self, request: Request) -> Response:
        rows = self._filtered(request, self.audits, "activityDateTime")
        if isinstance(rows, Response):
            return rows
        return self._paged(request, "audits", rows, "auditLogs/directoryAudits")

    async def list_signins(self, request: Request) -> Response:
        if not self.premium:
            return _err(
                403,
                "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "Neither tenant is B2C or tenant doesn't have premium license",
            )
        rows = self._filtered(request, self.signins, "createdDateTime")
        if isinstance(rows, Response):
            return rows
        newest_first = sorted(rows, key=lambda r: str(r["createdDateTime"]), reverse=True)
        return self._paged(request, "signIns", newest_first, "auditLogs/signIns")

    # -- Office 365 Management Activity API -------------------------------------------------
    @staticmethod
    def _af(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

    def _publisher(self, request: Request) -> Response | None:
        publisher = request.query_params.get("PublisherIdentifier")
        self.publisher_ids.append(publisher)
        if self.require_publisher and not publisher:
            return self._af(
                400,
                "AF10001",
                "fake: PublisherIdentifier missing (Microsoft throttles such calls in a "
                "shared quota)",
            )
        return None

    def _content_type(self, request: Request) -> str | Response:
        ctype = request.query_params.get("contentType", "")
        if ctype not in CONTENT_TYPES:
            return self._af(400, "AF20023", f"The content type {ctype[:40]!r} is invalid.")
        return ctype

    async def subscriptions_list(self, request: Request) -> Response:
        if (refused := self._publisher(request)) is not None:
            return refused
        return JSONResponse(
            [
                {"contentType": t, "status": status, "webhook": None}
                for t, status in self.subscriptions.items()
            ]
        )

    async def subscriptions_start(self, request: Request) -> Response:
        if (refused := self._publisher(request)) is not None:
            return refused
        ctype = self._content_type(request)
        if isinstance(ctype, Response):
            return ctype
        if self.subscriptions.get(ctype) == "enabled":
            return self._af(
                400, "AF20024", "The subscription is already enabled. No property change."
            )
        self.subscriptions[ctype] = "enabled"
        self.actions.append(("start_subscription", ctype))
        return JSONResponse({"contentType": ctype, "status": "enabled", "webhook": None})

    def _window(self, request: Request) -> tuple[datetime, datetime] | Response:
        start, end = request.query_params.get("startTime"), request.query_params.get("endTime")
        if (start is None) != (end is None):
            return self._af(
                400, "AF20055", "Start time and end time must both be specified (or both omitted)."
            )
        if start is None or end is None:
            return datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
        if not _MGMT_TIME.match(start) or not _MGMT_TIME.match(end):
            return self._af(400, "AF20055", "Invalid start time or end time.")
        lo, hi = _parse(start), _parse(end)
        if not lo < hi or hi - lo > timedelta(hours=24):
            return self._af(
                400,
                "AF20055",
                "Start time and end time must both be specified, be "
                "no more than 24 hours apart, with the start time prior to end time.",
            )
        return lo, hi

    async def subscriptions_content(self, request: Request) -> Response:
        if (refused := self._publisher(request)) is not None:
            return refused
        ctype = self._content_type(request)
        if isinstance(ctype, Response):
            return ctype
        if self.subscriptions.get(ctype) != "enabled":
            return self._af(400, "AF20022", "No subscription found for the specified content type")
        window = self._window(request)
        if isinstance(window, Response):
            return window
        lo, hi = window
        self.content_windows.append(
            (
                ctype,
                request.query_params.get("startTime", ""),
                request.query_params.get("endTime", ""),
            )
        )
        # Listed by contentCreated (when a blob became available), not by its events' times.
        blobs = [b for b in self._blobs.get(ctype, []) if lo <= _parse(b["created"]) < hi]
        page = int_param(request, "nextPage", 0)
        chunk = blobs[page * BLOBS_PER_PAGE : (page + 1) * BLOBS_PER_PAGE]
        failed = self.fault("content", page + 1)
        if failed is not None:
            return failed
        base = str(request.base_url).rstrip("/")
        listing = [
            {
                "contentType": ctype,
                "contentId": blob["id"],
                "contentUri": f"{self.content_base or base}{FEED}/audit/{blob['id']}",
                "contentCreated": blob["created"] + ".000Z",
                "contentExpiration": (_parse(blob["created"]) + timedelta(days=7)).strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z"
                ),
            }
            for blob in chunk
        ]
        headers = {}
        if (page + 1) * BLOBS_PER_PAGE < len(blobs):
            query = (
                f"contentType={ctype}&startTime={request.query_params.get('startTime', '')}"
                f"&endTime={request.query_params.get('endTime', '')}&nextPage={page + 1}"
            )
            headers["NextPageUri"] = f"{base}{FEED}/subscriptions/content?{query}"
        return JSONResponse(listing, headers=headers)

    async def content_blob(self, request: Request) -> Response:
        if (refused := self._publisher(request)) is not None:
            return refused
        blob = self._blob_index.get(request.path_params["blob"])
        if blob is None:
            return self._af(404, "AF20051", "Content requested with the key does not exist.")
        return JSONResponse(blob["records"])

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

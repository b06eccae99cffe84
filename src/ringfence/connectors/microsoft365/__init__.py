"""Microsoft 365 / Entra ID connector over Microsoft Graph: users (+ MFA registration and
admin flag from ``userRegistrationDetails``), service principals, delegated
``oauth2PermissionGrants`` and directory audits; response actions revoke a grant, disable a
service principal or a user, and rotate an app registration's client secret
(``addPassword`` / ``removePassword``).

Graph pages with ``@odata.nextLink`` (an absolute URL, followed only on the configured host)
and throttles with 429 + ``Retry-After``. Configure ``base_url`` as
``https://graph.microsoft.com/v1.0``. The bearer token is never logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from ringfence.connectors._base import (
    AuditCallback,
    AuditStream,
    Connector,
    Page,
    log,
    once_per_snapshot,
    parse_time,
    req_str,
    split_page,
)
from ringfence.connectors._model import (
    ActionResult,
    AuditCheckpoint,
    AuditPullReport,
    DiscoveredApp,
    DiscoveredGrant,
    DiscoveredPerson,
    NewClientSecret,
    PullResult,
)
from ringfence.core.errors import ValidationError

# Microsoft's own tenant: service principals it owns are first-party (Graph, Exchange...).
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
_FIRST_PARTY = "Microsoft (first party)"
SECRET_LIFETIME_DAYS = 180  # a rotated app secret expires: Entra caps and policies expect it
# Office 365 Management Activity API content types; the default two carry what the bundled
# m365 rules read (Disable Strong Authentication: Azure AD; FileDownloaded: SharePoint).
CONTENT_TYPES = frozenset(
    {"Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General", "DLP.All"}
)
DEFAULT_CONTENT_TYPES = ("Audit.AzureActiveDirectory", "Audit.SharePoint")
MANAGEMENT_WINDOW = timedelta(hours=24)  # the longest startTime..endTime the API lists
# Content is kept 7 days; a startTime right at the edge is refused by the time it arrives.
MANAGEMENT_RETENTION = timedelta(days=7) - timedelta(minutes=5)
# A resumed pull lists this much before its checkpoint again: a blob can be listed a little
# after the contentCreated it carries. Blobs already read there are skipped by contentId.
MANAGEMENT_OVERLAP = timedelta(hours=1)
_GUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
# .../api/v1.0/{tenant}/activity/feed: the tenant is the default PublisherIdentifier.
_FEED_TENANT = re.compile(r"/api/v1\.0/([A-Za-z0-9.-]{1,64})/activity/feed/?$")


def _graph_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _management_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class _ManagementPull:
    """One Management Activity API pull's progress: the checkpoint it started from, the blobs
    it read (``contentId`` → ``contentCreated``) and how far each content type was listed."""

    def __init__(self, checkpoint: AuditCheckpoint) -> None:
        self.checkpoint = checkpoint
        self.until = dict(checkpoint.until)
        self.seen = dict(checkpoint.seen)
        self.duplicates = 0
        self.gaps: list[str] = []

    def already_read(self, content_id: str) -> bool:
        if content_id in self.seen:
            self.duplicates += 1
            return True
        return False

    def read(self, content_id: str, created: datetime) -> None:
        self.seen[content_id] = created

    def listed(self, content_type: str, end: datetime) -> None:
        """Every blob of ``content_type`` created before ``end`` has been read."""
        before = self.until.get(content_type)
        self.until[content_type] = end if before is None else max(before, end)

    def finish(self) -> AuditCheckpoint:
        out = AuditCheckpoint(until=dict(self.until), seen=dict(self.seen))
        if out.until:
            # what the next pull can re-list: the overlap before the earliest checkpoint
            out.prune(min(out.until.values()) - MANAGEMENT_OVERLAP)
        return out


class Microsoft365Connector(Connector):
    vendor = "microsoft365"
    known_options = frozenset(
        {
            "management_base_url",
            "management_credential_ref",
            "management_content_types",
            "management_publisher_id",
        }
    )

    def _pages(
        self, path: str, operation: str, params: dict[str, Any] | None = None
    ) -> Iterator[tuple[Page, str | None]]:
        url: str | None = path
        query: dict[str, Any] | None = {"$top": self.config.page_size, **(params or {})}
        seen: set[str] = set()
        while url:
            resp = self.request("GET", url, operation=operation, params=query)
            body = self.json_body(resp, operation)
            page = split_page(body, "value", operation, self)
            nxt = body.get("@odata.nextLink")
            if nxt is not None and not isinstance(nxt, str):
                raise self.error("malformed response: @odata.nextLink is not a string", operation)
            query = None
            yield page, nxt
            url = self.advance(seen, nxt, operation)

    def people(self) -> PullResult[DiscoveredPerson]:
        op = "list userRegistrationDetails"
        reg = self.collect(
            op,
            (
                p
                for p, _ in self._pages(
                    "/reports/authenticationMethods/userRegistrationDetails", op
                )
            ),
            lambda r: (req_str(r, "id"), bool(r.get("isMfaRegistered")), bool(r.get("isAdmin"))),
        )
        mfa = {uid: (m, a) for uid, m, a in reg.items}

        def parse(raw: dict[str, Any]) -> DiscoveredPerson:
            uid = req_str(raw, "id")
            mfa_state, admin = mfa.get(uid, (None, False))
            return DiscoveredPerson(
                vendor=self.vendor,
                external_id=uid,
                login=req_str(raw, "userPrincipalName"),
                email=raw.get("mail") or raw.get("userPrincipalName"),
                name=str(raw.get("displayName") or ""),
                active=bool(raw.get("accountEnabled", True)),
                is_admin=admin,
                mfa_enabled=None if reg.error else mfa_state,
            )

        sel = {"$select": "id,displayName,userPrincipalName,mail,accountEnabled"}
        return self.collect(
            "list users", (p for p, _ in self._pages("/users", "list users", sel)), parse
        )

    @once_per_snapshot
    def _service_principals(self) -> PullResult[DiscoveredApp]:
        op = "list servicePrincipals"

        def parse(raw: dict[str, Any]) -> DiscoveredApp:
            verified = raw.get("verifiedPublisher") or {}
            return DiscoveredApp(
                vendor=self.vendor,
                external_id=req_str(raw, "id"),
                name=str(raw.get("displayName") or raw["appId"]),
                client_id=req_str(raw, "appId"),
                enabled=bool(raw.get("accountEnabled", True)),
                publisher=_FIRST_PARTY
                if raw.get("appOwnerOrganizationId") == MICROSOFT_TENANT
                else raw.get("publisherName"),
                verified=bool(verified.get("verifiedPublisherId"))
                if isinstance(verified, dict)
                else None,
            )

        return self.collect(op, (p for p, _ in self._pages("/servicePrincipals", op)), parse)

    def apps(self) -> PullResult[DiscoveredApp]:
        """Third-party and tenant apps; Microsoft's own first-party principals are left out."""
        sps = self._service_principals()
        sps.items = [a for a in sps.items if a.publisher != _FIRST_PARTY]
        return sps

    def grants(self) -> PullResult[DiscoveredGrant]:
        sps = self._service_principals()
        names = {a.external_id: a.name for a in sps.items}
        client_ids = {a.external_id: a.client_id for a in sps.items}
        op = "list oauth2PermissionGrants"

        def parse(raw: dict[str, Any]) -> DiscoveredGrant:
            client = req_str(raw, "clientId")
            scope = raw.get("scope") or ""
            if not isinstance(scope, str):
                raise ValueError("scope must be a space-separated string")
            consent = req_str(raw, "consentType")
            return DiscoveredGrant(
                vendor=self.vendor,
                external_id=req_str(raw, "id"),
                app_name=names.get(client, client),
                client_id=client_ids.get(client, client),
                principal=raw.get("principalId"),
                scopes=tuple(scope.split()),
                tenant_wide=consent == "AllPrincipals",
                handle={"servicePrincipalId": client, "resourceId": str(raw.get("resourceId"))},
            )

        result = self.collect(op, (p for p, _ in self._pages("/oauth2PermissionGrants", op)), parse)
        result.error = result.error or sps.error
        return result

    @property
    def management_content_types(self) -> tuple[str, ...]:
        raw = self.config.options.get("management_content_types")
        if not raw:
            return DEFAULT_CONTENT_TYPES
        return tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))

    @classmethod
    def check_options(cls, options: Mapping[str, str]) -> None:
        raw = options.get("management_content_types")
        if raw is not None:
            types = [t.strip() for t in raw.split(",") if t.strip()]
            unknown = [t for t in types if t not in CONTENT_TYPES]
            if unknown or not types:
                raise ValidationError(
                    "option management_content_types: unknown content type(s) "
                    f"{', '.join(unknown) or '(none given)'}; expected some of: "
                    + ", ".join(sorted(CONTENT_TYPES))
                )
        has_base = bool(options.get("management_base_url"))
        if has_base != bool(options.get("management_credential_ref")):
            raise ValidationError(
                "options management_base_url and management_credential_ref go together: the "
                "Office 365 Management Activity API takes a token for https://manage.office.com, "
                "not the Graph token"
            )
        if not has_base and raw is not None:
            raise ValidationError("option management_content_types needs management_base_url")
        publisher = options.get("management_publisher_id")
        if publisher is not None and not has_base:
            raise ValidationError("option management_publisher_id needs management_base_url")
        if publisher is not None and not _GUID.match(publisher):
            raise ValidationError(
                "option management_publisher_id must be a tenant GUID "
                "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx): Microsoft counts the Management "
                "Activity API quota per PublisherIdentifier"
            )

    @property
    def publisher_id(self) -> str | None:
        """``PublisherIdentifier`` sent on every Management Activity API call: Microsoft
        throttles calls without one in a quota shared by every caller that omits it. Option
        ``management_publisher_id``, by default the tenant of ``management_base_url``."""
        explicit = self.config.options.get("management_publisher_id")
        if explicit:
            return explicit
        found = _FEED_TENANT.search(
            httpx.URL(self.config.options.get("management_base_url", "")).path
        )
        return found.group(1) if found else None

    def audit_streams(self) -> tuple[AuditStream, ...]:
        streams = [AuditStream("directoryAudits", "entra"), AuditStream("signIns", "entra")]
        if self.config.options.get("management_base_url"):
            streams.append(AuditStream("management", "m365"))
        return tuple(streams)

    def audit_stream(
        self,
        stream: str,
        on_page: AuditCallback,
        *,
        since: datetime | None = None,
        max_pages: int | None = None,
        checkpoint: AuditCheckpoint | None = None,
    ) -> AuditPullReport:
        if stream not in {s.name for s in self.audit_streams()}:
            raise ValidationError(f"microsoft365: no audit stream {stream!r}")
        return self.audit_log(
            on_page, since=since, max_pages=max_pages, stream=stream, checkpoint=checkpoint
        )

    def audit_log(
        self,
        on_page: AuditCallback,
        *,
        since: datetime | None = None,
        max_pages: int | None = None,
        stream: str = "directoryAudits",
        checkpoint: AuditCheckpoint | None = None,
    ) -> AuditPullReport:
        """One audit log: Graph ``directoryAudits`` (default) or ``signIns`` (records for the
        ``entra`` parser), or the Office 365 Management Activity API (``management``, records
        for the ``m365`` parser; it resumes from ``checkpoint``, see ``_management_pages``)."""
        if stream == "management":
            op = "management activity"
            state = _ManagementPull(checkpoint or AuditCheckpoint())
            report = self.run_audit(
                op, self._management_pages(since, op, state), on_page, max_pages
            )
            report.checkpoint = state.finish()
            report.duplicates = state.duplicates
            report.gaps = state.gaps
            return report
        field = {"directoryAudits": "activityDateTime", "signIns": "createdDateTime"}.get(stream)
        if field is None:
            raise ValidationError(f"microsoft365: no audit stream {stream!r}")
        params: dict[str, Any] = {}
        if since is not None:
            params["$filter"] = f"{field} ge {_graph_time(since)}"
        return self.run_audit(
            stream, self._pages(f"/auditLogs/{stream}", stream, params), on_page, max_pages
        )

    # -- Office 365 Management Activity API ---------------------------------------------------
    def _management_call(
        self,
        client: httpx.Client,
        method: str,
        url: str,
        operation: str,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One Management Activity API call, with ``PublisherIdentifier`` in its query — also
        on a ``contentUri`` or ``NextPageUri`` Microsoft sent, whose own query is kept."""
        publisher = self.publisher_id
        if publisher is None:
            raise self.error(
                "no PublisherIdentifier: management_base_url is not "
                "https://manage.office.com/api/v1.0/<tenant-id>/activity/feed; set option "
                "management_publisher_id to your tenant GUID",
                operation,
            )
        target = str(
            httpx.URL(url).copy_merge_params({**(params or {}), "PublisherIdentifier": publisher})
        )
        return self.request(method, target, operation=operation, client=client)

    def _management_pages(
        self, since: datetime | None, operation: str, state: _ManagementPull
    ) -> Iterator[tuple[Page, str | None]]:
        """Content blobs of each content type, one blob = one page.

        Content is listed by ``contentCreated`` (when a blob became available, not when its
        events happened), at most 24 hours per listing and 7 days back. Each content type
        resumes where its checkpoint says everything was read, less ``MANAGEMENT_OVERLAP``
        (a blob can be listed a little after its contentCreated); ``since`` overrides that,
        and without either the last 24 hours are read. Blobs whose ``contentId`` was read
        before (the overlap, a window listed twice) are skipped without being fetched. The
        checkpoint advances per content type over each window listed to its end.

        A content type without an enabled subscription has nothing to list: its subscription
        is started (idempotent, same ActivityFeed.Read permission) and the first blobs appear
        up to 12 hours later."""
        client = self._client_for(
            self.config.option("management_base_url"),
            self.config.option("management_credential_ref"),
        )
        types = self.management_content_types
        listed = self.json_body(
            self._management_call(client, "GET", "/subscriptions/list", operation), operation
        )
        subs = split_page(listed, None, operation, self)
        enabled = {
            s.get("contentType") for s in subs if str(s.get("status", "")).lower() == "enabled"
        }
        for content_type in types:
            if content_type not in enabled:
                log.info("connector.subscription_start", vendor=self.vendor, type=content_type)
                self._management_call(
                    client,
                    "POST",
                    "/subscriptions/start",
                    f"start subscription {content_type}",
                    {"contentType": content_type},
                )
        now = self.clock.now()
        oldest = now - MANAGEMENT_RETENTION
        for content_type in types:
            resumed = state.checkpoint.until.get(content_type)
            if since is not None:
                start = since
            elif resumed is not None:
                start = resumed - MANAGEMENT_OVERLAP
            else:
                start = now - MANAGEMENT_WINDOW
            window = max(start, oldest)
            if resumed is not None and since is None and resumed < oldest:
                state.gaps.append(
                    f"{content_type}: checkpoint {_graph_time(resumed)} is older than the 7 "
                    f"days the API keeps; content before {_graph_time(oldest)} is lost"
                )
            while window < now:
                end = min(window + MANAGEMENT_WINDOW, now)
                yield from self._content(client, content_type, window, end, operation, state)
                state.listed(content_type, end)
                window = end

    def _content(
        self,
        client: httpx.Client,
        content_type: str,
        start: datetime,
        end: datetime,
        operation: str,
        state: _ManagementPull,
    ) -> Iterator[tuple[Page, str | None]]:
        url: str | None = "/subscriptions/content"
        params: dict[str, Any] | None = {
            "contentType": content_type,
            "startTime": _management_time(start),
            "endTime": _management_time(end),
        }
        resume = f"{content_type} from {_graph_time(start)}"
        seen: set[str] = set()
        while url:
            resp = self._management_call(client, "GET", url, operation, params)
            blobs = split_page(self.json_body(resp, operation), None, operation, self)
            for blob in blobs:
                uri, content_id = blob.get("contentUri"), blob.get("contentId")
                if not isinstance(uri, str) or not uri:
                    raise self.error("malformed response: a blob without contentUri", operation)
                if not isinstance(content_id, str) or not content_id:
                    raise self.error("malformed response: a blob without contentId", operation)
                try:
                    created = parse_time(blob.get("contentCreated")) or start
                except ValueError:
                    raise self.error(
                        "malformed response: a blob with an unreadable contentCreated", operation
                    ) from None
                if state.already_read(content_id):
                    continue
                records = self.json_body(
                    self._management_call(client, "GET", uri, operation), operation
                )
                page = split_page(records, None, operation, self)
                state.read(content_id, created)
                yield page, resume
            nxt = resp.headers.get("NextPageUri")
            params = None
            url = self.advance(seen, nxt, operation)

    def revoke_grant(self, grant: DiscoveredGrant) -> ActionResult:
        op = "delete oauth2PermissionGrant"
        self.request(
            "DELETE", f"/oauth2PermissionGrants/{self.path_id(grant.external_id, op)}", operation=op
        )
        return ActionResult(self.vendor, "revoke_grant", grant.external_id, True, "grant deleted")

    def suspend_app(self, app: DiscoveredApp) -> ActionResult:
        self.request(
            "PATCH",
            f"/servicePrincipals/{self.path_id(app.external_id, 'disable servicePrincipal')}",
            json={"accountEnabled": False},
            operation="disable servicePrincipal",
        )
        return ActionResult(
            self.vendor, "suspend_app", app.external_id, True, "service principal disabled"
        )

    def _application(self, client_id: str) -> dict[str, Any]:
        """The app registration (``application``) whose ``appId`` is the client id."""
        if "'" in client_id:
            raise self.error(f"invalid client id {client_id!r}", "find application")
        op = "find application"
        params = {"$filter": f"appId eq '{client_id}'", "$select": "id,appId,passwordCredentials"}
        body = self.json_body(self.request("GET", "/applications", operation=op, params=params), op)
        found = body.get("value") if isinstance(body, dict) else None
        if not isinstance(found, list) or not found or not isinstance(found[0], dict):
            raise self.error(f"no application registration has the appId {client_id!r}", op)
        app: dict[str, Any] = found[0]
        if not isinstance(app.get("id"), str):
            raise self.error("malformed response: application without an id", op)
        return app

    def client_app(self, client_id: str) -> str:
        return str(self._application(client_id)["id"])

    def add_client_secret(self, client_id: str) -> NewClientSecret:
        app = self._application(client_id)
        op = "addPassword"
        ends = self.clock.now() + timedelta(days=SECRET_LIFETIME_DAYS)
        body = self.json_body(
            self.request(
                "POST",
                f"/applications/{self.path_id(app['id'], op)}/addPassword",
                json={
                    "passwordCredential": {
                        "displayName": "ringfence rotation",
                        "endDateTime": ends.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                },
                operation=op,
                idempotent=False,
            ),
            op,
        )
        key, secret = (
            (body.get("keyId"), body.get("secretText")) if isinstance(body, dict) else (None, None)
        )
        if not isinstance(key, str) or not isinstance(secret, str) or not secret:
            raise self.error("malformed response: no keyId and secretText", op)
        return NewClientSecret(self.vendor, app["id"], key, SecretStr(secret))

    def retire_client_secrets(self, app_id: str, keep: str, retired: list[str]) -> None:
        """Remove every credential that authenticates as this client except ``keep``.

        A compromised client may have been given more than the one secret Ringfence holds (an
        attacker's usual foothold: another secret or a certificate on the app registration,
        or a secret on its service principal — both are accepted by the token endpoint). So:
        every other password credential of the application (``removePassword``), its
        certificates (``keyCredentials`` set to none: a certificate cannot be removed one by
        one without a proof signed by its key), and every password credential of the
        service principal(s) with the same ``appId``. A service principal's verification
        certificates cannot be removed without resending the signing ones it may need for
        SAML, so they are refused by name for a person to remove (the step then fails)."""
        op = "get application"
        body = self.json_body(
            self.request(
                "GET",
                f"/applications/{self.path_id(app_id, op)}",
                params={"$select": "id,appId,passwordCredentials,keyCredentials"},
                operation=op,
            ),
            op,
        )
        creds = body.get("passwordCredentials") if isinstance(body, dict) else None
        if not isinstance(creds, list):
            raise self.error("malformed response: no passwordCredentials", op)
        for cred in creds:
            key = cred.get("keyId") if isinstance(cred, dict) else None
            if not isinstance(key, str) or key == keep:
                continue
            self.request(
                "POST",
                f"/applications/{self.path_id(app_id, 'removePassword')}/removePassword",
                json={"keyId": key},
                operation="removePassword",
            )
            retired.append(key)
        certs = body.get("keyCredentials") or []
        if not isinstance(certs, list):
            raise self.error("malformed response: keyCredentials is not a list", op)
        if certs:
            self.request(
                "PATCH",
                f"/applications/{self.path_id(app_id, 'remove certificates')}",
                json={"keyCredentials": []},
                operation="remove certificates",
            )
            retired.extend(f"certificate:{c.get('keyId')}" for c in certs if isinstance(c, dict))
        client_id = body.get("appId")
        if not isinstance(client_id, str) or not client_id:
            raise self.error("malformed response: application without an appId", op)
        if "'" in client_id:
            raise self.error(f"invalid client id {client_id!r}", "find service principal")
        left: list[str] = []
        principals = [
            sp
            for page, _next in self._pages(
                "/servicePrincipals",
                "find service principal",
                params={
                    "$filter": f"appId eq '{client_id}'",
                    "$select": "id,appId,passwordCredentials,keyCredentials",
                },
            )
            for sp in page
        ]
        for sp in principals:
            if not isinstance(sp, dict) or not isinstance(sp.get("id"), str):
                raise self.error("malformed response: service principal without an id", op)
            sid = self.path_id(sp["id"], "removePassword")
            for cred in sp.get("passwordCredentials") or []:
                key = cred.get("keyId") if isinstance(cred, dict) else None
                if not isinstance(key, str):
                    continue
                self.request(
                    "POST",
                    f"/servicePrincipals/{sid}/removePassword",
                    json={"keyId": key},
                    operation="remove service principal secret",
                )
                retired.append(f"sp-secret:{key}")
            left.extend(
                str(c.get("keyId"))
                for c in sp.get("keyCredentials") or []
                if isinstance(c, dict) and c.get("usage") == "Verify"
            )
        if left:
            raise self.error(
                f"the service principal of {client_id} still has {len(left)} verification "
                f"certificate(s) ({', '.join(left[:3])}) that authenticate as it: remove them "
                "in Entra (Enterprise applications → the app → certificates)",
                "remove service principal certificates",
            )

    def deactivate_person(self, person: DiscoveredPerson) -> ActionResult:
        user = f"/users/{self.path_id(person.external_id, 'disable user')}"
        self.request("PATCH", user, json={"accountEnabled": False}, operation="disable user")
        self.request(
            "POST",
            f"{user}/revokeSignInSessions",
            operation="revoke sign-in sessions",
        )
        return ActionResult(
            self.vendor,
            "deactivate_person",
            person.external_id,
            True,
            "account disabled, sessions revoked",
        )


__all__ = ["Microsoft365Connector"]

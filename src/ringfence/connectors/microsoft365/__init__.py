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

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr

from ringfence.connectors._base import (
    AuditCallback,
    Connector,
    Page,
    once_per_snapshot,
    req_str,
    split_page,
)
from ringfence.connectors._model import (
    ActionResult,
    AuditPullReport,
    DiscoveredApp,
    DiscoveredGrant,
    DiscoveredPerson,
    NewClientSecret,
    PullResult,
)

# Microsoft's own tenant: service principals it owns are first-party (Graph, Exchange...).
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
_FIRST_PARTY = "Microsoft (first party)"
SECRET_LIFETIME_DAYS = 180  # a rotated app secret expires: Entra caps and policies expect it


class Microsoft365Connector(Connector):
    vendor = "microsoft365"

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

    def audit_log(
        self, on_page: AuditCallback, *, since: datetime | None = None, max_pages: int | None = None
    ) -> AuditPullReport:
        op = "directoryAudits"
        params: dict[str, Any] = {}
        if since is not None:
            params["$filter"] = f"activityDateTime ge {since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        return self.run_audit(
            op, self._pages("/auditLogs/directoryAudits", op, params), on_page, max_pages
        )

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

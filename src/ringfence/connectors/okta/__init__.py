"""Okta connector: users (+ MFA factors, admin roles), apps, user consent grants, System Log.

Okta answers 429 with ``X-Rate-Limit-Reset`` (UTC epoch seconds) and pages with RFC 8288
``Link: <...>; rel="next"``. The API token is sent as ``Authorization: SSWS <token>`` and is
never logged. Read-only except the response actions (revoke a grant, deactivate an app or a
user, rotate an app's client secret).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from ringfence.connectors._base import (
    AuditCallback,
    Connector,
    Page,
    epoch_delay,
    once_per_snapshot,
    parse_retry_after,
    parse_time,
    req_str,
    split_page,
)
from ringfence.connectors._model import (
    ActionResult,
    AuditPullReport,
    ConnectorError,
    DiscoveredApp,
    DiscoveredGrant,
    DiscoveredPerson,
    NewClientSecret,
    PullResult,
)

ADMIN_ROLES = {"SUPER_ADMIN", "ORG_ADMIN", "APP_ADMIN", "USER_ADMIN", "API_ACCESS_MANAGEMENT_ADMIN"}


class OktaConnector(Connector):
    vendor = "okta"
    auth_scheme = "SSWS"

    def rate_limit_delay(self, response: httpx.Response) -> float | None:
        if response.status_code != 429:
            return None
        now = self.clock.now()
        reset = epoch_delay(response.headers.get("X-Rate-Limit-Reset"), now)
        if reset is not None:
            return reset
        retry = parse_retry_after(response.headers.get("Retry-After"), now)
        return retry if retry is not None else -1.0

    def quota_exhausted_delay(self, response: httpx.Response) -> float | None:
        if response.headers.get("X-Rate-Limit-Remaining") == "0":
            return epoch_delay(response.headers.get("X-Rate-Limit-Reset"), self.clock.now())
        return None

    def _pages(
        self, path: str, operation: str, params: dict[str, Any] | None = None
    ) -> Iterator[Page]:
        for page, _ in self._pages_with_next(path, operation, params):
            yield page

    def _pages_with_next(
        self, path: str, operation: str, params: dict[str, Any] | None = None
    ) -> Iterator[tuple[Page, str | None]]:
        url: str | None = path
        query: dict[str, Any] | None = {"limit": self.config.page_size, **(params or {})}
        seen: set[str] = set()
        while url:
            resp = self.request("GET", url, operation=operation, params=query)
            body = self.json_body(resp, operation)
            if not isinstance(body, list):
                raise self.error("malformed response: expected a JSON array", operation)
            page = split_page(body, None, operation, self)
            nxt = self.next_link(resp)
            query = None  # the next link carries its own query
            yield page, nxt
            url = self.advance(seen, nxt, operation)

    @once_per_snapshot
    def people(self) -> PullResult[DiscoveredPerson]:
        op = "list users"

        def parse(raw: dict[str, Any]) -> DiscoveredPerson:
            uid = req_str(raw, "id")
            profile = raw["profile"]
            user = f"/api/v1/users/{self.path_id(uid, op)}"
            factors = self.request("GET", f"{user}/factors", operation="list factors")
            fl = split_page(self.json_body(factors, "list factors"), None, "list factors", self)
            roles = self.request("GET", f"{user}/roles", operation="list roles")
            rl = split_page(self.json_body(roles, "list roles"), None, "list roles", self)
            name = f"{profile.get('firstName', '')} {profile.get('lastName', '')}".strip()
            return DiscoveredPerson(
                vendor=self.vendor,
                external_id=uid,
                login=req_str(profile, "login"),
                email=profile.get("email"),
                name=name,
                active=raw.get("status")
                in {"ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY"},
                is_admin=any(r.get("type") in ADMIN_ROLES for r in rl),
                mfa_enabled=any(f.get("status") == "ACTIVE" for f in fl),
                last_login=parse_time(raw.get("lastLogin")),
            )

        return self.collect(op, self._pages("/api/v1/users", op), parse)

    @once_per_snapshot
    def apps(self) -> PullResult[DiscoveredApp]:
        op = "list apps"

        def parse(raw: dict[str, Any]) -> DiscoveredApp:
            oauth = (raw.get("credentials") or {}).get("oauthClient") or {}
            return DiscoveredApp(
                vendor=self.vendor,
                external_id=req_str(raw, "id"),
                name=str(raw.get("label") or raw["name"]),
                client_id=oauth.get("client_id"),
                enabled=raw.get("status") == "ACTIVE",
                installed_at=parse_time(raw.get("created")),
            )

        return self.collect(op, self._pages("/api/v1/apps", op), parse)

    def grants(self) -> PullResult[DiscoveredGrant]:
        """Consent grants per user (``/users/{id}/grants``), one Okta grant per scope."""
        people = self.pulled_in_this_snapshot("people")
        if people is not None:  # the snapshot listed the users a moment ago: their ids
            users = PullResult(
                items=[p.external_id for p in people.items], error=people.error, pages=0
            )
        else:
            users = self.collect(
                "list users",
                self._pages("/api/v1/users", "list users"),
                self._user_id,
            )
        apps = self.apps()
        names = {a.client_id: a.name for a in apps.items if a.client_id}
        result: PullResult[DiscoveredGrant] = PullResult(error=users.error or apps.error)
        op = "list user grants"
        for uid in users.items:
            part = self.collect(
                op,
                self._pages(f"/api/v1/users/{self.path_id(uid, op)}/grants", op),
                self._grant_parser(uid, names),
            )
            result.items.extend(part.items)
            result.pages += part.pages
            if part.error is not None:
                result.error = part.error
                break
        return result

    def _user_id(self, raw: dict[str, Any]) -> str:
        """A user's id, checked while the users are pulled: an id that cannot be a URL path
        segment ends that pull as an error instead of escaping from the per-user loop."""
        uid = req_str(raw, "id")
        self.path_id(uid, "list users")
        return uid

    def _grant_parser(
        self, uid: str, names: dict[str, str]
    ) -> Callable[[dict[str, Any]], DiscoveredGrant]:
        def parse(raw: dict[str, Any]) -> DiscoveredGrant:
            client = req_str(raw, "clientId")
            return DiscoveredGrant(
                vendor=self.vendor,
                external_id=req_str(raw, "id"),
                app_name=names.get(client, client),
                client_id=client,
                principal=str(raw.get("userId") or uid),
                scopes=(req_str(raw, "scopeId"),),
                created_at=parse_time(raw.get("created")),
                handle={"userId": uid, "grantId": req_str(raw, "id")},
            )

        return parse

    def audit_log(
        self, on_page: AuditCallback, *, since: datetime | None = None, max_pages: int | None = None
    ) -> AuditPullReport:
        op = "system log"
        params = {"since": since.isoformat().replace("+00:00", "Z")} if since else {}
        return self.run_audit(
            op, self._pages_with_next("/api/v1/logs", op, params), on_page, max_pages
        )

    def revoke_grant(self, grant: DiscoveredGrant) -> ActionResult:
        uid, gid = grant.handle.get("userId", grant.principal or ""), grant.external_id
        op = "revoke grant"
        path = f"/api/v1/users/{self.path_id(uid, op)}/grants/{self.path_id(gid, op)}"
        self.request("DELETE", path, operation=op)
        return ActionResult(self.vendor, "revoke_grant", gid, True, f"revoked for user {uid}")

    def suspend_app(self, app: DiscoveredApp) -> ActionResult:
        self.request(
            "POST",
            f"/api/v1/apps/{self.path_id(app.external_id, 'deactivate app')}/lifecycle/deactivate",
            operation="deactivate app",
        )
        return ActionResult(self.vendor, "suspend_app", app.external_id, True, "app deactivated")

    def deactivate_person(self, person: DiscoveredPerson) -> ActionResult:
        self.request(
            "POST",
            f"/api/v1/users/{self.path_id(person.external_id, 'deactivate user')}"
            "/lifecycle/deactivate",
            operation="deactivate user",
        )
        return ActionResult(
            self.vendor, "deactivate_person", person.external_id, True, "user deactivated"
        )

    def client_app(self, client_id: str) -> str:
        apps = self.apps()
        if apps.error is not None:
            raise apps.error
        for app in apps.items:
            # The OAuth client id only (for OIDC apps Okta makes it the app id too): matching
            # the app id as well would let one app's client id name another app.
            if app.client_id == client_id:
                return app.external_id
        raise self.error(f"no Okta app has the client id {client_id!r}", "find app")

    def add_client_secret(self, client_id: str) -> NewClientSecret:
        """Okta keeps at most two client secrets per app: inactive ones are deleted first (an
        incident's old secret must go anyway), then a new one is generated."""
        aid = self.client_app(client_id)
        op = "generate client secret"
        base = f"/api/v1/apps/{self.path_id(aid, op)}/credentials/secrets"
        for old in self._client_secrets(aid):
            if old.get("status") == "INACTIVE":
                sid = self.path_id(old.get("id", ""), "delete client secret")
                self.request("DELETE", f"{base}/{sid}", operation="delete client secret")
        try:
            resp = self.request("POST", base, json={}, operation=op, idempotent=False)
        except ConnectorError as exc:
            if exc.http_status == 400:
                detail = exc.message.split(": ", 1)[-1]
                raise self.error(
                    f"{detail} — Okta keeps at most two secrets per app and {aid} has two "
                    "active ones (one may be left from an earlier, failed rotation): deactivate "
                    "the one not in use, then run the step again",
                    op,
                    400,
                ) from None
            raise
        body = self.json_body(resp, op)
        secret = body.get("client_secret") if isinstance(body, dict) else None
        if not isinstance(secret, str) or not secret or not isinstance(body.get("id"), str):
            raise self.error("malformed response: no client_secret and id", op)
        return NewClientSecret(self.vendor, aid, body["id"], SecretStr(secret))

    def retire_client_secrets(self, app_id: str, keep: str, retired: list[str]) -> None:
        """Deactivate, then delete, every secret of the app but ``keep`` (Okta refuses to
        delete an active one)."""
        op = "delete client secret"
        base = f"/api/v1/apps/{self.path_id(app_id, op)}/credentials/secrets"
        for old in self._client_secrets(app_id):
            sid = str(old.get("id"))
            if sid == keep:
                continue
            seg = self.path_id(sid, op)
            if old.get("status") == "ACTIVE":
                self.request(
                    "POST", f"{base}/{seg}/lifecycle/deactivate", operation="deactivate secret"
                )
            self.request("DELETE", f"{base}/{seg}", operation=op)
            retired.append(sid)

    def _client_secrets(self, app_id: str) -> list[dict[str, Any]]:
        op = "list client secrets"
        body = self.json_body(
            self.request(
                "GET", f"/api/v1/apps/{self.path_id(app_id, op)}/credentials/secrets", operation=op
            ),
            op,
        )
        if not isinstance(body, list) or not all(isinstance(x, dict) for x in body):
            raise self.error("malformed response: expected a list of secrets", op)
        return body


__all__ = ["OktaConnector"]

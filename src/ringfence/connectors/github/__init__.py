"""GitHub connector: org members (2FA state, admins), app installations, SAML credential
authorizations (PATs/SSH keys with scopes) and the org audit log.

GitHub pages with ``Link`` headers; it signals rate limits by 403/429 with
``X-RateLimit-Remaining: 0`` + ``X-RateLimit-Reset`` (epoch seconds) or, for secondary limits,
``Retry-After``. Suspending an installation needs a GitHub App JWT (option
``action_credential_ref``); the read token never needs write scopes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from ringfence.connectors._base import (
    AuditCallback,
    Connector,
    Page,
    epoch_delay,
    parse_retry_after,
    parse_time,
    req_str,
    split_page,
)
from ringfence.connectors._model import (
    ActionResult,
    AuditPullReport,
    DiscoveredApp,
    DiscoveredGrant,
    DiscoveredPerson,
    PullResult,
)
from ringfence.core.errors import ValidationError


class GitHubConnector(Connector):
    vendor = "github"
    known_options = frozenset({"org", "action_credential_ref"})

    def _make_client(self, base_url: str, token: str) -> httpx.Client:
        client = super()._make_client(base_url, token)
        client.headers["Accept"] = "application/vnd.github+json"
        client.headers["X-GitHub-Api-Version"] = "2022-11-28"
        return client

    @property
    def org(self) -> str:
        return self.config.option("org")

    @property
    def _org(self) -> str:
        """``/orgs/{org}``, the org escaped as a path segment (a configuration error if the
        option could not be one organisation name)."""
        org = self.org
        if org in {".", ".."} or "/" in org or "\\" in org:
            raise ValidationError(f"github: connector option 'org' {org!r} is not an org name")
        return f"/orgs/{quote(org, safe='')}"

    def rate_limit_delay(self, response: httpx.Response) -> float | None:
        if response.status_code not in (403, 429):
            return None
        now = self.clock.now()
        retry = parse_retry_after(response.headers.get("Retry-After"), now)
        if retry is not None:
            return retry
        if response.headers.get("X-RateLimit-Remaining") == "0":
            reset = epoch_delay(response.headers.get("X-RateLimit-Reset"), now)
            return reset if reset is not None else -1.0
        return -1.0 if response.status_code == 429 else None

    def quota_exhausted_delay(self, response: httpx.Response) -> float | None:
        if response.headers.get("X-RateLimit-Remaining") == "0":
            return epoch_delay(response.headers.get("X-RateLimit-Reset"), self.clock.now())
        return None

    def _pages(
        self,
        path: str,
        operation: str,
        key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Iterator[tuple[Page, str | None]]:
        url: str | None = path
        query: dict[str, Any] | None = {
            "per_page": min(self.config.page_size, 100),
            **(params or {}),
        }
        seen: set[str] = set()
        while url:
            resp = self.request("GET", url, operation=operation, params=query)
            body = self.json_body(resp, operation)
            if key is None and not isinstance(body, list):
                raise self.error("malformed response: expected a JSON array", operation)
            page = split_page(body, key, operation, self)
            nxt = self.next_link(resp)
            query = None
            yield page, nxt
            url = self.advance(seen, nxt, operation)

    def _logins(self, operation: str, params: dict[str, Any]) -> PullResult[str]:
        pages = (p for p, _ in self._pages(f"{self._org}/members", operation, params=params))
        return self.collect(operation, pages, lambda raw: req_str(raw, "login"))

    def people(self) -> PullResult[DiscoveredPerson]:
        op = "list members"
        no_2fa = self._logins("list members without 2FA", {"filter": "2fa_disabled"})
        admins = self._logins("list admins", {"role": "admin"})
        lacking = set(no_2fa.items)
        admin_set = set(admins.items)

        def parse(raw: dict[str, Any]) -> DiscoveredPerson:
            login = req_str(raw, "login")
            return DiscoveredPerson(
                vendor=self.vendor,
                external_id=req_str(raw, "id"),
                login=login,
                email=raw.get("email"),
                name=str(raw.get("name") or login),
                is_admin=login in admin_set,
                # filter=2fa_disabled only answers for org owners; unknown if it failed.
                mfa_enabled=None if no_2fa.error else login not in lacking,
            )

        result = self.collect(op, (p for p, _ in self._pages(f"{self._org}/members", op)), parse)
        result.error = result.error or admins.error
        return result

    def apps(self) -> PullResult[DiscoveredApp]:
        op = "list installations"

        def parse(raw: dict[str, Any]) -> DiscoveredApp:
            perms = raw.get("permissions") or {}
            if not isinstance(perms, dict):
                raise ValueError("permissions must be an object")
            return DiscoveredApp(
                vendor=self.vendor,
                external_id=req_str(raw, "id"),
                name=str(raw.get("app_slug") or raw["app_id"]),
                client_id=str(raw.get("client_id") or raw["app_id"]),
                scopes=tuple(sorted(f"{k}:{v}" for k, v in perms.items())),
                enabled=raw.get("suspended_at") is None,
                installed_at=parse_time(raw.get("created_at")),
            )

        pages = (p for p, _ in self._pages(f"{self._org}/installations", op, key="installations"))
        return self.collect(op, pages, parse)

    def grants(self) -> PullResult[DiscoveredGrant]:
        op = "list credential authorizations"

        def parse(raw: dict[str, Any]) -> DiscoveredGrant:
            scopes = raw.get("scopes") or []
            if not isinstance(scopes, list):
                raise ValueError("scopes must be a list")
            cred_id = req_str(raw, "credential_id")
            return DiscoveredGrant(
                vendor=self.vendor,
                external_id=cred_id,
                app_name=str(raw.get("oauth_app_name") or raw.get("credential_type") or "token"),
                client_id=None,
                principal=req_str(raw, "login"),
                scopes=tuple(str(s) for s in scopes),
                created_at=parse_time(raw.get("credential_authorized_at")),
                last_used_at=parse_time(raw.get("credential_accessed_at")),
                expires_at=parse_time(raw.get("authorized_credential_expires_at")),
                handle={"credential_type": str(raw.get("credential_type", ""))},
            )

        pages = (p for p, _ in self._pages(f"{self._org}/credential-authorizations", op))
        return self.collect(op, pages, parse)

    def audit_log(
        self, on_page: AuditCallback, *, since: datetime | None = None, max_pages: int | None = None
    ) -> AuditPullReport:
        op = "audit log"
        params: dict[str, Any] = {"include": "all", "order": "asc"}
        if since is not None:
            params["phrase"] = f"created:>={since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        return self.run_audit(
            op, self._pages(f"{self._org}/audit-log", op, params=params), on_page, max_pages
        )

    def revoke_grant(self, grant: DiscoveredGrant) -> ActionResult:
        op = "remove credential authorization"
        path = f"{self._org}/credential-authorizations/{self.path_id(grant.external_id, op)}"
        self.request("DELETE", path, operation=op)
        return ActionResult(
            self.vendor, "revoke_grant", grant.external_id, True, "credential authorization removed"
        )

    def suspend_app(self, app: DiscoveredApp) -> ActionResult:
        ref = self.config.options.get("action_credential_ref")
        client = self._client_for(self.config.base_url, ref) if ref else None
        self.request(
            "PUT",
            f"/app/installations/{self.path_id(app.external_id, 'suspend installation')}/suspended",
            operation="suspend installation",
            client=client,
        )
        return ActionResult(
            self.vendor, "suspend_app", app.external_id, True, "installation suspended"
        )

    def deactivate_person(self, person: DiscoveredPerson) -> ActionResult:
        self.request(
            "DELETE",
            f"{self._org}/memberships/{self.path_id(person.login, 'remove org membership')}",
            operation="remove org membership",
        )
        return ActionResult(
            self.vendor, "deactivate_person", person.login, True, "removed from organisation"
        )


__all__ = ["GitHubConnector"]

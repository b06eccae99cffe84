"""Slack connector: members (2FA, admins), approved apps (Enterprise Grid), app/scope grants
reconstructed from ``team.integrationLogs``, and the Audit Logs API.

Slack reports most errors as HTTP 200 ``{"ok": false, "error": ...}``; throttling is 429 +
``Retry-After``. Web API methods page with ``response_metadata.next_cursor`` (integration logs
with ``paging.page/pages``). The Audit Logs and SCIM APIs live on another host
(``audit_base_url``, ``scim_base_url`` options). Tokens are never logged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx

from ringfence.connectors._base import (
    AuditCallback,
    Connector,
    Page,
    once_per_snapshot,
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

_GRANTING = {"added", "enabled", "expanded", "updated"}
_REVOKING = {"removed", "disabled"}


class SlackConnector(Connector):
    vendor = "slack"
    known_options = frozenset({"audit_base_url", "scim_base_url", "team_id"})

    def check_body(self, body: Any, operation: str) -> None:
        if isinstance(body, dict) and body.get("ok") is False:
            raise self.error(f"Slack error {body.get('error', 'unknown')!r}", operation, 200)

    def _cursor_pages(
        self,
        method: str,
        operation: str,
        key: str,
        client: httpx.Client | None = None,
        path: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Iterator[tuple[Page, str | None]]:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            query: dict[str, Any] = {"limit": self.config.page_size, **(params or {})}
            if cursor:
                query["cursor"] = cursor
            resp = self.request(
                "GET", path or f"/{method}", operation=operation, params=query, client=client
            )
            body = self.json_body(resp, operation)
            page = split_page(body, key, operation, self)
            meta = body.get("response_metadata") or {}
            nxt = meta.get("next_cursor") if isinstance(meta, dict) else None
            if nxt is not None and not isinstance(nxt, str):
                raise self.error("malformed response: next_cursor is not a string", operation)
            yield page, nxt or None
            if not nxt:
                return
            cursor = self.advance(seen, nxt, operation)

    def people(self) -> PullResult[DiscoveredPerson]:
        op = "users.list"

        def parse(raw: dict[str, Any]) -> DiscoveredPerson:
            profile = raw.get("profile") or {}
            return DiscoveredPerson(
                vendor=self.vendor,
                external_id=req_str(raw, "id"),
                login=req_str(raw, "name"),
                email=profile.get("email"),
                name=str(profile.get("real_name") or raw.get("real_name") or ""),
                active=not bool(raw.get("deleted", False)),
                is_admin=bool(raw.get("is_admin") or raw.get("is_owner")),
                mfa_enabled=bool(raw["has_2fa"]) if "has_2fa" in raw else None,
            )

        pages = (p for p, _ in self._cursor_pages("users.list", op, "members"))
        result = self.collect(op, pages, parse)
        result.items = [p for p in result.items if p.login != "slackbot"]
        return result

    def _approved(self) -> PullResult[DiscoveredApp]:
        op = "admin.apps.approved.list"

        def parse(raw: dict[str, Any]) -> DiscoveredApp:
            app = raw["app"]
            scopes = raw.get("scopes") or []
            return DiscoveredApp(
                vendor=self.vendor,
                external_id=req_str(app, "id"),
                name=req_str(app, "name"),
                client_id=req_str(app, "id"),
                scopes=tuple(sorted(req_str(s, "name") for s in scopes)),
                verified=bool(app.get("is_app_directory_approved")),
                installed_at=parse_time(raw.get("date_updated")),
            )

        return self.collect(op, (p for p, _ in self._cursor_pages(op, op, "approved_apps")), parse)

    def _log_pages(self) -> Iterator[Page]:
        """Pages 1..N of ``team.integrationLogs``, N never above what the first page said: a
        server whose ``paging.pages`` keeps growing, or that answers an empty page, cannot keep
        the pull going, and ``max_pages`` bounds it like every other listing."""
        op = "team.integrationLogs"
        page, last = 1, None
        seen: set[str] = set()
        while True:
            resp = self.request(
                "GET",
                "/team.integrationLogs",
                operation=op,
                params={"count": self.config.page_size, "page": page},
            )
            body = self.json_body(resp, op)
            logs = split_page(body, "logs", op, self)
            paging = body.get("paging")
            pages = paging.get("pages") if isinstance(paging, dict) else None
            if not isinstance(pages, int) or isinstance(pages, bool):
                raise self.error("malformed response: paging.pages missing", op)
            last = pages if last is None else min(last, pages)
            yield logs
            if not logs or page >= last:
                return
            self.advance(seen, str(page + 1), op)  # max_pages, as for every listing
            page += 1

    @once_per_snapshot
    def grants(self) -> PullResult[DiscoveredGrant]:
        """Replay integration logs: each (app, user) keeps the scopes still granted."""
        op = "team.integrationLogs"
        entries = self.collect(op, self._log_pages(), _LogEntry.parse)
        state: dict[tuple[str, str], _LogEntry] = {}
        scopes: dict[tuple[str, str], set[str]] = {}
        for e in sorted(entries.items, key=lambda e: e.date):
            key = (e.app_id, e.user_id)
            if e.change_type in _REVOKING:
                state.pop(key, None)
                scopes.pop(key, None)
            elif e.change_type in _GRANTING:
                current = scopes.setdefault(key, set())
                if e.change_type in {"added", "updated"} and key not in state:
                    current.clear()
                current.update(e.scopes)
                state[key] = e
        grants = [
            DiscoveredGrant(
                vendor=self.vendor,
                external_id=f"{app}/{user}",
                app_name=e.app_name,
                client_id=app,
                principal=user,
                scopes=tuple(sorted(scopes[(app, user)])),
                created_at=e.date,
                handle={"app_id": app},
            )
            for (app, user), e in sorted(state.items())
        ]
        return PullResult(items=grants, error=entries.error, pages=entries.pages)

    def apps(self) -> PullResult[DiscoveredApp]:
        approved = self._approved()
        grants = self.grants()
        known = {a.external_id for a in approved.items}
        extra: dict[str, set[str]] = {}
        names: dict[str, str] = {}
        for g in grants.items:
            if g.client_id and g.client_id not in known:
                extra.setdefault(g.client_id, set()).update(g.scopes)
                names[g.client_id] = g.app_name
        items = list(approved.items) + [
            DiscoveredApp(
                vendor=self.vendor,
                external_id=cid,
                name=names[cid],
                client_id=cid,
                scopes=tuple(sorted(sc)),
                verified=None,
            )
            for cid, sc in sorted(extra.items())
        ]
        return PullResult(
            items=items, error=approved.error or grants.error, pages=approved.pages + grants.pages
        )

    def audit_log(
        self, on_page: AuditCallback, *, since: datetime | None = None, max_pages: int | None = None
    ) -> AuditPullReport:
        op = "audit logs"
        base = self.config.options.get("audit_base_url") or "https://api.slack.com/audit/v1"
        client = self._client_for(base)
        params = {"oldest": int(since.timestamp())} if since else {}
        pages = self._cursor_pages(
            "logs", op, "entries", client=client, path="/logs", params=params
        )
        return self.run_audit(op, pages, on_page, max_pages)

    def _post(self, method: str, data: dict[str, Any]) -> None:
        resp = self.request("POST", f"/{method}", operation=method, data=data)
        self.json_body(resp, method)

    def revoke_grant(self, grant: DiscoveredGrant) -> ActionResult:
        app_id = grant.handle.get("app_id") or grant.client_id or ""
        data: dict[str, Any] = {"app_id": app_id}
        if "team_id" in self.config.options:
            data["team_ids"] = self.config.options["team_id"]
        self._post("admin.apps.uninstall", data)
        return ActionResult(
            self.vendor, "revoke_grant", grant.external_id, True, f"app {app_id} uninstalled"
        )

    def suspend_app(self, app: DiscoveredApp) -> ActionResult:
        data: dict[str, Any] = {"app_id": app.external_id}
        if "team_id" in self.config.options:
            data["team_id"] = self.config.options["team_id"]
        self._post("admin.apps.restrict", data)
        return ActionResult(self.vendor, "suspend_app", app.external_id, True, "app restricted")

    def deactivate_person(self, person: DiscoveredPerson) -> ActionResult:
        base = self.config.options.get("scim_base_url") or "https://api.slack.com/scim/v2"
        client = self._client_for(base)
        self.request(
            "DELETE",
            f"/Users/{self.path_id(person.external_id, 'SCIM deactivate user')}",
            operation="SCIM deactivate user",
            client=client,
        )
        return ActionResult(
            self.vendor, "deactivate_person", person.external_id, True, "user deactivated (SCIM)"
        )


class _LogEntry:
    __slots__ = ("app_id", "app_name", "change_type", "date", "scopes", "user_id")

    def __init__(
        self,
        app_id: str,
        app_name: str,
        user_id: str,
        change_type: str,
        date: datetime,
        scopes: tuple[str, ...],
    ) -> None:
        self.app_id = app_id
        self.app_name = app_name
        self.user_id = user_id
        self.change_type = change_type
        self.date = date
        self.scopes = scopes

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> _LogEntry:
        app_id = raw.get("app_id") or raw.get("service_id")
        if app_id is None:
            raise ValueError("integration log entry has neither app_id nor service_id")
        date = parse_time(raw["date"])
        if date is None:
            raise ValueError("integration log entry has no date")
        scope = raw.get("scope") or ""
        if not isinstance(scope, str):
            raise ValueError("scope must be a comma-separated string")
        return cls(
            app_id=str(app_id),
            app_name=str(raw.get("app_type") or raw.get("service_type") or app_id),
            user_id=req_str(raw, "user_id"),
            change_type=req_str(raw, "change_type"),
            date=date,
            scopes=tuple(s.strip() for s in scope.split(",") if s.strip()),
        )


__all__ = ["SlackConnector"]

"""Google Workspace connector: Directory users (2SV state, admins), per-user OAuth tokens
(``tokens.list``) and Reports API activity.

Google pages with ``nextPageToken`` / ``pageToken``; it signals quota with 429 (or 403 with
reason ``rateLimitExceeded`` / ``userRateLimitExceeded``) and usually no ``Retry-After``, so we
back off exponentially. The credential is an OAuth access token of a service account with
domain-wide delegation (minted outside Ringfence); it is never logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ringfence.connectors._base import (
    AuditCallback,
    AuditStream,
    Connector,
    Page,
    load_json,
    once_per_snapshot,
    parse_retry_after,
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
    PullResult,
)
from ringfence.core.errors import ValidationError
from ringfence.core.suggest import closest

_DIR = "/admin/directory/v1"
# Reports API applications pulled by default: OAuth token grants, the Admin console (roles,
# 2-step verification, user changes) and sign-ins — what the bundled rules and UEBA read.
DEFAULT_AUDIT_APPLICATIONS = ("token", "admin", "login")
# applicationName values of activities.list known here. Google adds applications over time,
# so another well-formed name is passed through; one a letter or two away from a known name
# is taken for a typo and refused (``logins``, ``admins``).
REPORTS_APPLICATIONS = frozenset(
    {
        "access_evaluation",
        "access_transparency",
        "admin",
        "admin_data_action",
        "assignments",
        "calendar",
        "chat",
        "chrome",
        "classroom",
        "context_aware_access",
        "currents",
        "data_studio",
        "drive",
        "gcp",
        "gmail",
        "gplus",
        "groups",
        "groups_enterprise",
        "jamboard",
        "keep",
        "login",
        "meet",
        "mobile",
        "rules",
        "saml",
        "token",
        "user_accounts",
        "vault",
    }
)
_APPLICATION_NAME = re.compile(r"^[a-z][a-z_]{1,49}$")
_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
# Reports API activity arrives late — Google documents lags from minutes to hours, more for
# some applications — so a resumed pull re-reads this far before its checkpoint (option
# audit_overlap_minutes) and skips the events it has already read (id.uniqueQualifier + time).
DEFAULT_AUDIT_OVERLAP_MINUTES = 360
REPORTS_RETENTION = timedelta(days=180)  # the longest period any activity report covers
MAX_AUDIT_OVERLAP_MINUTES = 7 * 24 * 60


def _overlap_minutes(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_AUDIT_OVERLAP_MINUTES
    value = raw.strip()
    if not value.isdigit() or int(value) > MAX_AUDIT_OVERLAP_MINUTES:
        raise ValidationError(
            f"option audit_overlap_minutes must be a whole number of minutes from 0 to "
            f"{MAX_AUDIT_OVERLAP_MINUTES} (default {DEFAULT_AUDIT_OVERLAP_MINUTES})"
        )
    return int(value)


def _event_key(record: dict[str, Any]) -> tuple[str, datetime] | None:
    """``uniqueQualifier@time`` of an activity and its time; None when it has no usable id
    (such a record is passed on, for monitoring to accept or dead-letter)."""
    ident = record.get("id")
    if not isinstance(ident, dict):
        return None
    qualifier, when = ident.get("uniqueQualifier"), ident.get("time")
    if not isinstance(qualifier, str | int) or not isinstance(when, str):
        return None
    try:
        at = parse_time(when)
    except ValueError:
        return None
    return (f"{qualifier}@{when}", at) if at is not None else None


def _applications(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_AUDIT_APPLICATIONS
    apps = tuple(dict.fromkeys(a.strip() for a in raw.split(",") if a.strip()))
    if not apps:
        raise ValidationError("option audit_applications: no application given")
    for app in apps:
        if app in REPORTS_APPLICATIONS:
            continue
        # Stricter than the shared 0.6: a real but unlisted application name (Google adds
        # them) must not be refused as a typo of a listed one.
        near = closest(app, REPORTS_APPLICATIONS, cutoff=0.8)
        if near is not None or not _APPLICATION_NAME.match(app):
            hint = f" (did you mean {near!r}?)" if near is not None else ""
            raise ValidationError(
                f"option audit_applications: unknown application {app[:60]!r}{hint}; "
                f"Reports API applications include: {', '.join(sorted(REPORTS_APPLICATIONS))}"
            )
    return apps


class GoogleWorkspaceConnector(Connector):
    vendor = "google_workspace"
    known_options = frozenset({"customer", "audit_applications", "audit_overlap_minutes"})

    @property
    def customer(self) -> str:
        return self.config.options.get("customer") or "my_customer"

    def rate_limit_delay(self, response: httpx.Response) -> float | None:
        limited = response.status_code == 429
        if response.status_code == 403:
            try:
                errors = load_json(response).get("error", {}).get("errors", [])
                limited = any(e.get("reason") in _RATE_REASONS for e in errors)
            except (ValueError, AttributeError, TypeError):  # not Google's error shape
                limited = False
        if not limited:
            return None
        retry = parse_retry_after(response.headers.get("Retry-After"), self.clock.now())
        return retry if retry is not None else -1.0

    def _pages(
        self, path: str, operation: str, key: str, params: dict[str, Any] | None = None
    ) -> Iterator[tuple[Page, str | None]]:
        token: str | None = None
        seen: set[str] = set()
        while True:
            query: dict[str, Any] = {"maxResults": self.config.page_size, **(params or {})}
            if token:
                query["pageToken"] = token
            resp = self.request("GET", path, operation=operation, params=query)
            body = self.json_body(resp, operation)
            if not isinstance(body, dict) or "kind" not in body:
                raise self.error("malformed response: expected an object with 'kind'", operation)
            page = split_page(body, key, operation, self, may_omit=True)
            nxt = body.get("nextPageToken")
            if nxt is not None and not isinstance(nxt, str):
                raise self.error("malformed response: nextPageToken is not a string", operation)
            yield page, nxt
            if not nxt:
                return
            token = self.advance(seen, nxt, operation)

    def _users(self) -> Iterator[Page]:
        op = "list users"
        for page, _ in self._pages(f"{_DIR}/users", op, "users", {"customer": self.customer}):
            yield page

    @once_per_snapshot
    def people(self) -> PullResult[DiscoveredPerson]:
        def parse(raw: dict[str, Any]) -> DiscoveredPerson:
            name = raw.get("name") or {}
            return DiscoveredPerson(
                vendor=self.vendor,
                external_id=req_str(raw, "id"),
                login=req_str(raw, "primaryEmail"),
                email=req_str(raw, "primaryEmail"),
                name=str(name.get("fullName", "")) if isinstance(name, dict) else "",
                active=not bool(raw.get("suspended", False)),
                is_admin=bool(raw.get("isAdmin", False)),
                mfa_enabled=bool(raw["isEnrolledIn2Sv"]) if "isEnrolledIn2Sv" in raw else None,
                last_login=parse_time(raw.get("lastLoginTime")),
            )

        return self.collect("list users", self._users(), parse)

    @once_per_snapshot
    def grants(self) -> PullResult[DiscoveredGrant]:
        people = self.pulled_in_this_snapshot("people")
        if people is not None:  # the snapshot listed the users a moment ago
            emails = [p.email for p in people.items if p.email]
            users = PullResult(items=emails, error=people.error, pages=0)
        else:
            users = self.collect("list users", self._users(), lambda r: req_str(r, "primaryEmail"))
        result: PullResult[DiscoveredGrant] = PullResult(error=users.error)
        op = "list tokens"
        for email in users.items:
            part = self.collect(op, self._tokens(email), self._token_parser(email))
            result.items.extend(part.items)
            result.pages += part.pages
            if part.error is not None:
                result.error = part.error
                break
        return result

    def _tokens(self, user_key: str) -> Iterator[Page]:
        op = "list tokens"
        resp = self.request(
            "GET", f"{_DIR}/users/{self.path_id(user_key, op)}/tokens", operation=op
        )
        body = self.json_body(resp, op)
        if not isinstance(body, dict) or "kind" not in body:
            raise self.error("malformed response: expected an object with 'kind'", op)
        yield split_page(body, "items", op, self, may_omit=True)

    def _token_parser(self, email: str) -> Any:
        def parse(raw: dict[str, Any]) -> DiscoveredGrant:
            scopes = raw.get("scopes") or []
            if not isinstance(scopes, list):
                raise ValueError("scopes must be a list")
            client_id = req_str(raw, "clientId")
            return DiscoveredGrant(
                vendor=self.vendor,
                external_id=f"{email}/{client_id}",
                app_name=str(raw.get("displayText") or client_id),
                client_id=client_id,
                principal=email,
                scopes=tuple(str(s) for s in scopes),
                handle={"userKey": email, "clientId": client_id},
            )

        return parse

    def apps(self) -> PullResult[DiscoveredApp]:
        """Google has no tenant-wide list of connected apps: derive them from user tokens."""
        grants = self.grants()
        by_client: dict[str, DiscoveredApp] = {}
        for g in grants.items:
            cid = g.client_id or g.app_name
            prev = by_client.get(cid)
            scopes = tuple(sorted(set(g.scopes) | set(prev.scopes if prev else ())))
            by_client[cid] = DiscoveredApp(
                vendor=self.vendor, external_id=cid, name=g.app_name, client_id=cid, scopes=scopes
            )
        return PullResult(items=list(by_client.values()), error=grants.error, pages=grants.pages)

    @property
    def audit_applications(self) -> tuple[str, ...]:
        """Reports API applications to pull (option ``audit_applications``, comma-separated)."""
        return _applications(self.config.options.get("audit_applications"))

    @property
    def audit_overlap(self) -> timedelta:
        return timedelta(minutes=_overlap_minutes(self.config.options.get("audit_overlap_minutes")))

    @classmethod
    def check_options(cls, options: Mapping[str, str]) -> None:
        _applications(options.get("audit_applications"))
        _overlap_minutes(options.get("audit_overlap_minutes"))

    def audit_streams(self) -> tuple[AuditStream, ...]:
        return tuple(AuditStream(app, "google_workspace") for app in self.audit_applications)

    def audit_stream(
        self,
        stream: str,
        on_page: AuditCallback,
        *,
        since: datetime | None = None,
        max_pages: int | None = None,
        checkpoint: AuditCheckpoint | None = None,
    ) -> AuditPullReport:
        if stream not in self.audit_applications:
            raise ValidationError(f"google_workspace: no audit stream {stream!r}")
        return self.audit_log(
            on_page, since=since, max_pages=max_pages, application=stream, checkpoint=checkpoint
        )

    def audit_log(
        self,
        on_page: AuditCallback,
        *,
        since: datetime | None = None,
        max_pages: int | None = None,
        application: str = "token",
        checkpoint: AuditCheckpoint | None = None,
    ) -> AuditPullReport:
        """``activities.list`` of one application for all users, newest first, paged with
        ``nextPageToken``, from ``startTime``: ``since`` when given, else the checkpoint less
        the overlap margin (``audit_overlap_minutes``), else from whatever Google keeps.

        Activity arrives late, so a resumed pull re-reads the overlap: an event read before
        (same ``id.uniqueQualifier`` and ``id.time``) is dropped from its page, one that
        arrived since is handed over. The checkpoint moves to the pull's start only when every
        page was read (Google lists newest first: a partial pull has not reached the oldest);
        the ids it read are kept either way."""
        op = f"activities {application}"
        now = self.clock.now()
        overlap = self.audit_overlap
        before = checkpoint or AuditCheckpoint()
        resumed = before.until.get("")
        start = since if since is not None else (resumed - overlap if resumed else None)
        params: dict[str, Any] = {}
        if start is not None:
            params["startTime"] = start.isoformat().replace("+00:00", "Z")
        path = f"/admin/reports/v1/activity/users/all/applications/{self.path_id(application, op)}"
        seen = dict(before.seen)
        counts = {"duplicates": 0, "complete": 0}

        def fresh_pages() -> Iterator[tuple[Page, str | None]]:
            for page, nxt in self._pages(path, op, "items", params):
                fresh: Page = []
                for record in page:
                    key = _event_key(record)
                    if key is not None and key[0] in seen:
                        counts["duplicates"] += 1
                        continue
                    if key is not None:
                        seen[key[0]] = key[1]
                    fresh.append(record)
                yield fresh, nxt
            counts["complete"] = 1

        report = self.run_audit(op, fresh_pages(), on_page, max_pages)
        if since is None and resumed is not None and resumed < now - REPORTS_RETENTION:
            report.gaps.append(
                f"checkpoint {resumed.isoformat()} is older than the 180 days Google keeps; "
                f"activity before {(now - REPORTS_RETENTION).isoformat()} is lost"
            )
        until = now if counts["complete"] and report.error is None else resumed
        after = AuditCheckpoint(until={"": until} if until else {}, seen=seen)
        # keep what the next pull re-reads (all of it, up to the cap, until one completes)
        after.prune(until - overlap if until is not None else datetime.min.replace(tzinfo=UTC))
        report.checkpoint = after
        report.duplicates = counts["duplicates"]
        return report

    def revoke_grant(self, grant: DiscoveredGrant) -> ActionResult:
        user = grant.handle.get("userKey") or grant.principal or ""
        client = grant.handle.get("clientId") or grant.client_id or ""
        op = "delete token"
        path = f"{_DIR}/users/{self.path_id(user, op)}/tokens/{self.path_id(client, op)}"
        self.request("DELETE", path, operation=op)
        return ActionResult(
            self.vendor,
            "revoke_grant",
            grant.external_id,
            True,
            f"tokens of {client} revoked for {user}",
        )

    def suspend_app(self, app: DiscoveredApp) -> ActionResult:
        """No per-app switch in the Directory API: revoke every user's token for the client."""
        grants = self.grants()
        mine = [g for g in grants.items if g.client_id == app.client_id]
        for g in mine:
            self.revoke_grant(g)
        if grants.error is not None:
            raise grants.error
        return ActionResult(
            self.vendor, "suspend_app", app.external_id, True, f"revoked {len(mine)} user token(s)"
        )

    def deactivate_person(self, person: DiscoveredPerson) -> ActionResult:
        self.request(
            "PUT",
            f"{_DIR}/users/{self.path_id(person.login, 'suspend user')}",
            json={"suspended": True},
            operation="suspend user",
        )
        return ActionResult(self.vendor, "deactivate_person", person.login, True, "user suspended")


__all__ = ["GoogleWorkspaceConnector"]

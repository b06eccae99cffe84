"""Loopback fake of the GitHub REST API for one organisation (members, installations,
credential authorizations, audit log, response actions).

Documented shapes: arrays (or ``{total_count, installations}``) paged by ``Link`` headers,
``X-RateLimit-*`` on every answer, primary rate limit as 403 with ``X-RateLimit-Remaining: 0``,
error bodies ``{message, documentation_url}``. Test/demo use only.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ringfence.demo.fakes._common import FakeVendor, int_param, page_slice
from ringfence.demo.fakes._seed import EPOCH_2026, PEOPLE

DOCS = "https://docs.github.com/rest"


def _ts(days: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH_2026 + days * 86400))


def _err(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"message": message, "documentation_url": DOCS}, status_code=status, headers=headers
    )


def login_of(key: str) -> str:
    return key.replace(".", "-")


class GitHubFake(FakeVendor):
    vendor = "github"

    def __init__(self, org: str = "northwind-analytics", token: str = "test-token") -> None:
        self.org = org
        self.members = [
            {
                "login": login_of(p.key),
                "id": 1000 + i,
                "type": "User",
                "site_admin": False,
                "_admin": p.admin,
                "_2fa": p.mfa,
            }
            for i, p in enumerate(PEOPLE)
            if p.active
        ]
        self.installations: list[dict[str, Any]] = [
            self._inst(
                11, 101, "circleci", {"contents": "read", "checks": "write"}, "Iv1.nwcircleci0001"
            ),
            self._inst(12, 102, "jira-cloud", {"issues": "read"}, "nw-jira-github-app"),
            self._inst(13, 103, "audit-export", {"members": "read"}, "Iv1.nwauditexport01"),
            # Undeclared, org-wide write/admin: risky shadow app.
            self._inst(
                14,
                104,
                "ai-code-reviewer",
                {
                    "contents": "write",
                    "administration": "write",
                    "members": "read",
                    "secrets": "read",
                },
            ),
        ]
        self.credentials: list[dict[str, Any]] = [
            {
                "login": login_of("amara.okafor"),
                "credential_id": 501,
                "credential_type": "personal access token",
                "token_last_eight": "a1b2c3d4",
                "scopes": ["repo", "read:org"],
                "credential_authorized_at": _ts(-60),
                "credential_accessed_at": _ts(-1),
                "authorized_credential_expires_at": _ts(30),
            },
            # Departed engineer's non-expiring admin token.
            {
                "login": login_of("alice.martin"),
                "credential_id": 502,
                "credential_type": "personal access token",
                "token_last_eight": "e5f6a7b8",
                "scopes": ["repo", "admin:org", "delete_repo"],
                "credential_authorized_at": _ts(-500),
                "credential_accessed_at": _ts(-150),
                "authorized_credential_expires_at": None,
            },
            {
                "login": login_of("mateo.garcia"),
                "credential_id": 503,
                "credential_type": "SSH key",
                "token_last_eight": "c9d0e1f2",
                "scopes": [],
                "credential_authorized_at": _ts(-30),
                "credential_accessed_at": _ts(-2),
                "authorized_credential_expires_at": None,
            },
        ]
        self.audit = [
            {
                "@timestamp": (EPOCH_2026 - 86400 + i * 60) * 1000,
                "_document_id": f"doc{i}",
                "action": action,
                "actor": login_of("jonas.weber"),
                "org": org,
                "created_at": (EPOCH_2026 - 86400 + i * 60) * 1000,
                "actor_location": {"country_code": "DE"},
            }
            for i, action in enumerate(
                (
                    "integration_installation.create",
                    "org.add_member",
                    "repo.create",
                    "org.update_member",
                    "personal_access_token.access_granted",
                )
            )
        ]
        super().__init__(token)

    def _inst(
        self, iid: int, app_id: int, slug: str, perms: dict[str, str], client_id: str = ""
    ) -> dict[str, Any]:
        return {
            "id": iid,
            "app_id": app_id,
            "app_slug": slug,
            "client_id": client_id or f"Iv1.{slug}",
            "target_type": "Organization",
            "repository_selection": "all",
            "permissions": perms,
            "events": ["push"],
            "created_at": _ts(-90),
            "suspended_at": None,
            "account": {"login": self.org},
        }

    def init_kwargs(self) -> dict[str, Any]:
        return {"token": self.token, "org": self.org}

    def unauthorized(self) -> Response:
        return _err("Bad credentials", 401)

    def rate_limited(self) -> Response:
        return _err(
            "API rate limit exceeded for installation.",
            403,
            {
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Used": "5000",
                "X-RateLimit-Reset": str(int(time.time()) + self.faults.retry_after),
            },
        )

    def server_error(self) -> Response:
        return _err("Server Error", 502)

    def routes(self) -> list[Any]:
        o = "/orgs/{org}"
        return [
            Route(f"{o}/members", self.list_members),
            Route(f"{o}/memberships/{{login}}", self.remove_member, methods=["DELETE"]),
            Route(f"{o}/installations", self.list_installations),
            Route(f"{o}/credential-authorizations", self.list_credentials),
            Route(
                f"{o}/credential-authorizations/{{cid:int}}",
                self.remove_credential,
                methods=["DELETE"],
            ),
            Route(f"{o}/audit-log", self.list_audit),
            Route("/app/installations/{iid:int}/suspended", self.suspend, methods=["PUT"]),
        ]

    def _paged(
        self, request: Request, route: str, items: list[Any], key: str | None = None
    ) -> Response:
        if request.path_params.get("org") != self.org:
            return _err("Not Found", 404)
        per_page = min(int_param(request, "per_page", 30), 100)
        page_no = max(1, int_param(request, "page", 1))
        chunk, nxt, page = page_slice(items, (page_no - 1) * per_page, per_page)
        failed = self.fault(route, page)
        if failed is not None:
            return failed
        headers = {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "4999",
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
        }
        if nxt is not None:
            q = {k: v for k, v in request.query_params.items() if k != "page"}
            extra = "".join(f"&{k}={v}" for k, v in q.items() if k != "per_page")
            base = str(request.url).split("?")[0]
            headers["Link"] = (
                f"<{base}?per_page={per_page}&page={page_no + 1}{extra}>; "
                f'rel="next", <{base}?per_page={per_page}&page=99>; rel="last"'
            )
        body: Any = chunk if key is None else {"total_count": len(items), key: chunk}
        return JSONResponse(body, headers=headers)

    async def list_members(self, request: Request) -> Response:
        items = self.members
        if request.query_params.get("filter") == "2fa_disabled":
            items = [m for m in items if not m["_2fa"]]
        if request.query_params.get("role") == "admin":
            items = [m for m in items if m["_admin"]]
        public = [{k: v for k, v in m.items() if not k.startswith("_")} for m in items]
        return self._paged(request, "members", public)

    async def list_installations(self, request: Request) -> Response:
        return self._paged(request, "installations", self.installations, key="installations")

    async def list_credentials(self, request: Request) -> Response:
        return self._paged(request, "credentials", self.credentials)

    async def list_audit(self, request: Request) -> Response:
        return self._paged(request, "audit", self.audit)

    async def remove_credential(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        if not any(c["credential_id"] == cid for c in self.credentials):
            return _err("Not Found", 404)
        self.credentials = [c for c in self.credentials if c["credential_id"] != cid]
        self.actions.append(("revoke_grant", str(cid)))
        return Response(status_code=204)

    async def suspend(self, request: Request) -> Response:
        inst = next((i for i in self.installations if i["id"] == request.path_params["iid"]), None)
        if inst is None:
            return _err("Not Found", 404)
        inst["suspended_at"] = _ts(0)
        self.actions.append(("suspend_app", str(inst["id"])))
        return Response(status_code=204)

    async def remove_member(self, request: Request) -> Response:
        login = request.path_params["login"]
        if not any(m["login"] == login for m in self.members):
            return _err("Not Found", 404)
        self.members = [m for m in self.members if m["login"] != login]
        self.actions.append(("deactivate_person", login))
        return Response(status_code=204)

"""API-management checks: plaintext transport, routes without schema or rate limit, traffic
around the gateway."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _plaintext(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") not in _LOOPBACK


@check(
    id="RF-API-001",
    title="App reached over plaintext HTTP",
    area="api",
    severity=Severity.HIGH,
    resource="app",
    rationale="Credentials and data sent over http:// can be read and altered in transit.",
    remediation="Use the app's https:// endpoint.",
)
def plaintext_app(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        bad = [u for u in a.base_urls if _plaintext(u)]
        if bad:
            yield fail("app", a.name, f"{a.name} has plaintext base URL(s) {', '.join(bad)}")


@check(
    id="RF-API-002",
    title="Gateway route with plaintext upstream",
    area="api",
    severity=Severity.HIGH,
    resource="route",
    requires=("routes",),
    rationale="The gateway injects credentials upstream; over http they leak.",
    remediation="Point the route at the https:// upstream.",
)
def plaintext_upstream(ctx: PostureContext) -> Iterator[Failure]:
    for r in ctx.routes or ():
        if _plaintext(r.upstream):
            yield fail("route", r.name, f"route {r.name} forwards to plaintext {r.upstream}")


@check(
    id="RF-API-003",
    title="Route without request schema",
    area="api",
    severity=Severity.MEDIUM,
    resource="route",
    requires=("routes",),
    rationale="Without a schema the gateway cannot reject mass-assignment and injection "
    "payloads (OWASP API3).",
    remediation="Add a JSON schema to each operation of the route.",
)
def route_without_schema(ctx: PostureContext) -> Iterator[Failure]:
    for r in ctx.routes or ():
        if r.operations_with_schema < r.operations:
            yield fail(
                "route",
                r.name,
                f"route {r.name}: {r.operations - r.operations_with_schema}"
                f" of {r.operations} operations have no schema",
            )


@check(
    id="RF-API-004",
    title="Route without rate limit",
    area="api",
    severity=Severity.MEDIUM,
    resource="route",
    requires=("routes",),
    rationale="Unlimited routes allow bulk exfiltration and resource exhaustion (OWASP API4).",
    remediation="Set rate_limit on the route.",
)
def route_without_rate_limit(ctx: PostureContext) -> Iterator[Failure]:
    for r in ctx.routes or ():
        if not r.rate_limit:
            yield fail("route", r.name, f"route {r.name} has no rate limit")


@check(
    id="RF-API-005",
    title="Integration calls a SaaS directly, around the gateway",
    area="api",
    severity=Severity.HIGH,
    resource="integration",
    requires=("usage",),
    rationale="Calls that bypass the gateway escape authorization, DLP and audit.",
    remediation="Revoke the integration's direct SaaS credential; broker it at the gateway.",
)
def direct_saas_call(ctx: PostureContext) -> Iterator[Failure]:
    usage = ctx.usage or {}
    for i in ctx.integrations:
        u = usage.get(i.name)
        if u is not None and u.direct_calls:
            hosts = ", ".join(f"{h} ({n})" for h, n in sorted(u.direct_calls.items()))
            yield fail("integration", i.name, f"{i.name} called {hosts} directly")


@check(
    id="RF-API-006",
    title="Integration not routed through the gateway",
    area="api",
    severity=Severity.LOW,
    resource="integration",
    requires=("routes",),
    rationale="Only routed integrations get least-privilege scopes, DLP and audit.",
    remediation="Add a gateway route for the integration's destination API.",
)
def not_routed(ctx: PostureContext) -> Iterator[Failure]:
    routed = ctx.routed_integrations
    for i in ctx.integrations:
        if i.status == "active" and i.name not in routed:
            yield fail("integration", i.name, f"{i.name} is not routed through the gateway")


@check(
    id="RF-API-007",
    title="Route allows loopback/plaintext upstreams",
    area="api",
    severity=Severity.MEDIUM,
    resource="route",
    requires=("routes",),
    rationale="allow_loopback is a test switch; in production it opens SSRF to internal services.",
    remediation="Remove allow_loopback from the route.",
)
def route_loopback(ctx: PostureContext) -> Iterator[Failure]:
    for r in ctx.routes or ():
        if r.allow_loopback:
            yield fail("route", r.name, f"route {r.name} allows loopback upstreams")


@check(
    id="RF-API-008",
    title="Route names an unknown integration",
    area="api",
    severity=Severity.MEDIUM,
    resource="route",
    requires=("routes",),
    rationale="A route for an integration missing from the inventory is an undeclared door.",
    remediation="Declare the integration or remove it from the route.",
)
def route_unknown_integration(ctx: PostureContext) -> Iterator[Failure]:
    known = ctx.integration_names
    for r in ctx.routes or ():
        unknown = [n for n in r.integrations if n not in known]
        if unknown:
            yield fail(
                "route",
                r.name,
                f"route {r.name} admits unknown integration(s) {', '.join(unknown)}",
            )

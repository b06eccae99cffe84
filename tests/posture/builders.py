"""A healthy posture context (every check passes) that tests then break one fact at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from ringfence.connectors import DiscoveredApp, DiscoveredGrant, DiscoveredPerson
from ringfence.core.levels import DataClass
from ringfence.posture import (
    AppFact,
    BackupFacts,
    ConsoleUserFact,
    CredentialFact,
    FlowFact,
    IntegrationFact,
    MonitoringFacts,
    ObservedUsage,
    PersonFact,
    PostureContext,
    ReadinessFacts,
    RouteFact,
    SaasFacts,
    UsageCount,
    VendorFact,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


OWNER = PersonFact("p1", "owner@corp.example", "Olive Owner")
LEAVER = PersonFact("p2", "leaver@corp.example", "Leo Leaver", active=False)
CRM = AppFact(
    "a1",
    "CRM",
    "Acme",
    "crm",
    ("https://crm.acme.example",),
    True,
    "p1",
    DataClass.CONFIDENTIAL,
    ("internal", "confidential"),
    (("internal", 365), ("confidential", 365)),
)
CHAT = AppFact(
    "a2",
    "Chat",
    "Acme",
    "chat",
    ("https://chat.acme.example",),
    True,
    "p1",
    DataClass.INTERNAL,
    ("internal",),
    (("internal", 365),),
)
IDP = AppFact(
    "a3",
    "Okta",
    "Okta",
    "identity_provider",
    ("https://corp.okta.com",),
    True,
    "p1",
    DataClass.CONFIDENTIAL,
    ("internal",),
    (("internal", 365),),
)
INTEGRATION = IntegrationFact(
    "i1",
    "crm-chat",
    "app_to_app",
    "a2",
    "a1",
    "p1",
    "cid-1",
    "active",
    ("chat:write",),
    ("internal",),
    ago(10),
)
CREDENTIAL = CredentialFact(
    "c1",
    "crm-chat-key",
    "api_key",
    "vault:crm-chat-key",
    "i1",
    ago(10),
    ago(5),
    NOW + timedelta(days=60),
    ago(1),
    90,
)
FLOW = FlowFact("f1", "crm-to-chat", "a1", "a2", ("internal",), "declared", "i1")
ROUTE = RouteFact(
    "chat", "Chat", "https://chat.acme.example/api", ("crm-chat",), 1, 1, "600/minute"
)


def healthy() -> PostureContext:
    return PostureContext(
        now=NOW,
        people=[OWNER, LEAVER],
        apps=[CRM, CHAT, IDP],
        integrations=[INTEGRATION],
        credentials=[CREDENTIAL],
        flows=[FLOW],
        routes=[ROUTE],
        usage={
            "crm-chat": ObservedUsage(
                "crm-chat",
                {"chat:write": UsageCount(10, ago(1))},
                {"chat": UsageCount(10, ago(1))},
                ago(1),
            )
        },
        saas=SaasFacts(
            people=[
                DiscoveredPerson(
                    "okta",
                    "u1",
                    "owner@corp.example",
                    "owner@corp.example",
                    "Olive",
                    True,
                    True,
                    True,
                    ago(1),
                )
            ],
            apps=[
                DiscoveredApp("okta", "o1", "CRM"),
                DiscoveredApp("okta", "o2", "Chat"),
                DiscoveredApp(
                    "slack", "A1", "CRM Connector", "cid-1", ("chat:write",), verified=True
                ),
            ],
            grants=[
                DiscoveredGrant(
                    "slack",
                    "A1/u1",
                    "CRM Connector",
                    "cid-1",
                    "owner@corp.example",
                    ("chat:write",),
                    last_used_at=ago(1),
                )
            ],
            vendors_pulled=frozenset({"okta", "slack"}),
        ),
        vendors=[
            VendorFact("v1", "Acme", ago(30), (("soc2_type2", date(2027, 1, 1)),), True, 0, 1),
            VendorFact("v2", "Okta", ago(30), (("iso27001", date(2027, 1, 1)),), True, 0, 1),
        ],
        readiness=ReadinessFacts(frozenset({"app_to_app", "service_account"}), ago(10)),
        backups=BackupFacts(NOW - timedelta(hours=2)),
        console_users=[
            ConsoleUserFact("u1", "olive", "p1", ("admin",), True, False, True),
            ConsoleUserFact("u2", "leo", "p2", ("viewer",), True, disabled=True),
        ],
        monitoring=MonitoringFacts(
            {"okta": NOW - timedelta(hours=1), "slack": NOW - timedelta(hours=1)}, {"splunk": False}
        ),
        vendor_names_by_id={"v1": "Acme", "v2": "Okta"},
    )


def with_integration(ctx: PostureContext, **changes: object) -> None:
    ctx.integrations[0] = replace(ctx.integrations[0], **changes)  # type: ignore[arg-type]


def with_credential(ctx: PostureContext, **changes: object) -> None:
    ctx.credentials[0] = replace(ctx.credentials[0], **changes)  # type: ignore[arg-type]


def with_app(ctx: PostureContext, index: int, **changes: object) -> None:
    ctx.apps[index] = replace(ctx.apps[index], **changes)  # type: ignore[arg-type]

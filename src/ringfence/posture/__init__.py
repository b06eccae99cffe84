"""Posture: a catalogue of perimeter checks over the estate, observed usage and SaaS tenants;
findings with a lifecycle; shadow-IT discovery; reports CI and auditors use.

Public surface: the context facts, ``all_checks``/``run_checks``, the report renderers, the
finding lifecycle and discovery. Checks never do I/O; loading the context is separate.
"""

from ringfence.posture.catalogue import Check, CheckMeta, Failure, Severity, all_checks, get_check
from ringfence.posture.context import (
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
    PosturePolicy,
    ReadinessFacts,
    RotationEvidence,
    RouteFact,
    SaasFacts,
    UsageCount,
    VendorFact,
)
from ringfence.posture.engine import CheckResult, Finding, PostureReport, run_checks

__all__ = [
    "AppFact",
    "BackupFacts",
    "Check",
    "CheckMeta",
    "CheckResult",
    "ConsoleUserFact",
    "CredentialFact",
    "Failure",
    "Finding",
    "FlowFact",
    "IntegrationFact",
    "MonitoringFacts",
    "ObservedUsage",
    "PersonFact",
    "PostureContext",
    "PosturePolicy",
    "PostureReport",
    "ReadinessFacts",
    "RotationEvidence",
    "RouteFact",
    "SaasFacts",
    "Severity",
    "UsageCount",
    "VendorFact",
    "all_checks",
    "get_check",
    "run_checks",
]

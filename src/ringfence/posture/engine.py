"""Run the catalogue over a context: pass / fail / skip (inputs absent) / error per check.

A check that raises does not stop the run: it is reported as ``error`` with the exception
type, so one bad check never hides the others' findings.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ringfence.posture.catalogue import Check, CheckMeta, Failure, Severity, all_checks
from ringfence.posture.context import PostureContext

SEVERITY_WEIGHT = {
    Severity.CRITICAL: 10,
    Severity.HIGH: 5,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}
_SKIP_REASONS = {
    "saas": "no SaaS connector data (run `ringfence discover --connectors FILE`)",
    "usage": "no gateway usage observed yet",
    "routes": "no gateway routes declared",
    "vendors": "no vendor-risk data yet",
    "readiness": "no incident-response data (playbooks, drills) yet",
    "backups": "backup facts not loaded",
    "monitoring": "no monitoring data (audit sources, SIEM sinks) yet",
    "console_users": "no console users (identity capability) yet",
}


@dataclass
class CheckResult:
    meta: CheckMeta
    status: str  # pass | fail | skip | error
    failures: list[Failure] = field(default_factory=list)
    reason: str | None = None


@dataclass(frozen=True)
class Finding:
    """A failure together with the metadata of the check that produced it."""

    meta: CheckMeta
    failure: Failure

    @property
    def severity(self) -> Severity:
        return self.meta.severity

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.meta.id,
            "title": self.meta.title,
            "area": self.meta.area,
            "severity": self.meta.severity.label,
            "resource_type": self.failure.resource_type,
            "resource_id": self.failure.resource_id,
            "message": self.failure.message,
            "evidence": self.failure.evidence,
            "remediation": self.meta.remediation,
            "mappings": self.meta.mappings.as_dict(),
        }


@dataclass
class PostureReport:
    generated_at: datetime
    results: list[CheckResult]

    @property
    def findings(self) -> list[Finding]:
        out = [Finding(r.meta, f) for r in self.results for f in r.failures]
        out.sort(key=lambda f: (-f.severity, f.meta.id, f.failure.resource_id))
        return out

    def at_or_above(self, threshold: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= threshold]

    def counts(self) -> dict[str, int]:
        status = Counter(r.status for r in self.results)
        sev = Counter(f.severity.label for f in self.findings)
        return {
            "checks": len(self.results),
            "passed": status["pass"],
            "failed": status["fail"],
            "skipped": status["skip"],
            "errors": status["error"],
            "findings": sum(sev.values()),
            **{f"findings_{s.label}": sev[s.label] for s in Severity},
        }

    def score(self) -> float:
        """Organisation score 0-100: weight of passing checks over weight of evaluated ones."""
        evaluated = [r for r in self.results if r.status in {"pass", "fail"}]
        total = sum(SEVERITY_WEIGHT[r.meta.severity] for r in evaluated)
        if total == 0:
            return 100.0
        passed = sum(SEVERITY_WEIGHT[r.meta.severity] for r in evaluated if r.status == "pass")
        return round(100.0 * passed / total, 1)

    def resource_scores(self, resource_type: str) -> dict[str, float]:
        """Per-resource score: 100 minus the weights of its findings (floored at 0)."""
        scores: dict[str, float] = {}
        for f in self.findings:
            if f.failure.resource_type == resource_type:
                key = f.failure.resource_id
                scores[key] = max(0.0, scores.get(key, 100.0) - 2 * SEVERITY_WEIGHT[f.severity])
        return scores


def run_checks(
    ctx: PostureContext,
    checks: Sequence[Check] | None = None,
    *,
    only: Iterable[str] | None = None,
) -> PostureReport:
    selected = list(checks) if checks is not None else all_checks()
    if only is not None:
        wanted = set(only)
        unknown = wanted - {c.meta.id for c in selected}
        if unknown:
            raise KeyError(f"unknown check id(s): {', '.join(sorted(unknown))}")
        selected = [c for c in selected if c.meta.id in wanted]
    results: list[CheckResult] = []
    # Checks allocate many small acyclic objects (failures, evidence dicts); the cyclic GC
    # would rescan the whole (large) context repeatedly for nothing, so pause it for the run.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _evaluate(ctx, selected, results)
    finally:
        if gc_was_enabled:
            gc.enable()
    return PostureReport(generated_at=ctx.now, results=results)


def _evaluate(ctx: PostureContext, selected: list[Check], results: list[CheckResult]) -> None:
    for c in selected:
        missing = c.missing_inputs(ctx)
        if missing:
            reason = "; ".join(_SKIP_REASONS.get(m, f"no {m} data") for m in missing)
            results.append(CheckResult(c.meta, "skip", reason=reason))
            continue
        try:
            failures = c.run(ctx)
        except Exception as exc:
            results.append(CheckResult(c.meta, "error", reason=f"{type(exc).__name__}: {exc}"))
            continue
        results.append(CheckResult(c.meta, "fail" if failures else "pass", failures))

"""Clearance policy: what happens when a payload's class exceeds the destination's clearance.

Pure decision logic over a ``ScanResult``: block, redact or alert, with allow-listed types.
It never inspects the payload itself and never includes a value in a decision or reason. A
policy that cannot decide is refused when it is built (fail closed): a NaN or out-of-range
``min_confidence`` would compare false with every finding and allow everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from ringfence.classify._model import DEFAULT_MIN_CONFIDENCE, Finding, ScanResult
from ringfence.core.errors import ConfigError, RingfenceError
from ringfence.core.levels import DataClass


class PolicyAction(StrEnum):
    """What an integration/route does when payload class > destination clearance."""

    BLOCK = "block"
    REDACT = "redact"
    ALERT = "alert"


Verdict = Literal["allow", "block", "redact", "alert"]


@dataclass(frozen=True, slots=True)
class FlowPolicy:
    clearance: DataClass
    action: PolicyAction = PolicyAction.BLOCK
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    ignore_types: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        try:
            clearance = DataClass.parse(self.clearance)
            action = PolicyAction(self.action)
        except (RingfenceError, ValueError) as e:
            raise ConfigError(f"flow policy: {e}", code="classify_policy") from None
        conf = self.min_confidence
        if isinstance(conf, bool) or not isinstance(conf, int | float) or not math.isfinite(conf):
            raise ConfigError(
                "flow policy: min_confidence must be a number", code="classify_policy"
            )
        if not 0.0 <= conf <= 1.0:
            raise ConfigError(
                "flow policy: min_confidence must be between 0 and 1", code="classify_policy"
            )
        ignored = self.ignore_types
        # a bare string would be read as a set of characters ("in" a substring test)
        ignored = frozenset({ignored} if isinstance(ignored, str) else ignored)
        object.__setattr__(self, "clearance", clearance)
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "ignore_types", ignored)


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    payload_class: DataClass
    clearance: DataClass
    violations: tuple[Finding, ...]
    reason: str


def decide(result: ScanResult, policy: FlowPolicy) -> Decision:
    """Allow when every confident finding fits the clearance, else apply the policy action."""
    violations = tuple(
        f
        for f in result.findings
        if f.confidence >= policy.min_confidence
        and f.data_class > policy.clearance
        and f.type_id not in policy.ignore_types
    )
    top = max((f.data_class for f in violations), default=DataClass.PUBLIC)
    payload_class = max(top, result.data_class) if violations else result.data_class
    if not violations:
        return Decision("allow", payload_class, policy.clearance, (), "within clearance")
    types = ", ".join(sorted({f.type_id for f in violations}))
    reason = (
        f"payload is {top.label}, destination is cleared for {policy.clearance.label} "
        f"({len(violations)} finding(s): {types})"
    )
    return Decision(policy.action.value, payload_class, policy.clearance, violations, reason)

"""Incident response: playbooks from ringfence.yaml, incidents with approvals and a timeline,
evidence with chain of custody, drills. See docs/respond.md."""

from ringfence.respond.engine import Responder, StepFailed
from ringfence.respond.estate_section import CONTAINMENT, PlaybookSpec

__all__ = ["CONTAINMENT", "PlaybookSpec", "Responder", "StepFailed"]

"""Vendor risk: profiles, questionnaires, evidence, contracts, pentests and a risk score.

Public surface for other capabilities (everything else in this package is private):

- :func:`vendor_risk` ``(session, clock, vendor=None) -> list[VendorRisk]`` — per-vendor risk
  and evidence status, highest residual risk first. Posture checks read it, e.g.:

  * "restricted data to a vendor without DPA":
    ``r.highest_data_class is DataClass.RESTRICTED and not r.has_dpa``
  * "expired SOC 2 / ISO 27001": ``r.expired_certifications`` (each a :class:`CertStatus`
    with ``label``, ``valid_until`` and ``days_left`` < 0)
  * "open critical pentest finding" / "remediation overdue": ``r.open_critical_findings``,
    ``r.overdue_findings`` (each an :class:`OpenFinding`)
  * "vendor reassessment overdue": ``r.assessment.state is ScheduleState.OVERDUE``
    (``r.assessment.days_overdue``); never assessed: ``ScheduleState.NONE``
  * ``r.inherent`` / ``r.residual`` (0..100), ``r.rating`` and ``r.factors`` — each
    :class:`Factor` has ``points`` and a ``sentence`` ("SOC 2 Type II expired 41 days ago").

- :func:`communication_protocol` ``(session, vendor) -> CommunicationProtocol`` — channel,
  hours, breach-notification address and the escalation order, for incident response.
- :func:`due_reminders` ``(session, clock) -> list[Reminder]`` — certificates within 60/30/7
  days of expiry; ``Reminder.key`` de-duplicates notifications.
- :data:`router` (in ``ringfence.vendors.api``) and ``app`` (in ``ringfence.vendors.cli``).

This package never stores a document in plaintext (per-document data keys live in the vault),
never stores a questionnaire token (only its SHA-256), and never calls ``datetime.now()``.
"""

from __future__ import annotations

from ringfence.vendors.assessments import REASSESS_DAYS, Schedule, ScheduleState
from ringfence.vendors.contracts import CLAUSES, SLA_DAYS, OpenFinding
from ringfence.vendors.evidence import CertState, CertStatus, Reminder, due_reminders
from ringfence.vendors.models import Tier
from ringfence.vendors.profiles import CommunicationProtocol, communication_protocol
from ringfence.vendors.scoring import Factor, VendorRisk, vendor_risk

__all__ = [
    "CLAUSES",
    "REASSESS_DAYS",
    "SLA_DAYS",
    "CertState",
    "CertStatus",
    "CommunicationProtocol",
    "Factor",
    "OpenFinding",
    "Reminder",
    "Schedule",
    "ScheduleState",
    "Tier",
    "VendorRisk",
    "communication_protocol",
    "due_reminders",
    "vendor_risk",
]

"""Vendor-risk tables: profile extension, contacts, assessments, evidence, contracts, pentests.

Every table references the foundation ``vendors`` table by foreign key and never alters it.
Documents are stored as AES-256-GCM ciphertext under a per-document data key that lives in the
vault; no table here ever holds a plaintext document, and assessment links are kept only as a
SHA-256 hash of the token.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ringfence.core.ids import new_id
from ringfence.store.models import Base, Timestamped, Vendor, _enum
from ringfence.store.types import JSONType, UTCDateTime


class Tier(enum.StrEnum):
    """Criticality tier: drives questionnaire depth and reassessment cadence."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class AssessmentStatus(enum.StrEnum):
    SENT = "sent"
    SUBMITTED = "submitted"
    REVOKED = "revoked"


class CertKind(enum.StrEnum):
    SOC2_TYPE1 = "soc2_type1"
    SOC2_TYPE2 = "soc2_type2"
    ISO27001 = "iso27001"
    PCI_DSS = "pci_dss"
    OTHER = "other"


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class FindingStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    RISK_ACCEPTED = "risk_accepted"


class VendorProfile(Timestamped, Base):
    """Risk-relevant facts about one foundation vendor (one row per vendor)."""

    __tablename__ = "vendor_profiles"
    # Settings, not evidence: deleting the vendor may take them along (inventory's delete
    # refuses while a vendor holds records whose rows would cascade, except these).
    __table_args__ = {"info": {"deleted_with_owner": True}}

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    vendor_id: Mapped[str] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), unique=True
    )
    tier: Mapped[Tier] = mapped_column(_enum(Tier, "vendor_tier"), default=Tier.MEDIUM)
    domains: Mapped[list[str]] = mapped_column(JSONType, default=list)
    services: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Communication protocol agreed with the vendor; incident response reads it.
    channel: Mapped[str] = mapped_column(String(40), default="email")
    hours: Mapped[str] = mapped_column(String(120), default="24x7")
    breach_notification_address: Mapped[str | None] = mapped_column(String(320))
    notes: Mapped[str] = mapped_column(Text, default="")

    vendor: Mapped[Vendor] = relationship()
    contacts: Mapped[list[VendorContact]] = relationship(
        back_populates="profile",
        cascade="all, delete-orphan",
        order_by="VendorContact.escalation_order",
    )


class VendorContact(Base):
    """A security contact; ``escalation_order`` 1 is called first."""

    __tablename__ = "vendor_contacts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    profile_id: Mapped[str] = mapped_column(ForeignKey("vendor_profiles.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(120), default="security")
    escalation_order: Mapped[int] = mapped_column(Integer, default=1)

    profile: Mapped[VendorProfile] = relationship(back_populates="contacts")


class Assessment(Timestamped, Base):
    """One questionnaire sent to a vendor; answered once through a tokenised link or import."""

    __tablename__ = "vendor_assessments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    vendor_id: Mapped[str] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    template: Mapped[str] = mapped_column(String(20))  # "lite" | "full"
    template_version: Mapped[str] = mapped_column(String(20))
    status: Mapped[AssessmentStatus] = mapped_column(
        _enum(AssessmentStatus, "assessment_status"), default=AssessmentStatus.SENT
    )
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    recipient: Mapped[str | None] = mapped_column(String(320))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    question_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Snapshot of the questions as sent: a later bank version never changes what was asked.
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    score: Mapped[float | None] = mapped_column(Float)
    domain_scores: Mapped[dict[str, float]] = mapped_column(JSONType, default=dict)
    source: Mapped[str] = mapped_column(String(20), default="link")


class VendorDocument(Base):
    """An evidence document: ciphertext here, its data key in the vault, SHA-256 of plaintext."""

    __tablename__ = "vendor_documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    vendor_id: Mapped[str] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    key_ref: Mapped[str] = mapped_column(String(200))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    assessment_id: Mapped[str | None] = mapped_column(
        ForeignKey("vendor_assessments.id", ondelete="SET NULL")
    )
    question_id: Mapped[str | None] = mapped_column(String(40))


class Certification(Timestamped, Base):
    __tablename__ = "vendor_certifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    vendor_id: Mapped[str] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    kind: Mapped[CertKind] = mapped_column(_enum(CertKind, "cert_kind"))
    name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str] = mapped_column(String(200), default="")
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    issued_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    # "api" (API/CLI) or "estate" (declared in ringfence.yaml; apply owns these rows).
    origin: Mapped[str] = mapped_column(String(20), default="api")
    document_id: Mapped[str | None] = mapped_column(
        ForeignKey("vendor_documents.id", ondelete="SET NULL")
    )


class Contract(Timestamped, Base):
    __tablename__ = "vendor_contracts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    vendor_id: Mapped[str] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    start_on: Mapped[date | None] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    renewal_on: Mapped[date | None] = mapped_column(Date)
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_days: Mapped[int] = mapped_column(Integer, default=30)
    # The clause checklist, see ringfence.vendors.contracts.CLAUSES.
    clauses: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # "api" (API/CLI) or "estate" (declared in ringfence.yaml; apply owns these rows).
    origin: Mapped[str] = mapped_column(String(20), default="api")
    document_id: Mapped[str | None] = mapped_column(
        ForeignKey("vendor_documents.id", ondelete="SET NULL")
    )


class Pentest(Timestamped, Base):
    __tablename__ = "vendor_pentests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    vendor_id: Mapped[str] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    tester: Mapped[str] = mapped_column(String(200), default="")
    performed_on: Mapped[date] = mapped_column(Date)
    # "api" (API/CLI) or "estate" (declared in ringfence.yaml; apply owns these rows).
    origin: Mapped[str] = mapped_column(String(20), default="api")
    document_id: Mapped[str | None] = mapped_column(
        ForeignKey("vendor_documents.id", ondelete="SET NULL")
    )
    findings: Mapped[list[PentestFinding]] = relationship(
        back_populates="pentest", cascade="all, delete-orphan", order_by="PentestFinding.ref"
    )


class PentestFinding(Base):
    __tablename__ = "vendor_pentest_findings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    pentest_id: Mapped[str] = mapped_column(ForeignKey("vendor_pentests.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[Severity] = mapped_column(_enum(Severity, "finding_severity"))
    status: Mapped[FindingStatus] = mapped_column(
        _enum(FindingStatus, "finding_status"), default=FindingStatus.OPEN
    )
    due_on: Mapped[date | None] = mapped_column(Date)
    resolved_on: Mapped[date | None] = mapped_column(Date)

    pentest: Mapped[Pentest] = relationship(back_populates="findings")

"""Identity tables: SCIM documents, console users, sessions, tokens, findings, access reviews.

A SCIM User is a foundation ``people`` row plus an ``identity_scim_users`` row holding the
attributes the foundation does not model (the SCIM document). Only hashes of tokens, session
ids, recovery codes and passwords (argon2id) are kept; TOTP seeds live in the vault. Nothing
here may ever hold a plaintext credential.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ringfence.core.clock import utcnow
from ringfence.core.ids import new_id
from ringfence.store.models import Base
from ringfence.store.types import JSONType, UTCDateTime


class ScimUser(Base):
    """The SCIM view of a person: id is the person's id, ``document`` the extra attributes."""

    __tablename__ = "identity_scim_users"

    id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    # Lower-cased NFC userName: the uniqueness key (userName is caseExact=false).
    user_name_key: Mapped[str] = mapped_column(String(320), unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    service_account: Mapped[bool] = mapped_column(Boolean, default=False)
    integration_id: Mapped[str | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PersonHold(Base):
    """An emergency deactivation made in Ringfence (API, CLI): while it exists, no SCIM write
    reactivates the person — only a person with ``identity:lifecycle`` lifting it explicitly
    (``reactivate`` with a reason). The IdP's own deactivations set none (a rehire by the IdP
    must work). Lifting deletes the row; the audit log keeps who/when/why of both."""

    __tablename__ = "identity_person_holds"

    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    held_by: Mapped[str] = mapped_column(String(200))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")


class ScimGroup(Base):
    __tablename__ = "identity_scim_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    display_name_key: Mapped[str] = mapped_column(String(320), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScimGroupMember(Base):
    __tablename__ = "identity_scim_group_members"
    __table_args__ = (UniqueConstraint("group_id", "member_id", name="group_member"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    group_id: Mapped[str] = mapped_column(
        ForeignKey("identity_scim_groups.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[str] = mapped_column(String(36), index=True)


class ScimToken(Base):
    """Bearer token an identity provider uses on ``/scim/v2``; only its SHA-256 is kept."""

    __tablename__ = "identity_scim_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsoleUser(Base):
    """A console/API user: local password (argon2id) and/or SSO subject, roles, MFA state."""

    __tablename__ = "identity_users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(320), unique=True)
    person_id: Mapped[str | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    sso_subject: Mapped[str | None] = mapped_column(String(400), unique=True)
    # How ``username`` was obtained: "local" (an administrator chose it), "sso_email" (an
    # email the IdP verified), "sso_name" (preferred_username or sub: chosen by the user at
    # some IdPs, never an identity) or "sso_legacy" (signed in before this was recorded).
    username_source: Mapped[str] = mapped_column(String(20), default="local")
    # The email of the person this account belongs to, from a trusted source only: an
    # administrator (the username or ``person_email``) or an email the IdP verified. The
    # only email the lifecycle links on; kept when no person has it yet.
    person_email: Mapped[str | None] = mapped_column(String(320), index=True)
    # Names the IdP sent without vouching for them (unverified email, preferred_username):
    # a SCIM deprovisioning of a person with one of these names disables the account, but
    # they never link it to a person (linking grants the person's integrations).
    sso_names: Mapped[list[str]] = mapped_column(JSONType, default=list)
    totp_ref: Mapped[str | None] = mapped_column(String(200))
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # "admin" (set by an administrator: only an administrator lifts it) or "deprovisioned"
    # (by the person's lifecycle: a SCIM reactivation lifts it)
    disabled_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RecoveryCode(Base):
    __tablename__ = "identity_recovery_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_users.id", ondelete="CASCADE"), index=True
    )
    hash: Mapped[str] = mapped_column(String(128))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsoleSession(Base):
    """A browser session; the cookie carries the id, the table keeps its SHA-256."""

    __tablename__ = "identity_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    mfa_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[str] = mapped_column(String(20), default="password")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Last request seen (updated at most once a minute): the idle timeout counts from here.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PersonalToken(Base):
    """A user's personal API token ``rf_pat_<prefix>_<secret>``: hashed, scoped, expiring."""

    __tablename__ = "identity_personal_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OidcLoginState(Base):
    """One pending SSO login: the hash of ``state``; PKCE verifier and nonce are derived."""

    __tablename__ = "identity_oidc_states"

    state_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IdentityFinding(Base):
    """A lifecycle finding (e.g. an integration whose owner left), open until resolved."""

    __tablename__ = "identity_findings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(20), default="high")
    person_id: Mapped[str | None] = mapped_column(String(36), index=True)
    integration_id: Mapped[str | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="open")
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReviewCampaign(Base):
    __tablename__ = "identity_review_campaigns"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # "app" (integrations reaching one app) or "owner" (integrations one person owns)
    scope_kind: Mapped[str] = mapped_column(String(20))
    scope_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="open")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReviewItem(Base):
    __tablename__ = "identity_review_items"
    __table_args__ = (UniqueConstraint("campaign_id", "integration_id", name="campaign_item"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("identity_review_campaigns.id", ondelete="CASCADE"), index=True
    )
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    reviewer_id: Mapped[str | None] = mapped_column(String(36))
    granted_scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    used_scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    used_source: Mapped[str] = mapped_column(String(40), default="none")
    decision: Mapped[str | None] = mapped_column(String(20))
    kept_scopes: Mapped[list[str] | None] = mapped_column(JSONType)
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginThrottle(Base):
    """Failed sign-ins counted per key that is not a console user row.

    ``key`` is a SHA-256 of ``user:<name>`` for usernames that do not exist (so an unknown
    name slows down and locks exactly like a real one: no enumeration through 429 vs 401) or
    ``ip:<address>`` for the per-address budget. Only hashes: no username or address stored.
    """

    __tablename__ = "identity_login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

"""Identity settings: ``RINGFENCE_IDENTITY_*`` environment variables (own prefix, own class).

The foundation ``Settings`` forbids unknown keys, so identity keeps its knobs here. Settings
hold references to secrets (``vault:NAME``), never a secret value.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from ringfence.core.errors import ConfigError
from ringfence.core.suggest import did_you_mean
from ringfence.identity.roles import ADMIN, MFA_REQUIRED_ROLES, ROLES

PREFIX = "RINGFENCE_IDENTITY_"


class IdentitySettings(BaseSettings):
    """Identity's knobs. A bad value or a misspelt ``RINGFENCE_IDENTITY_*`` variable is a
    ConfigError naming the variable (a misspelt ``…_COOKIE_SECURE`` or ``…_LOCKOUT_THRESHOLD``
    silently falling back to a default is a setting the operator believes is on)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    def __init__(self, **values: Any) -> None:
        known = {PREFIX + name.upper() for name in type(self).model_fields}
        unknown = sorted(
            k for k in os.environ if k.upper().startswith(PREFIX) and k.upper() not in known
        )
        if unknown:
            hints = [name + did_you_mean(name.upper(), known) for name in unknown]
            raise ConfigError(f"unknown identity setting: {', '.join(hints)}")
        try:
            super().__init__(**values)
        except SettingsError as exc:  # a value that is not JSON where JSON is wanted
            names = [PREFIX + n.upper() for n in type(self).model_fields if f'"{n}"' in str(exc)]
            raise ConfigError(
                f"invalid identity settings: {', '.join(names) or exc}: not valid JSON"
            ) from None
        except PydanticValidationError as exc:
            problems = "; ".join(
                f"{PREFIX}{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigError(f"invalid identity settings: {problems}") from None

    quarantine_on_deprovision: bool = Field(
        default=True,
        description="Quarantine the integrations a deactivated person owns until reassigned.",
    )
    service_account_app: str = Field(
        default="ringfence-gateway",
        description="App that SCIM-provisioned service accounts' machine identities call.",
    )
    mfa_required_roles: list[str] = Field(
        default_factory=lambda: sorted(MFA_REQUIRED_ROLES),
        description="Roles that must use MFA (JSON list); admin is always one of them.",
    )
    session_ttl_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)
    # A session unused this long is over, whatever its lifetime says.
    session_idle_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    lockout_threshold: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Progressive delay: each failure after the first doubles the wait, up to the lockout.
    delay_base_seconds: float = Field(default=1.0, ge=0, le=60)
    # Failed sign-ins per client address (any usernames) before that address waits out the
    # rest of the window: stops one password being sprayed over many accounts.
    login_ip_threshold: int = Field(default=30, ge=1, le=100_000)
    login_ip_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    cookie_secure: bool = True
    token_max_days: int = Field(default=365, ge=1, le=3650)
    scim_max_results: int = Field(default=10_000, ge=1)
    scim_page_size: int = Field(default=100, ge=1, le=1000)
    scim_max_multi_values: int = Field(default=1000, ge=1)
    review_reminder_days: int = Field(default=3, ge=0, le=90)
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret_ref: str | None = Field(
        default=None, description="vault:NAME holding the OIDC client secret."
    )
    oidc_redirect_uri: str | None = None
    oidc_scopes: str = "openid email profile groups"
    oidc_groups_claim: str = "groups"
    oidc_require_email_verified: bool = Field(
        default=True,
        description="Trust the ID token's email only when email_verified is true (an IdP that "
        "omits the claim then signs users in by sub/preferred_username, never by email).",
    )
    oidc_group_roles: dict[str, list[str]] = Field(
        default_factory=dict, description='IdP group → roles, e.g. {"rf-admins": ["admin"]}'
    )
    oidc_jwks_ttl_seconds: int = Field(default=3600, ge=0)

    @field_validator("mfa_required_roles")
    @classmethod
    def _known_roles_with_admin(cls, roles: list[str]) -> list[str]:
        unknown = sorted(set(roles) - ROLES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}; known roles: {sorted(ROLES)}")
        if ADMIN not in roles:
            # An admin without MFA is one stolen password from the whole perimeter.
            raise ValueError(f"must include {ADMIN!r} (admins always use MFA)")
        return sorted(set(roles))

    @property
    def oidc_configured(self) -> bool:
        """SSO is on: the issuer, client id and redirect URI are all set."""
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_redirect_uri)

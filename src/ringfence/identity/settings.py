"""Identity settings: ``RINGFENCE_IDENTITY_*`` environment variables (own prefix, own class).

The foundation ``Settings`` forbids unknown keys, so identity keeps its knobs here. Settings
hold references to secrets (``vault:NAME``), never a secret value.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RINGFENCE_IDENTITY_", extra="ignore")

    quarantine_on_deprovision: bool = Field(
        default=True,
        description="Quarantine the integrations a deactivated person owns until reassigned.",
    )
    service_account_app: str = Field(
        default="ringfence-gateway",
        description="App that SCIM-provisioned service accounts' machine identities call.",
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

    @property
    def oidc_configured(self) -> bool:
        """SSO is on: the issuer, client id and redirect URI are all set."""
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_redirect_uri)

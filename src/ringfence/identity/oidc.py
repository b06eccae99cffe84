"""OpenID Connect sign-in for the console: authorization code + PKCE, state, nonce, JWKS cache.

Authlib builds the authorization request and the PKCE challenge; joserfc (Authlib's JOSE
library) verifies the ID token: signature against the provider's JWKS (asymmetric algorithms
only, never ``none`` or HMAC), ``iss``, ``aud``/``azp``, ``exp``/``iat``, and ``nonce``. The
state is single-use (its hash is stored and burnt on first use); the PKCE verifier and the
nonce are derived from the state with a vault-held key, so no secret is stored per login.
IdP groups map to roles through settings; a user with no mapped role is refused. Never logs
a code, token or claim value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, func, select

from ringfence.core.clock import Clock
from ringfence.core.errors import (
    AuthenticationError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
)
from ringfence.identity.accounts import UNVERIFIED_PREFIX, revoke_user_credentials
from ringfence.identity.models import (
    ConsoleUser,
    OidcLoginState,
    ScimUser,
)
from ringfence.identity.roles import check_roles
from ringfence.identity.settings import IdentitySettings
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import Person
from ringfence.store.vault import Vault

ALLOWED_ALGS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
STATE_TTL = timedelta(minutes=10)
STATE_CAP = 10_000  # pending sign-ins kept at most
_STATE_KEY = "identity/oidc-state-key"
_MFA_AMR = frozenset({"mfa", "otp", "hwk", "swk", "fido", "sc", "face", "fpt"})
_LEEWAY = 60


SOURCE_SSO_EMAIL = "sso_email"
SOURCE_SSO_NAME = "sso_name"


def _unverified_username(claims: dict[str, Any]) -> str:
    """The username of an SSO user whose email the IdP did not verify.

    ``preferred_username`` (or ``sub``) may be chosen by the user at some IdPs, so a name
    that looks like an email address is kept behind the ``sso:`` prefix: it never occupies
    the email namespace (a colleague's address, linked later by SCIM or taken by her own
    verified sign-in) and never reads as that colleague in the audit log."""
    name = str(claims.get("preferred_username") or claims["sub"]).strip().lower()
    return f"{UNVERIFIED_PREFIX}{name}" if "@" in name else name


def _unverified_names(claims: dict[str, Any]) -> list[str]:
    """Names the IdP sent: used to reach the account at a SCIM deprovisioning, never to
    link it to a person."""
    found = []
    for claim in ("email", "preferred_username", "upn"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            found.append(value.strip().lower()[:320])
    return sorted(set(found))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class OidcLogin:
    user_id: str
    username: str
    roles: list[str]
    mfa_passed: bool


@dataclass
class _Cached:
    value: dict[str, Any]
    fetched: float


class OidcRelyingParty:
    """One configured OpenID provider. Metadata and JWKS are cached per instance."""

    def __init__(
        self,
        settings: IdentitySettings,
        store: Store,
        vault: Vault,
        clock: Clock,
        http: httpx.Client | None = None,
    ) -> None:
        if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_redirect_uri):
            raise ConfigError(
                "SSO is not configured: set RINGFENCE_IDENTITY_OIDC_ISSUER, "
                "_OIDC_CLIENT_ID, _OIDC_CLIENT_SECRET_REF and _OIDC_REDIRECT_URI"
            )
        self._settings = settings
        self._issuer = settings.oidc_issuer.rstrip("/")
        self._client_id = settings.oidc_client_id
        self._redirect_uri = settings.oidc_redirect_uri
        self._store = store
        self._vault = vault
        self._clock = clock
        self._http = http or httpx.Client(timeout=10.0, follow_redirects=False)
        self._metadata: _Cached | None = None
        self._jwks: _Cached | None = None

    # -- provider metadata -----------------------------------------------------------------
    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            resp = self._http.get(url)
        except httpx.HTTPError as exc:
            raise UnavailableError(f"identity provider unreachable: {type(exc).__name__}") from None
        if resp.status_code != 200:
            raise UnavailableError(f"identity provider answered {resp.status_code} for {url}")
        try:
            data = resp.json()
        except ValueError:
            raise UnavailableError(f"identity provider sent invalid JSON from {url}") from None
        if not isinstance(data, dict):
            raise UnavailableError(f"identity provider sent a non-object from {url}")
        return data

    def metadata(self) -> dict[str, Any]:
        now = self._clock.monotonic()
        if self._metadata is None or now - self._metadata.fetched > 3600:
            meta = self._get_json(f"{self._issuer}/.well-known/openid-configuration")
            if str(meta.get("issuer", "")).rstrip("/") != self._issuer:
                raise ConfigError("the provider's discovery document names another issuer")
            self._metadata = _Cached(meta, now)
        return self._metadata.value

    def _keyset(self, force: bool = False) -> KeySet:
        now = self._clock.monotonic()
        ttl = self._settings.oidc_jwks_ttl_seconds
        if force or self._jwks is None or now - self._jwks.fetched > ttl:
            self._jwks = _Cached(self._get_json(str(self.metadata()["jwks_uri"])), now)
        return KeySet.import_key_set(self._jwks.value)  # type: ignore[arg-type]

    # -- state, nonce, PKCE ----------------------------------------------------------------
    def _state_key(self) -> bytes:
        if not self._vault.exists(_STATE_KEY):
            self._vault.put(_STATE_KEY, secrets.token_hex(32), description="OIDC state MAC key")
        return self._vault.get(_STATE_KEY).get_secret_value().encode()

    def _derive(self, purpose: str, state: str) -> str:
        return _b64(hmac.new(self._state_key(), f"{purpose}:{state}".encode(), "sha256").digest())

    @staticmethod
    def _state_hash(state: str) -> str:
        return hashlib.sha256(b"ringfence-oidc-state:" + state.encode()).hexdigest()

    def start(self) -> str:
        """A fresh authorization URL (code flow, S256 PKCE, state and nonce)."""
        meta = self.metadata()
        state = secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._store.session() as s:
            # /auth/oidc/login needs no authentication: every call writes a row, so rows past
            # the state lifetime (used or not: either way refused) go on each insert, and at
            # most STATE_CAP pending sign-ins are kept (a flood evicts the oldest: those
            # users start again) — the table cannot grow without bound.
            s.execute(delete(OidcLoginState).where(OidcLoginState.created_at < now - STATE_TTL))
            pending = s.scalar(select(func.count()).select_from(OidcLoginState)) or 0
            if pending >= STATE_CAP:
                oldest = s.scalars(
                    select(OidcLoginState.state_hash)
                    .order_by(OidcLoginState.created_at)
                    .limit(pending - STATE_CAP + 1)
                ).all()
                s.execute(delete(OidcLoginState).where(OidcLoginState.state_hash.in_(oldest)))
            s.add(OidcLoginState(state_hash=self._state_hash(state), created_at=now))
        challenge = create_s256_code_challenge(self._derive("pkce", state))
        uri: str = prepare_grant_uri(
            str(meta["authorization_endpoint"]),
            self._client_id,
            "code",
            redirect_uri=self._redirect_uri,
            scope=self._settings.oidc_scopes,
            state=state,
            nonce=self._derive("nonce", state),
            code_challenge=challenge,
            code_challenge_method="S256",
        )
        return uri

    def _burn_state(self, state: str) -> None:
        now = self._clock.now()
        with self._store.session() as s:
            row = s.get(OidcLoginState, self._state_hash(state))
            if row is None:
                raise AuthenticationError("unknown sign-in state: start again", code="oidc_state")
            if row.used_at is not None:
                raise AuthenticationError(
                    "this sign-in response was already used (replay refused)", code="oidc_state"
                )
            if now - row.created_at > STATE_TTL:
                raise AuthenticationError(
                    "the sign-in took too long: start again", code="oidc_state"
                )
            row.used_at = now

    # -- callback --------------------------------------------------------------------------
    def finish(self, *, code: str, state: str) -> OidcLogin:
        self._burn_state(state)
        meta = self.metadata()
        secret_ref = self._settings.oidc_client_secret_ref
        if not secret_ref or not secret_ref.startswith("vault:"):
            raise ConfigError("oidc_client_secret_ref must be vault:NAME")
        secret = self._vault.get(secret_ref.removeprefix("vault:")).get_secret_value()
        try:
            resp = self._http.post(
                str(meta["token_endpoint"]),
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self._redirect_uri,
                    "code_verifier": self._derive("pkce", state),
                },
                auth=(self._client_id, secret),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise UnavailableError(f"identity provider unreachable: {type(exc).__name__}") from None
        if resp.status_code != 200:
            raise AuthenticationError(
                f"the identity provider refused the code (HTTP {resp.status_code})",
                code="oidc_token",
            )
        try:
            id_token = resp.json().get("id_token")
        except (ValueError, AttributeError):
            id_token = None
        if not isinstance(id_token, str):
            raise AuthenticationError("the identity provider sent no ID token", code="oidc_token")
        claims = self.verify_id_token(id_token, nonce=self._derive("nonce", state))
        return self._sign_in(claims)

    def verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        bad = AuthenticationError("the ID token is not valid", code="oidc_id_token")
        try:
            try:
                token = jwt.decode(id_token, self._keyset(), algorithms=ALLOWED_ALGS)
            except (ValueError, JoseError):
                # Maybe the provider rotated its key: refresh the JWKS, at most once a minute
                # (so forged tokens cannot make us hammer the provider), and retry once.
                if self._jwks is None or self._clock.monotonic() - self._jwks.fetched < 60:
                    raise
                token = jwt.decode(id_token, self._keyset(force=True), algorithms=ALLOWED_ALGS)
        except (ValueError, JoseError, KeyError, TypeError):
            raise bad from None
        claims: dict[str, Any] = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            now=int(self._clock.now().timestamp()),
            leeway=_LEEWAY,
            # The provider's issuer exactly as its discovery document spells it (checked
            # there against the configured one, trailing slash aside): Auth0's ends in "/".
            iss={"essential": True, "value": str(self.metadata()["issuer"])},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError:
            raise bad from None
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self._client_id not in audiences:
            raise bad
        if len(audiences) > 1 and claims.get("azp") != self._client_id:
            raise bad
        return claims

    def _roles_for(self, claims: dict[str, Any]) -> list[str]:
        groups = claims.get(self._settings.oidc_groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        roles: set[str] = set()
        for group in groups if isinstance(groups, list) else []:
            roles.update(self._settings.oidc_group_roles.get(str(group), []))
        return check_roles(roles)

    def _drop_access(self, subject: str) -> None:
        """The IdP now grants a known SSO user no role (removed from every mapped group):
        the IdP is authoritative for SSO users' roles, so their roles are cleared and their
        sessions and personal tokens revoked before the sign-in is refused — otherwise the
        old session and a token of up to a year kept the roles the IdP took away."""
        now = self._clock.now()
        with self._store.session() as s:
            user = s.scalar(select(ConsoleUser).where(ConsoleUser.sso_subject == subject))
            if user is None:
                return
            before = list(user.roles or [])
            user.roles = []
            user.updated_at = now
            tokens, sessions = revoke_user_credentials(s, user.id, now)
            audit.append(
                s,
                actor=f"idp:{self._issuer}",
                action="user.roles",
                entity_type="console_user",
                entity_id=user.id,
                before={"roles": before},
                after={
                    "roles": [],
                    "reason": "no mapped IdP group",
                    "tokens_revoked": tokens,
                    "sessions_revoked": sessions,
                },
                clock=self._clock,
            )

    @staticmethod
    def _left(s: Any, person_id: str | None, names: list[str]) -> bool:
        """Whether the person this sign-in links to — or, for a new unlinked account, a
        person the IdP provisioned under one of the names it sent (what a SCIM
        deprovisioning reaches, ``lifecycle.users_of_person``) — is deactivated."""
        if person_id is not None:
            return s.scalar(select(Person.active).where(Person.id == person_id)) is False
        if not names:
            return False
        inactive = s.scalar(
            select(func.count())
            .select_from(ScimUser)
            .join(Person, Person.id == ScimUser.id)
            .where(Person.active.is_(False), ScimUser.user_name_key.in_(names))
        )
        return bool(inactive)

    def _sign_in(self, claims: dict[str, Any]) -> OidcLogin:
        roles = self._roles_for(claims)
        subject = f"{self._issuer}|{claims['sub']}"
        if not roles:
            self._drop_access(subject)
            raise PermissionDeniedError(
                "your identity-provider groups grant no Ringfence role", code="no_role"
            )
        # An email is an identity only when the IdP vouches for it: some IdPs let users edit
        # their email without verification ("nOAuth"); without the claim, trust it only if
        # an administrator has said this IdP's emails are always verified.
        verified = claims.get("email_verified", not self._settings.oidc_require_email_verified)
        raw_email = claims.get("email")
        email = (
            str(raw_email).strip().lower()
            if isinstance(raw_email, str) and (verified is True or verified == "true")
            else None
        )
        if email:
            username, source = email, SOURCE_SSO_EMAIL
        else:
            username, source = _unverified_username(claims), SOURCE_SSO_NAME
        names = _unverified_names(claims)
        amr = claims.get("amr") or []
        idp_mfa = bool(set(amr if isinstance(amr, list) else []) & _MFA_AMR)
        now = self._clock.now()
        with self._store.session() as s:
            user = s.scalar(select(ConsoleUser).where(ConsoleUser.sso_subject == subject))
            if user is None:
                user = s.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
                # Link an existing account only through a verified email: preferred_username
                # and sub are not verified identifiers and may be chosen by the user at the IdP.
                if user is not None and (user.sso_subject is not None or not email):
                    raise PermissionDeniedError(
                        "this username belongs to another account; an administrator must link it",
                        code="sso_conflict",
                    )
            new_account = user is None
            if user is None:
                user = ConsoleUser(
                    username=username, username_source=source, created_at=now, sso_names=[]
                )
                s.add(user)
            if user.disabled_at is not None:
                raise AuthenticationError("this account is disabled", code="disabled")
            was_linked = user.person_id is not None
            before = list(user.roles or [])
            user.sso_subject = subject
            user.roles = roles  # the IdP is authoritative for SSO users' roles
            user.updated_at = now
            user.sso_names = names
            if email:
                # The verified email is the one the lifecycle links on (now, or when SCIM
                # provisions the person later); an unverified one never is.
                if user.person_email is None or user.username_source != "local":
                    user.person_email = email  # an administrator's declaration stays
                if user.username == email and user.username_source == "sso_legacy":
                    user.username_source = SOURCE_SSO_EMAIL
                if user.person_id is None:
                    user.person_id = s.scalar(select(Person.id).where(Person.email == email))
            if user.person_id is None:
                # The IdP's stable user id: a person the IdP provisioned by SCIM with this
                # externalId (Okta sends its user id as both) is this user.
                user.person_id = s.scalar(
                    select(Person.id)
                    .join(ScimUser, ScimUser.id == Person.id)
                    .where(Person.external_id == str(claims["sub"]))
                )
            if not was_linked and self._left(s, user.person_id, names if new_account else []):
                # A leaver the IdP still signs in (e.g. Entra with "assignment required" off:
                # unassigning sends SCIM active=false, the ID token still comes): deprovisioning
                # disabled the accounts that existed then; one must not be made, or linked,
                # now. Raised inside the transaction: nothing is written.
                raise AuthenticationError(
                    "this account is disabled: its person was deprovisioned", code="disabled"
                )
            s.flush()
            audit.append(
                s,
                actor=f"user:{user.username}",
                action="session.sso",
                entity_type="console_user",
                entity_id=user.id,
                before={"roles": before},
                after={"roles": roles, "idp_mfa": idp_mfa},
                clock=self._clock,
            )
            return OidcLogin(user.id, user.username, roles, idp_mfa)


__all__ = ["ALLOWED_ALGS", "NotFoundError", "OidcLogin", "OidcRelyingParty"]

"""SCIM 2.0 provisioning server (RFC 7643/7644) for identity providers: Okta, Entra, others."""

from ringfence.identity.scim._router import router
from ringfence.identity.scim._service import ScimService
from ringfence.identity.scim._tokens import SCIM_TOKEN_PREFIX, IssuedScimToken, ScimTokens

__all__ = ["SCIM_TOKEN_PREFIX", "IssuedScimToken", "ScimService", "ScimTokens", "router"]

"""Helpers shared by the credentials checks (pure functions of the context, no I/O)."""

from __future__ import annotations

_REFERENCE_SCHEMES = ("vault:", "env:", "${env:", "${vault:")


_EXPIRING_KINDS = {"api_key", "oauth_refresh_token", "oauth_client_secret", "password"}

"""Helpers shared by the privilege checks (pure functions of the context, no I/O)."""

from __future__ import annotations

_VENDOR_BY_CATEGORY = {
    "chat": "slack",
    "code_hosting": "github",
    "productivity": "google_workspace",
    "identity_provider": "okta",
}

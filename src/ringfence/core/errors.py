"""The one error hierarchy of Ringfence.

Every error a user can see carries a stable machine-readable ``code`` and an HTTP ``status``.
The API renders them as RFC 9457 problem+json, the CLI as one red line and a non-zero exit.
An error message must never contain a secret value: name the field or reference instead.
"""

from __future__ import annotations

from typing import Any


class RingfenceError(Exception):
    """Base of every error Ringfence raises on purpose."""

    code: str = "ringfence_error"
    status: int = 500
    title: str = "Ringfence error"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra: dict[str, Any] = extra

    def __str__(self) -> str:
        return self.message

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """RFC 9457 problem details body (without secrets by construction)."""
        body: dict[str, Any] = {
            "type": f"https://ringfence.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.message,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class ConfigError(RingfenceError):
    # A server-side file (monitor.yaml, a stored detector) the operator must fix: over HTTP
    # the service is unavailable until then (503 naming the problem), never a bare 500.
    code = "config_error"
    status = 503
    title = "Configuration error"


class ValidationError(RingfenceError):
    """Input did not validate; ``errors`` lists each problem with its location."""

    code = "validation_error"
    status = 400
    title = "Invalid input"

    def __init__(
        self, message: str, *, errors: list[dict[str, Any]] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.errors = errors or []
        if self.errors:
            self.extra["errors"] = self.errors


class NotFoundError(RingfenceError):
    code = "not_found"
    status = 404
    title = "Not found"


class ConflictError(RingfenceError):
    code = "conflict"
    status = 409
    title = "Conflict"


class AuthenticationError(RingfenceError):
    code = "unauthenticated"
    status = 401
    title = "Authentication required"


class PermissionDeniedError(RingfenceError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class RateLimitedError(RingfenceError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"


class UnavailableError(RingfenceError):
    """A dependency is down; callers must fail closed."""

    code = "unavailable"
    status = 503
    title = "Service unavailable"


class VaultError(RingfenceError):
    code = "vault_error"
    status = 500
    title = "Vault error"


class IntegrityError(RingfenceError):
    """Tamper evidence failed (audit chain, ciphertext authentication)."""

    code = "integrity_error"
    status = 500
    title = "Integrity check failed"

"""Core: configuration, errors, clock, ids, data-class levels, logging. Depends on nothing else."""

from ringfence.core.clock import Clock, FixedClock, SystemClock
from ringfence.core.config import Settings, load_settings
from ringfence.core.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    IntegrityError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RingfenceError,
    UnavailableError,
    ValidationError,
    VaultError,
)
from ringfence.core.ids import new_id
from ringfence.core.levels import DataClass

__all__ = [
    "AuthenticationError",
    "Clock",
    "ConfigError",
    "ConflictError",
    "DataClass",
    "FixedClock",
    "IntegrityError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RingfenceError",
    "Settings",
    "SystemClock",
    "UnavailableError",
    "ValidationError",
    "VaultError",
    "load_settings",
    "new_id",
]

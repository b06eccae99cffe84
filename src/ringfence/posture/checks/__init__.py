"""The check modules; importing this package registers every check in the catalogue."""

from ringfence.posture.checks import (  # noqa: F401
    api,
    credentials,
    data,
    identity,
    privilege,
    readiness,
    shadow,
    vendors,
)

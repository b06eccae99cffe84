"""The identity tests' fixtures: an API app (console included) on a migrated SQLite store."""

from tests.identity.conftest import (  # noqa: F401
    _migrated_template,
    app,
    identity_settings,
    runtime,
)

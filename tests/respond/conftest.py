"""The REST API tests' fixtures, for the respond endpoints."""

from tests.api.conftest import _plain_template, api  # noqa: F401

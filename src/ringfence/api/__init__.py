"""REST API (FastAPI): inventory and control plane under /api/v1, errors as problem+json."""

from ringfence.api.app import create_app

__all__ = ["create_app"]

"""``ringfence users`` entry for the CLI registry (the commands live in ``identity/cli.py``)."""

from ringfence.identity.cli import users_app as app

__all__ = ["app"]

"""Alembic environment: runs on the connection the Store hands in, or on the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ringfence.classify import models as _classify_models  # noqa: F401
from ringfence.gateway import models as _gateway_models  # noqa: F401
from ringfence.identity import models as _identity_models  # noqa: F401
from ringfence.monitor import models as _monitor_models  # noqa: F401
from ringfence.posture import models as _posture_models  # noqa: F401
from ringfence.respond import models as _respond_models  # noqa: F401
from ringfence.store.models import Base
from ringfence.vendors import models as _vendors_models  # noqa: F401

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


conn = config.attributes.get("connection")
if conn is not None:
    _run(conn)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as c:
        _run(c)

"""Access to the real services tests of the scale-out mode use: PostgreSQL, Redis, NATS.

Without the service a test skips with the reason; with RINGFENCE_REQUIRE_SERVICES=1 (CI) it
fails instead. Every test gets its own database / key prefix / stream names and cleans up.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ringfence.bus import NatsBus

PG_ADMIN_URL = os.environ.get(
    "RINGFENCE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("RINGFENCE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("RINGFENCE_TEST_NATS_URL", "nats://127.0.0.1:4222")


def services_required() -> bool:
    return os.environ.get("RINGFENCE_REQUIRE_SERVICES", "") not in ("", "0", "false")


def unavailable(service: str, reason: str) -> None:
    message = f"{service} not available ({reason})"
    if services_required():
        pytest.fail(f"{message} and RINGFENCE_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def postgres_database(template: str | None = None) -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database; dropped afterwards.

    With ``template``, the database is a copy of that (already migrated) database, which is
    far cheaper than running every migration again for each test.
    """
    if not port_open("127.0.0.1", 5432):
        unavailable("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    from sqlalchemy import create_engine, text

    name = f"rf_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    except Exception as exc:
        admin.dispose()
        unavailable("PostgreSQL", f"cannot create a database: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def redis_prefix() -> str:
    if not port_open("127.0.0.1", 6379):
        unavailable("Redis", "nothing listens on 127.0.0.1:6379")
    return f"rftest:{secrets.token_hex(6)}:"


def nats_names() -> str:
    if not port_open("127.0.0.1", 4222):
        unavailable("NATS", "nothing listens on 127.0.0.1:4222")
    return f"RFTEST_{secrets.token_hex(4).upper()}"


@asynccontextmanager
async def own_nats_bus(ack_wait: float) -> AsyncIterator[NatsBus]:
    """A NatsBus on a stream of this test's own (``nats_names``), deleted afterwards."""
    from ringfence.bus import NatsBus

    name = nats_names()
    bus = NatsBus(
        NATS_URL, stream=name, subject_prefix=name.lower(), durable="w", ack_wait=ack_wait
    )
    try:
        yield bus
    finally:
        await bus.delete_stream()
        await bus.close()

"""The store: one SQLAlchemy engine + session factory, migrated by Alembic.

SQLite (embedded default) and PostgreSQL (at scale) run the same migrations and the same
code. The store never sees a plaintext secret: callers hand it references and hashes only,
and the vault hands it ciphertext only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ringfence.core.errors import ConfigError, UnavailableError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class Store:
    """Owns the engine; hands out sessions; applies migrations."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self, revision: str = "heads") -> None:
        """Bring the schema to ``revision`` (every capability branch by default)."""
        try:
            with self.engine.begin() as conn:
                cfg = alembic_config(self.url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        except OperationalError as exc:
            raise UnavailableError(f"store unreachable: {exc.orig}") from None
        except CommandError as exc:
            # e.g. "Can't locate revision identified by 'abc123'": a newer release (or another
            # program) wrote this database; upgrading over it would be guesswork.
            unknown = sorted(self._known_current() - self._all_revisions())
            if unknown:
                raise ConfigError(
                    f"the database is at schema revision {', '.join(unknown)}, which this "
                    "version of Ringfence does not know (written by a newer release?): run that "
                    "release, or restore a backup made by this one",
                    code="unknown_schema_revision",
                ) from None
            raise ConfigError(f"cannot migrate the store: {exc}", code="migration_failed") from None

    def _known_current(self) -> set[str]:
        try:
            return self.current_revisions()
        except SQLAlchemyError:
            return set()

    def _all_revisions(self) -> set[str]:
        script = ScriptDirectory.from_config(alembic_config(self.url))
        return {rev.revision for rev in script.walk_revisions()}

    def current_revisions(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())

    def head_revisions(self) -> set[str]:
        return set(ScriptDirectory.from_config(alembic_config(self.url)).get_heads())

    def is_migrated(self) -> bool:
        try:
            return self.current_revisions() == self.head_revisions()
        except SQLAlchemyError:
            return False

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()

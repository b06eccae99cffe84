"""The runtime bundle one process works with: settings, store, vault, clock.

CLI commands and the API build one ``Runtime`` and pass it (or its parts) to the
capabilities explicitly; nothing reaches for a global.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.config import Settings, load_settings
from ringfence.core.errors import ConfigError
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.vault import MASTER_KEY_ENV, MasterKey, Vault, write_key_file


@dataclass
class InitReport:
    open_to_others: bool  # the data directory is readable or writable by group / others
    data_dir: Path
    created_data_dir: bool
    master_key_file: Path | None
    created_master_key: bool
    store_url: str
    migrated: bool


@dataclass
class Runtime:
    settings: Settings
    store: Store
    vault: Vault
    clock: Clock = field(default_factory=SystemClock)

    def __post_init__(self) -> None:
        # Every audit record appended through this store is linked with the master key's
        # audit key (store.audit: a keyed chain), the key of a rotation kept beside the file.
        audit.use_keys(
            self.store,
            audit.MasterKeyAuditKeys(self.vault, key_file=self.settings.resolved_master_key_file),
        )

    @classmethod
    def open(
        cls, settings: Settings | None = None, *, clock: Clock | None = None, migrate: bool = False
    ) -> Runtime:
        settings = settings or load_settings()
        store = Store(settings.resolved_store_url)
        if migrate:
            store.migrate()
        elif not store.is_migrated():
            raise ConfigError(
                f"store {redact_url(settings.resolved_store_url)} is not initialised or not "
                "up to date: run `ringfence init`"
            )
        vault = Vault(store, settings.resolved_master_key_file, clock=clock)
        return cls(settings=settings, store=store, vault=vault, clock=clock or SystemClock())

    def close(self) -> None:
        self.store.dispose()


def redact_url(url: str) -> str:
    """Hide a password in a database URL before showing it."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (None for other stores and in-memory)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def private_sqlite_file(url: str) -> None:
    """Create the SQLite file of ``url`` owner-only (0600), or tighten an existing one: it
    holds the audit log, the inventory, events, password hashes and the sealed secrets (SQLite
    gives its -wal and -shm files the database file's mode). Other stores: nothing to do."""
    db_file = sqlite_file(url)
    if db_file is None:
        return
    os.close(os.open(db_file, os.O_RDWR | os.O_CREAT, 0o600))
    if db_file.stat().st_mode & 0o077:
        db_file.chmod(0o600)


def initialise(settings: Settings) -> InitReport:
    """Create the data dir, the master key (0600) and the schema. Safe to run twice."""
    data_dir = settings.data_dir
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(
            f"data directory {data_dir} is a file, not a directory", code="data_dir_not_a_directory"
        )
    created_dir = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    if created_dir:
        # The store and the master key live here: owner only (mkdir's mode obeys the umask).
        data_dir.chmod(0o700)
    key_file: Path | None = settings.resolved_master_key_file.resolve()
    created_key = False
    if os.environ.get(MASTER_KEY_ENV):
        key_file = None
    elif key_file is not None and not key_file.exists():
        write_key_file(key_file, MasterKey.generate())
        created_key = True
    private_sqlite_file(settings.resolved_store_url)  # also in a directory that existed
    store = Store(settings.resolved_store_url)
    try:
        was = store.is_migrated()
        store.migrate()
    finally:
        store.dispose()
    return InitReport(
        open_to_others=bool(data_dir.stat().st_mode & 0o077),
        data_dir=data_dir.resolve(),
        created_data_dir=created_dir,
        master_key_file=key_file,
        created_master_key=created_key,
        store_url=redact_url(settings.resolved_store_url),
        migrated=not was,
    )

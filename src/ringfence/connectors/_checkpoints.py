"""Where audit-log pulls remember how far they read: one checkpoint per tenant and log.

``ringfence connectors audit`` (and the demo) resume each log that reads by time — Google's
Reports API, the Office 365 Management Activity API — from the checkpoint its last pull left,
re-reading an overlap before it and skipping the ids already read there. The interface is two
methods; ``FileCheckpoints`` keeps them in one JSON file in the data directory (0600, replaced
atomically under a lock), ``MemoryCheckpoints`` in memory for tests.

A checkpoint holds times and ids, never a record or a credential. A checkpoint file that
cannot be read is an error naming the file, never silently a fresh start: starting over would
re-read only the default window and miss whatever happened since the last pull.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Protocol

import orjson

from ringfence.connectors._model import AuditCheckpoint
from ringfence.core.errors import ConfigError

MAX_FILE_BYTES = 64 * 1024 * 1024


def checkpoint_key(vendor: str, base_url: str, stream: str) -> str:
    """One tenant's log: the same vendor may be configured for several tenants."""
    return f"{vendor}|{base_url.rstrip('/')}|{stream}"


class CheckpointStore(Protocol):
    def load(self, key: str) -> AuditCheckpoint | None: ...

    def save(self, key: str, checkpoint: AuditCheckpoint) -> None: ...


class MemoryCheckpoints:
    def __init__(self) -> None:
        self.saved: dict[str, AuditCheckpoint] = {}

    def load(self, key: str) -> AuditCheckpoint | None:
        found = self.saved.get(key)
        return AuditCheckpoint.from_json(found.to_json()) if found is not None else None

    def save(self, key: str, checkpoint: AuditCheckpoint) -> None:
        self.saved[key] = AuditCheckpoint.from_json(checkpoint.to_json())


class FileCheckpoints:
    """``<data dir>/connectors/audit-checkpoints.json``; one process writes at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> FileCheckpoints:
        return cls(data_dir / "connectors" / "audit-checkpoints.json")

    def _read_all(self) -> dict[str, object]:
        try:
            with self.path.open("rb") as f:
                raw = f.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"cannot read {self.path}: {exc.strerror}") from None
        if len(raw) > MAX_FILE_BYTES:
            raise ConfigError(f"{self.path} is larger than {MAX_FILE_BYTES} bytes")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise ConfigError(
                f"{self.path} is not a checkpoint file (a JSON object); move it away and pull "
                "with --since set to the last pull you trust"
            )
        return data

    def load(self, key: str) -> AuditCheckpoint | None:
        entry = self._read_all().get(key)
        if entry is None:
            return None
        try:
            return AuditCheckpoint.from_json(entry)
        except ValueError as exc:
            raise ConfigError(f"{self.path}: checkpoint {key!r}: {exc}") from None

    def save(self, key: str, checkpoint: AuditCheckpoint) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # read-modify-write: another pull may save too
            data = self._read_all()
            data[key] = checkpoint.to_json()
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(out, orjson.dumps(data, option=orjson.OPT_SORT_KEYS))
                os.fsync(out)
            finally:
                os.close(out)
            os.replace(tmp, self.path)
        finally:
            os.close(fd)

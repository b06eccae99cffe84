"""Table of the ``classify:`` section of ringfence.yaml: custom detectors and allow-lists.

One row per entry, ``spec`` holding the validated entry as JSON. Allow-listed values are held
as SHA-256 digests of their canonical form only: this table must never hold an allow-listed
value (or any matched value) in clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ringfence.core.clock import utcnow
from ringfence.core.ids import new_id
from ringfence.store.models import Base
from ringfence.store.types import JSONType, UTCDateTime


class ClassifyEntry(Base):
    """A custom detector (``kind = "detector"``) or an allow-list (``kind = "allow"``)."""

    __tablename__ = "classify_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

"""monitor: events keep OCSF + raw as one JSON document in a bytes column; no class index

``monitor_events.ocsf`` and ``.raw`` were two ``jsonb`` columns on PostgreSQL: parsing and
storing ~1.9 KB of JSON per event as jsonb was about half of PostgreSQL's CPU per stored event,
and nothing queries inside them in SQL (``hunt`` filters fields in Python after an indexed
prefilter). They become one ``body`` column (bytea / BLOB) holding ``{"ocsf": ..., "raw": ...}``
as UTF-8 JSON, written by binary COPY. ``ix_monitor_events_class_ts`` (8 classes: a poor
filter that every insert paid for) is dropped; the time, source, actor and IP indexes stay.
Existing rows are converted in SQL, both ways.

Revision ID: 0009_monitor_lean_events
Revises: 0003_monitor
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import JSONType

revision = "0009_monitor_lean_events"
down_revision = "0003_monitor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_monitor_events_class_ts", table_name="monitor_events")
    op.add_column("monitor_events", sa.Column("body", sa.LargeBinary(), nullable=True))
    if pg:
        op.execute(
            "UPDATE monitor_events SET body = convert_to("
            "json_build_object('ocsf', ocsf, 'raw', raw)::text, 'UTF8')"
        )
    else:
        op.execute(
            "UPDATE monitor_events SET body = CAST("
            "json_object('ocsf', json(ocsf), 'raw', json(raw)) AS BLOB)"
        )
    with op.batch_alter_table("monitor_events") as batch:
        batch.alter_column("body", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("ocsf")
        batch.drop_column("raw")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.add_column("monitor_events", sa.Column("ocsf", JSONType, nullable=True))
    op.add_column("monitor_events", sa.Column("raw", JSONType, nullable=True))
    if pg:
        # jsonb refuses NUL characters, which the bytes column may hold: dropped, as before
        doc = "replace(convert_from(body, 'UTF8'), '\\u0000', '')::jsonb"
        op.execute(f"UPDATE monitor_events SET ocsf = ({doc})->'ocsf', raw = ({doc})->'raw'")
    else:
        op.execute(
            "UPDATE monitor_events SET ocsf = json_extract(CAST(body AS TEXT), '$.ocsf'), "
            "raw = json_extract(CAST(body AS TEXT), '$.raw')"
        )
    with op.batch_alter_table("monitor_events") as batch:
        batch.alter_column("ocsf", existing_type=JSONType, nullable=False)
        batch.alter_column("raw", existing_type=JSONType, nullable=False)
        batch.drop_column("body")
    op.create_index("ix_monitor_events_class_ts", "monitor_events", ["class_uid", "ts"])

"""foundation: anchor every stored secret's version in the audit chain

Since this revision the vault appends, in the transaction of each change, an audit record
naming the secret's version and a SHA-256 of its ciphertext, and refuses to open a row the
chain does not name as the newest version (a rolled-back row). Secrets stored before carry no
such record: one ``vault.baseline`` record per secret anchors the version they have now, so
they keep working. The records are chained exactly as ``ringfence.store.audit.append`` chains
them (under the same lock). Downgrading leaves them: records are never removed from the chain.

Revision ID: 0018_vault_audit_baseline
Revises: 0015_audit_entity_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.core.clock import utcnow
from ringfence.core.ids import new_id
from ringfence.store.audit import compute_hash
from ringfence.store.types import JSONType, UTCDateTime
from ringfence.store.vault import AUDIT_ENTITY, DIGEST_KEY, ciphertext_digest

revision = "0018_vault_audit_baseline"
down_revision = "0015_audit_entity_index"
branch_labels = None
depends_on = None

_secrets = sa.table(
    "vault_secrets",
    sa.column("name", sa.String),
    sa.column("version", sa.Integer),
    sa.column("ciphertext", sa.LargeBinary),
)
_audit = sa.table(
    "audit_log",
    sa.column("seq", sa.Integer),
    sa.column("id", sa.String),
    sa.column("ts", UTCDateTime()),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("entity_type", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("before", JSONType),
    sa.column("after", JSONType),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(0x52494E47)))  # audit's "RING"
    elif conn.dialect.name == "sqlite":
        conn.execute(sa.text("UPDATE audit_log SET seq = seq WHERE 0"))
    rows = conn.execute(
        sa.select(_secrets.c.name, _secrets.c.version, _secrets.c.ciphertext).order_by(
            _secrets.c.name
        )
    ).all()
    if not rows:
        return
    head = conn.execute(
        sa.select(_audit.c.seq, _audit.c.hash).order_by(_audit.c.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0], head[1]) if head else (0, "0" * 64)
    ts = utcnow().replace(microsecond=0)
    for name, version, ciphertext in rows:
        seq += 1
        record = {
            "seq": seq,
            "id": new_id(),
            "ts": ts,
            "actor": "migration:0018",
            "action": "vault.baseline",
            "entity_type": AUDIT_ENTITY,
            "entity_id": name,
            "before": None,
            "after": {"name": name, "version": version, DIGEST_KEY: ciphertext_digest(ciphertext)},
            "prev_hash": prev,
        }
        digest = compute_hash(
            seq=seq,
            record_id=record["id"],
            ts=ts,
            actor=record["actor"],
            action=record["action"],
            entity_type=record["entity_type"],
            entity_id=name,
            before=None,
            after=record["after"],
            prev_hash=prev,
        )
        conn.execute(_audit.insert().values(**record, hash=digest))
        prev = digest
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), "
                "(SELECT MAX(seq) FROM audit_log))"
            )
        )


def downgrade() -> None:
    pass

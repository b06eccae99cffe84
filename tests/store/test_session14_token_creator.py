"""Migration 0019: every control-plane token says who created it (four eyes, docs/respond.md).

Tokens made before it take the actor of their ``api_token.create`` audit record (the CLI
wrote ``cli``); a token without one stays unknown (NULL). Both are "no person"."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select

from ringfence.store import audit
from ringfence.store.apitokens import ApiTokens
from ringfence.store.db import Store, alembic_config
from ringfence.store.models import ApiToken


def test_tokens_made_before_0019_take_their_creator_from_the_audit_log(store_url: str) -> None:
    store = Store(store_url)
    try:
        store.migrate()
        tokens = ApiTokens(store)
        recorded = tokens.issue("ci-deploy", ["read"], 30, actor="cli").id
        silent = tokens.issue("demo", ["read", "write"], 1).id  # no record (the old demo)
        with store.session() as s:  # an older record for another token must not leak over
            audit.append(
                s,
                actor="user:eve",
                action="api_token.revoke",
                entity_type="api_token",
                entity_id=recorded,
            )
        cfg = alembic_config(store_url)
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0018_vault_audit_baseline")
        store.migrate()
        with store.session() as s:
            rows = dict(s.execute(select(ApiToken.id, ApiToken.created_by)).tuples().all())
        assert rows == {recorded: "cli", silent: None}
        assert audit.verify(store).ok
    finally:
        store.dispose()

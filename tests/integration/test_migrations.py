"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import service.db.auth_tables  # noqa: F401  (every table module registers on Base)
import service.db.worker_tables  # noqa: F401
from service.db.session import get_engine
from service.db.tables import Base

pytestmark = pytest.mark.integration


def test_models_and_migrations_agree(db_url):
    with get_engine(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_single_head():
    from alembic.script import ScriptDirectory

    from service.db.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, heads

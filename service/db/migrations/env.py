"""Alembic environment: the URL comes from the service's own config; the models from
service.db.tables, the one package that holds (and registers) every table."""

from __future__ import annotations

from typing import Any

from alembic import context

from service.db.session import get_engine
from service.db.tables import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""


def run() -> None:
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = get_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild a table (copy, drop, rename); with foreign keys on,
            # dropping `claims` would cascade to its documents and decisions. The pragma
            # only takes effect outside a transaction, so it goes to the DBAPI connection.
            _sqlite_foreign_keys(connection, False)
        try:
            context.configure(
                connection=connection, target_metadata=Base.metadata, render_as_batch=sqlite
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, True)


def _sqlite_foreign_keys(connection: Any, on: bool) -> None:
    connection.connection.dbapi_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


run()

"""Alembic environment: the URL comes from the service's own config; the models from
service.db.tables, the one package that holds (and registers) every table."""

from __future__ import annotations

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
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()

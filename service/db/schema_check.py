"""Is the database migrated? One readable line when it is not, instead of a traceback.

`schema_problem(url)` compares the database's Alembic revision with the newest
migration this code ships. The CLI asks it when a command fails on the database
(`explain_database_error`), and `claims serve`, `claims worker` and `claims scheduler`
ask it at start-up (`startup_problem`): "the database at instance/claims.db has no
tables yet: run `claims db upgrade`".
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from service.config import mask_url
from service.db.migrate import alembic_config

log = logging.getLogger(__name__)
UPGRADE = "run `claims db upgrade`"


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def where(url: str) -> str:
    """The database in words: the SQLite file, else the URL with its password masked."""
    if url.startswith("sqlite"):
        return url.split("///", 1)[-1] or url
    return mask_url(url)


def schema_problem(url: str) -> str | None:
    """None when the database is at this code's newest migration; else one line saying
    what is wrong and what to run. Raises sqlalchemy's DBAPIError when the database
    cannot be reached."""
    current = _current_heads(url)
    scripts = _scripts()
    wanted = set(scripts.get_heads())
    if current == wanted:
        return None
    if not current:
        return f"the database at {where(url)} has no tables yet: {UPGRADE}"
    known = {script.revision for script in scripts.walk_revisions()}
    at = ", ".join(sorted(current))
    if current - known:
        return (
            f"the database at {where(url)} is at revision {at}, which this version does "
            "not know (a newer version migrated it): run that version, or restore a backup"
        )
    return f"the database at {where(url)} is at revision {at}, not the newest: {UPGRADE}"


def _current_heads(url: str) -> set[str]:
    """The database's revisions, read over a connection of its own that is closed before
    returning: `claims serve` asks in gunicorn's master, and a pooled connection left
    there would be shared by every forked worker."""
    connect_args = {"connect_timeout": 3}
    if url.startswith("sqlite"):
        connect_args = {}
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def startup_problem(url: str) -> str | None:
    """`schema_problem` for a long-running process: a database that cannot be reached
    yet is not a reason to refuse to start (it is logged; /readyz says so)."""
    try:
        return schema_problem(url)
    except DBAPIError as exc:
        log.warning("database not reachable at start-up: %s", _first_line(exc))
        return None


def explain_database_error(url: str, error: DBAPIError) -> str | None:
    """One line for a command that failed on the database because it is not migrated or
    cannot be reached; None when neither is the cause (the error is then a real one)."""
    try:
        return schema_problem(url)
    except DBAPIError as exc:
        return f"cannot reach the database at {where(url)}: {_first_line(exc)}"


def _first_line(exc: DBAPIError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return (text.strip().splitlines() or ["unknown error"])[0][:300]

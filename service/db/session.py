"""Database engines and sessions, created on demand (never at import).

`Session` and `Sessions` are the types the layers above name in their signatures (they
import no SQLAlchemy themselves).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

import service.db.tables  # noqa: F401 - every mapper, for configure_mappers in warm_up

Sessions = sessionmaker[Session]  # a session factory, bound to one database
__all__ = [
    "READ_ONLY",
    "Session",
    "Sessions",
    "dispose_all",
    "get_engine",
    "ping",
    "rowcount",
    "session_factory",
    "warm_up",
]
_engines: dict[tuple[str, int, int], Engine] = {}
READ_ONLY = "claims_read_only"  # execution option: this transaction never writes


def get_engine(url: str, statement_timeout_ms: int = 0, lock_timeout_ms: int = 0) -> Engine:
    """The engine of `url` (one per process and timeouts). On PostgreSQL every session
    has `statement_timeout` and `lock_timeout` (ms, 0 = none): a statement or a wait for a
    row lock over them fails (`errors.is_timeout`) instead of holding the request."""
    key = (url, statement_timeout_ms, lock_timeout_ms)
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = _create(url, statement_timeout_ms, lock_timeout_ms)
    return engine


def _create(url: str, statement_timeout_ms: int = 0, lock_timeout_ms: int = 0) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            hide_parameters=True,  # statement parameters are claimants' data: never in errors
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_timeout=5,
        pool_recycle=3600,
        connect_args={
            "connect_timeout": 3,
            "options": f"-c statement_timeout={int(statement_timeout_ms)}"
            f" -c lock_timeout={int(lock_timeout_ms)}",
        },
        hide_parameters=True,
    )
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


PING_AFTER_IDLE = 10.0  # seconds; a connection idle longer is tested before use


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Test a connection that sat idle (server restarted, firewall dropped it) before
    handing it out; a broken one is replaced. A busy connection is not tested (a
    round trip per transaction): if the server restarts under load, the first
    statement on each stale connection fails, the request answers 503 with
    Retry-After, and the pool replaces all its connections at once."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as exc:
        raise DisconnectionError(str(exc)) from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Writers queue on the lock at BEGIN instead of failing on upgrade; readers
    # (marked READ_ONLY) take no lock and read a snapshot.
    read_only = conn.get_execution_options().get(READ_ONLY)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched."""
    return int(cast(CursorResult[Any], result).rowcount)


def ping(session: Session) -> None:
    """One round trip (SELECT 1); raises when the database does not answer."""
    session.execute(text("SELECT 1"))


def session_factory(url: str, statement_timeout_ms: int = 0, lock_timeout_ms: int = 0) -> Sessions:
    engine = get_engine(url, statement_timeout_ms, lock_timeout_ms)
    return sessionmaker(bind=engine, expire_on_commit=False)


def warm_up(url: str) -> bool:
    """Configure every mapper and initialise the dialect once (a worker's main process,
    before it forks work horses); leaves no connection open. False when the database
    did not answer (the jobs will retry)."""
    configure_mappers()
    try:
        engine = get_engine(url)
        with engine.connect():
            pass
        engine.dispose()  # the pool is empty when the horses fork
    except Exception:  # noqa: BLE001 - the database may be down
        return False
    return True


def dispose_all() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()

"""The database's errors as the layers above see them (they import no SQLAlchemy).

`Conflict`: a unique constraint refused a row (e.g. a reused external_ref).
`UNAVAILABLE`: the database cannot be reached or its pool is exhausted (answered 503).
`DatabaseError`: any error the database driver raised (the CLI explains it in one line).
`is_timeout`: the error is PostgreSQL ending a statement (statement_timeout) or a wait for
a lock (lock_timeout, or a deadlock): the database is busy, not down (also answered 503).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError as DatabaseError
from sqlalchemy.exc import IntegrityError as Conflict
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)

__all__ = ["Conflict", "DatabaseError", "UNAVAILABLE", "is_timeout"]
_TIMEOUT_STATES = {"57014", "55P03", "40P01"}  # query_canceled, lock_not_available, deadlock


def is_timeout(error: BaseException) -> bool:
    """True for a statement or lock wait PostgreSQL ended (SQLSTATE 57014, 55P03, 40P01)."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in _TIMEOUT_STATES

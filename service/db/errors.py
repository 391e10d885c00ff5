"""The database's errors as the layers above see them (they import no SQLAlchemy).

`Conflict`: a unique constraint refused a row (e.g. a reused external_ref).
`UNAVAILABLE`: the database cannot be reached or its pool is exhausted (answered 503).
`DatabaseError`: any error the database driver raised (the CLI explains it in one line).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError as DatabaseError
from sqlalchemy.exc import IntegrityError as Conflict
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)

__all__ = ["Conflict", "DatabaseError", "UNAVAILABLE"]

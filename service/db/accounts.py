"""Identities: console users (people), their sessions and failed logins, API keys (machines)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import statements as sql
from service.db.session import rowcount
from service.db.tables import ApiKeyRow, ConsoleSessionRow, LoginThrottleRow, UserRow


def user_by_username(session: Session, username: str) -> UserRow | None:
    return session.scalar(select(UserRow).where(UserRow.username == username))


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def key_by_prefix(session: Session, prefix: str) -> ApiKeyRow | None:
    return session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))


def key_for_authentication(session: Session, prefix: str) -> Any:
    """id, prefix, name, role, secret_hash, revoked_at, last_used_at of the key, or None."""
    return session.execute(sql.API_KEY_BY_PREFIX, {"prefix": prefix}).first()


def touch_key(session: Session, key_id: int, now: datetime) -> None:
    session.execute(sql.TOUCH_API_KEY, {"key_id": key_id, "now": now})


def list_keys(session: Session) -> list[ApiKeyRow]:
    return list(session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id)))


# --- console sessions ---------------------------------------------------------------


def add_session(session: Session, row: ConsoleSessionRow) -> None:
    session.add(row)


def session_with_user(
    session: Session, session_id: str
) -> tuple[ConsoleSessionRow, UserRow] | None:
    """The session row and its user, or None."""
    found = session.execute(
        select(ConsoleSessionRow, UserRow)
        .join(UserRow, UserRow.id == ConsoleSessionRow.user_id)
        .where(ConsoleSessionRow.id == session_id)
    ).first()
    return None if found is None else (found[0], found[1])


def end_sessions(session: Session, user_id: int, now: datetime, reason: str) -> int:
    """End every open session of the user; returns how many were open."""
    return rowcount(
        session.execute(
            update(ConsoleSessionRow)
            .where(ConsoleSessionRow.user_id == user_id, ConsoleSessionRow.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
        )
    )


# --- login throttles ----------------------------------------------------------------


def throttles_for_update(session: Session, keys: list[str], now: datetime) -> dict[str, Any]:
    """The throttle rows of these keys, created (0 failures) where missing and locked
    until commit, so two logins for one name or address are counted one after the other."""
    for key in keys:
        try:
            with session.begin_nested():
                session.execute(
                    insert(LoginThrottleRow).values(key=key, failures=0, last_attempt_at=now)
                )
        except IntegrityError:
            pass  # it exists
    rows = session.scalars(
        select(LoginThrottleRow).where(LoginThrottleRow.key.in_(keys)).with_for_update()
    )
    return {row.key: row for row in rows}


def forget_failures(session: Session, key: str) -> None:
    session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.key == key))


def take_back_failure(session: Session, key: str) -> None:
    """Undo the failure counted when an attempt began (it turned out to be right)."""
    session.execute(
        update(LoginThrottleRow)
        .where(LoginThrottleRow.key == key, LoginThrottleRow.failures > 0)
        .values(failures=LoginThrottleRow.failures - 1)
    )


def purge_sessions(session: Session, expired_before: datetime, limit: int) -> int:
    """Delete up to `limit` session records whose absolute end is before the cutoff."""
    ids = session.scalars(
        select(ConsoleSessionRow.id)
        .where(ConsoleSessionRow.expires_at < expired_before)
        .order_by(ConsoleSessionRow.expires_at)
        .limit(limit)
    ).all()
    if not ids:
        return 0
    return rowcount(session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.id.in_(ids))))


def purge_login_throttles(session: Session, quiet_since: datetime, limit: int) -> int:
    """Delete up to `limit` failure counts with no attempt since the cutoff (forgotten)."""
    keys = session.scalars(
        select(LoginThrottleRow.key)
        .where(LoginThrottleRow.last_attempt_at < quiet_since)
        .order_by(LoginThrottleRow.last_attempt_at)
        .limit(limit)
    ).all()
    if not keys:
        return 0
    return rowcount(session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.key.in_(keys))))

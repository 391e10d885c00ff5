"""Identities: console users (people) and API keys (machine clients)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import statements as sql
from service.db.tables import ApiKeyRow, UserRow


def user_by_username(session: Session, username: str) -> UserRow | None:
    return session.scalar(select(UserRow).where(UserRow.username == username))


def user_by_id(session: Session, user_id: int) -> UserRow | None:
    return session.get(UserRow, user_id)


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

"""Console users: created with an argon2id password hash, enabled or disabled, given a new
password or role (the last three end every session of the user), listed.

Logging in is service/usecases/check_credentials.py.
"""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher

from service.db import accounts, audit
from service.db.tables import UserRow
from service.domain.identity import IdentityError, check_role
from service.usecases.context import Context

hasher = PasswordHasher()


def create_user(
    ctx: Context,
    username: str,
    password: str,
    role: str,
    *,
    email: str | None = None,
    actor: str = "cli",
    source: str | None = None,
) -> None:
    check_role(role)
    if (
        not 1 <= len(username) <= 64
        or not username.replace("_", "").replace(".", "").replace("-", "").isalnum()
    ):
        raise IdentityError("usernames are 1-64 letters, digits, '.', '_' or '-'")
    if len(password) < 12:
        raise IdentityError("passwords are at least 12 characters")
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        if accounts.user_by_username(session, username) is not None:
            raise IdentityError(f"user {username!r} exists")
        session.add(
            UserRow(
                username=username,
                password_hash=hasher.hash(password),
                role=role,
                email=email,
                active=True,
                created_at=now,
            )
        )
        audit.append_audit(
            session,
            actor=actor,
            action="user.created",
            at=now,
            subject=audit.subject("user", username),
            source=source,
            after={"username": username, "role": role},
        )
        session.commit()


def set_user_active(ctx: Context, username: str, active: bool, actor: str = "cli") -> bool:
    """Enable or disable a user; disabling ends every session of the user at once."""
    return _change_user(
        ctx, username, actor, "user.enabled" if active else "user.disabled", active=active
    )


def change_password(ctx: Context, username: str, password: str, actor: str = "cli") -> bool:
    """A new password (at least 12 characters); every session of the user ends."""
    if len(password) < 12:
        raise IdentityError("passwords are at least 12 characters")
    return _change_user(
        ctx, username, actor, "user.password_changed", password_hash=hasher.hash(password)
    )


def set_user_role(ctx: Context, username: str, role: str, actor: str = "cli") -> bool:
    """Give the user another role; every session of the user ends (log in again)."""
    check_role(role)
    return _change_user(ctx, username, actor, "user.role_changed", role=role)


SESSION_END_REASONS = {
    "user.disabled": "disabled",
    "user.password_changed": "password_changed",
    "user.role_changed": "role_changed",
}


def _change_user(ctx: Context, username: str, actor: str, action: str, **values: Any) -> bool:
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        user = accounts.user_by_username(session, username)
        if user is None:
            return False
        before = {"role": user.role, "active": user.active}
        for name, value in values.items():
            setattr(user, name, value)
        ended = 0
        if action in SESSION_END_REASONS:
            ended = accounts.end_sessions(session, user.id, now, SESSION_END_REASONS[action])
        after = {"username": username, "role": user.role, "active": user.active}
        audit.append_audit(
            session,
            actor=actor,
            action=action,
            at=now,
            subject=audit.subject("user", username),
            before=before if action == "user.role_changed" else None,
            after={**after, "sessions_ended": ended},
        )
        session.commit()
        return True


def list_users(ctx: Context) -> list[dict[str, Any]]:
    with ctx.unit_of_work() as session:
        return [
            {
                "username": u.username,
                "role": u.role,
                "email": u.email,
                "active": u.active,
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in accounts.list_users(session)
        ]

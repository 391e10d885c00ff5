"""Console users (argon2id passwords) and API keys (`ck_live_XXXXXXXX.<secret>`, sha256 kept)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from service.db import accounts, audit
from service.db.tables import ApiKeyRow, UserRow
from service.usecases import login_throttle as throttle
from service.usecases.context import Context

ROLES = ("intake", "supervisor", "analyst", "finance", "admin")
KEY_PREFIX = "ck_live_"
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often
_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal which users exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class IdentityError(ValueError):
    """Bad input for a user or key (unknown role, name taken, weak password)."""


@dataclass(frozen=True)
class Identity:
    kind: str  # key | user
    id: int
    name: str  # username, or the key's name (= the client id of an intake client)
    role: str
    prefix: str | None = None

    @property
    def client_scope(self) -> str | None:
        return self.name if self.role == "intake" else None


@dataclass(frozen=True)
class NewKey:
    prefix: str
    name: str
    role: str
    key: str  # shown once


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise IdentityError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- users ------------------------------------------------------------------------


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
    _check_role(role)
    if (
        not 1 <= len(username) <= 64
        or not username.replace("_", "").replace(".", "").replace("-", "").isalnum()
    ):
        raise IdentityError("usernames are 1-64 letters, digits, '.', '_' or '-'")
    if len(password) < 12:
        raise IdentityError("passwords are at least 12 characters")
    now = ctx.clock()
    with ctx.unit_of_work() as session:
        if accounts.user_by_username(session, username) is not None:
            raise IdentityError(f"user {username!r} exists")
        session.add(
            UserRow(
                username=username,
                password_hash=_hasher.hash(password),
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
            source=source,
            after={"username": username, "role": role},
        )
        session.commit()


@dataclass(frozen=True)
class LoginResult:
    """The user when the password matched; `retry_after` (seconds) when the attempt was
    refused unchecked because of earlier failures (answer 429)."""

    identity: Identity | None
    retry_after: int = 0


def login(ctx: Context, username: str, password: str, source: str | None) -> LoginResult:
    """Check the password, throttled per username and client address (login_throttle).

    Audited: login.succeeded, login.failed, and login.locked when a failure locks the
    username or the address."""
    now = ctx.clock()
    keys = throttle.throttle_keys(username, source)
    with ctx.unit_of_work() as session:
        rows = accounts.throttles_for_update(session, keys, now)
        wait = throttle.retry_after(rows, now, ctx.config)
        if wait:
            session.rollback()
            return LoginResult(None, wait)
        counts = {key: rows[key].failures for key in keys}  # before this attempt
        locks = throttle.count_attempt(rows, now, ctx.config)
        session.commit()
    with ctx.unit_of_work() as session:
        user = accounts.user_by_username(session, username)
        ok = _verify(user.password_hash if user else _DUMMY_HASH, password)
        ok = ok and user is not None and user.active
        actor = username[:120] or "?"
        audit.append_audit(
            session,
            actor=actor,
            action="login.succeeded" if ok else "login.failed",
            at=now,
            source=source,
        )
        if not ok or user is None:
            for key in locks:
                audit.append_audit(
                    session,
                    actor=actor,
                    action="login.locked",
                    at=now,
                    source=source,
                    after={
                        "scope": "username" if key.startswith(throttle.USER) else "address",
                        "failures": counts[key] + 1,
                        "minutes": int(ctx.config.login_lock_minutes),
                    },
                )
            session.commit()
            return LoginResult(None)
        accounts.forget_failures(session, keys[0])
        for key in keys[1:]:
            accounts.take_back_failure(session, key)
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.last_login_at = now
        session.commit()
        return LoginResult(Identity("user", user.id, user.username, user.role))


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def active_user(ctx: Context, user_id: int) -> Identity | None:
    with ctx.unit_of_work() as session:
        user = accounts.user_by_id(session, user_id)
        if user is None or not user.active:
            return None
        return Identity("user", user.id, user.username, user.role)


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
        ctx, username, actor, "user.password_changed", password_hash=_hasher.hash(password)
    )


def set_user_role(ctx: Context, username: str, role: str, actor: str = "cli") -> bool:
    """Give the user another role; every session of the user ends (log in again)."""
    _check_role(role)
    return _change_user(ctx, username, actor, "user.role_changed", role=role)


SESSION_END_REASONS = {
    "user.disabled": "disabled",
    "user.password_changed": "password_changed",
    "user.role_changed": "role_changed",
}


def _change_user(ctx: Context, username: str, actor: str, action: str, **values: Any) -> bool:
    now = ctx.clock()
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


# --- API keys ---------------------------------------------------------------------


def create_api_key(
    ctx: Context,
    name: str,
    role: str,
    *,
    actor: str = "cli",
    source: str | None = None,
    key: str | None = None,
) -> NewKey:
    """A new key; `key` may be given (tests, bootstrap) but must have the format."""
    _check_role(role)
    if not 1 <= len(name) <= 64:
        raise IdentityError("key names are 1 to 64 characters")
    if key is None:
        key = f"{KEY_PREFIX}{secrets.token_hex(4)}.{secrets.token_urlsafe(32)}"
    prefix, _, secret = key.partition(".")
    if not prefix.startswith("ck_") or len(prefix) > 32 or len(secret) < 16:
        raise IdentityError("keys look like ck_live_XXXXXXXX.<at least 16 secret characters>")
    now = ctx.clock()
    with ctx.unit_of_work() as session:
        if accounts.key_by_prefix(session, prefix) is not None:
            raise IdentityError(f"a key with prefix {prefix} exists")
        session.add(
            ApiKeyRow(
                prefix=prefix,
                secret_hash=secret_hash(secret),
                name=name,
                role=role,
                created_at=now,
                created_by=actor,
            )
        )
        audit.append_audit(
            session,
            actor=actor,
            action="apikey.created",
            at=now,
            source=source,
            after={"prefix": prefix, "name": name, "role": role},
        )
        session.commit()
    return NewKey(prefix, name, role, key)


def ensure_api_key(ctx: Context, key: str, name: str, role: str) -> None:
    """Create this exact key unless its prefix exists (test and demo bootstrap)."""
    prefix = key.partition(".")[0]
    with ctx.unit_of_work() as session:
        if accounts.key_by_prefix(session, prefix) is not None:
            return
    try:
        create_api_key(ctx, name, role, actor="bootstrap", key=key)
    except IdentityError:
        pass  # created meanwhile


def authenticate_key(ctx: Context, token: str) -> Identity | None:
    """The key's identity, or None (malformed, unknown, revoked, wrong secret).

    A process keeps a key it looked up for API_KEY_CACHE_SECONDS (the secret is
    still checked on every request): a revocation through this process applies at
    once, one made elsewhere within that time.
    """
    prefix, dot, secret = token.partition(".")
    if not dot or not prefix.startswith("ck_") or len(prefix) > 32 or not secret:
        return None
    cached = ctx.key_cache.get(prefix)
    if cached is None or cached.expires_at <= monotonic():
        cached = _look_up_key(ctx, prefix)
        if cached is None:
            return None
    if not hmac.compare_digest(cached.secret_hash, secret_hash(secret)):
        return None
    return cached.identity


@dataclass(frozen=True)
class CachedKey:
    identity: Identity
    secret_hash: str
    expires_at: float  # time.monotonic()


MAX_CACHED_KEYS = 10_000


def _look_up_key(ctx: Context, prefix: str) -> CachedKey | None:
    now = ctx.clock()
    with ctx.unit_of_work(read_only=True) as session:
        row = accounts.key_for_authentication(session, prefix)
    if row is None or row.revoked_at is not None:
        ctx.key_cache.pop(prefix, None)
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        with ctx.unit_of_work() as session:
            accounts.touch_key(session, row.id, now)
            session.commit()
    cached = CachedKey(
        Identity("key", row.id, row.name, row.role, row.prefix),
        row.secret_hash,
        monotonic() + ctx.config.api_key_cache_seconds,
    )
    if ctx.config.api_key_cache_seconds > 0:
        if len(ctx.key_cache) >= MAX_CACHED_KEYS:
            ctx.key_cache.clear()
        ctx.key_cache[prefix] = cached
    return cached


def revoke_api_key(ctx: Context, prefix: str, actor: str = "cli") -> bool:
    now = ctx.clock()
    with ctx.unit_of_work() as session:
        row = accounts.key_by_prefix(session, prefix)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = now
        ctx.key_cache.pop(prefix, None)
        audit.append_audit(
            session,
            actor=actor,
            action="apikey.revoked",
            at=now,
            after={"prefix": prefix, "name": row.name},
        )
        session.commit()
        return True


def list_api_keys(ctx: Context) -> list[dict[str, Any]]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    with ctx.unit_of_work() as session:
        return [
            {
                "prefix": k.prefix,
                "name": k.name,
                "role": k.role,
                "created_at": when(k.created_at),
                "created_by": k.created_by,
                "last_used_at": when(k.last_used_at),
                "revoked_at": when(k.revoked_at),
            }
            for k in accounts.list_keys(session)
        ]

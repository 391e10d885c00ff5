"""Authentication: a console login (argon2id password, audited either way, throttled per
username and client address: login_throttle.py), the user behind a console session
(console_sessions.py), and an API key checked on every request (looked-up keys are cached
for API_KEY_CACHE_SECONDS)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from time import monotonic

from argon2.exceptions import InvalidHashError, VerificationError

from service.db import accounts, audit
from service.domain.identity import CachedKey, Identity
from service.usecases import login_throttle as throttle
from service.usecases.context import Context
from service.usecases.manage_api_keys import secret_hash
from service.usecases.manage_users import hasher

TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often
MAX_CACHED_KEYS = 10_000
# Verified against when the username is unknown, so timing does not reveal which users exist.
_DUMMY_HASH = hasher.hash("not-a-real-password")


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
    now = ctx.clock.now()
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
        subject = audit.subject("user", actor)
        if ok and user is not None:  # the rows first, the audit chain's lock last
            accounts.forget_failures(session, keys[0])
            for key in keys[1:]:
                accounts.take_back_failure(session, key)
            if hasher.check_needs_rehash(user.password_hash):
                user.password_hash = hasher.hash(password)
            user.last_login_at = now
        audit.append_audit(
            session,
            actor=actor,
            action="login.succeeded" if ok else "login.failed",
            at=now,
            subject=subject,
            source=source,
        )
        if not ok or user is None:
            for key in locks:
                audit.append_audit(
                    session,
                    actor=actor,
                    action="login.locked",
                    at=now,
                    subject=subject,
                    source=source,
                    after={
                        "scope": "username" if key.startswith(throttle.USER) else "address",
                        "failures": counts[key] + 1,
                        "minutes": ctx.config.login_lock_minutes,
                    },
                )
            session.commit()
            return LoginResult(None)
        session.commit()
        return LoginResult(Identity("user", user.id, user.username, user.role))


def _verify(stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


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


def _look_up_key(ctx: Context, prefix: str) -> CachedKey | None:
    now = ctx.clock.now()
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

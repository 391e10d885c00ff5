"""Console sessions, kept server-side so that they can end when they should.

The signed cookie carries a random token; the database keeps sha256(token), the user,
the last use and the absolute end. A session stops working, for every copy of the
cookie at once, when:
- the user logs out (every session of that user ends: "log out everywhere"),
- the user's password or role changes, or the user is disabled,
- it has not been used for SESSION_IDLE_MINUTES, or SESSION_HOURS have passed since login.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from service.db import accounts, audit
from service.db.tables import ConsoleSessionRow
from service.domain.identity import Identity
from service.usecases.context import Context

TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(ctx: Context, identity: Identity) -> str:
    """A new session for a user who has just logged in; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    with ctx.unit_of_work() as db:
        accounts.add_session(
            db,
            ConsoleSessionRow(
                id=_session_id(token),
                user_id=identity.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=ctx.config.session_hours),
            ),
        )
        db.commit()
    return token


def resume_session(ctx: Context, token: str) -> Identity | None:
    """The user of a live session (with the role they have now), else None. A session
    found idle or past its end is marked ended."""
    if not token or len(token) > 200:
        return None
    now = ctx.clock.now()
    idle = timedelta(minutes=ctx.config.session_idle_minutes)
    with ctx.unit_of_work() as db:
        found = accounts.session_with_user(db, _session_id(token))
        if found is None:
            return None
        row, user = found
        if row.ended_at is not None:
            return None
        reason = (
            "expired"
            if now >= row.expires_at
            else "idle"
            if now - row.last_seen_at >= idle  # like expires_at: the boundary has ended it
            else "disabled"
            if not user.active
            else None
        )
        if reason is not None:
            row.ended_at, row.end_reason = now, reason
            db.commit()
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
            db.commit()
        return Identity("user", user.id, user.username, user.role)


def log_out(ctx: Context, identity: Identity, source: str | None) -> int:
    """End every session of this user; audited. Returns how many were open."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as db:
        ended = accounts.end_sessions(db, identity.id, now, "logout")
        audit.append_audit(
            db,
            actor=identity.name,
            action="logout",
            at=now,
            subject=audit.subject("user", identity.name),
            source=source,
            after={"sessions_ended": ended},
        )
        db.commit()
    return ended

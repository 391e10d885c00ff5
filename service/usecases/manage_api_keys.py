"""API keys for machine clients (`ck_live_XXXXXXXX.<secret>`; only sha256(secret) is kept):
created (shown once), revoked, listed. Checking one is service/usecases/check_credentials.py."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.db import accounts, audit
from service.db.tables import ApiKeyRow
from service.domain.identity import IdentityError, check_role
from service.domain.text import text_problem
from service.usecases.context import Context

KEY_PREFIX = "ck_live_"


@dataclass(frozen=True)
class NewKey:
    prefix: str
    name: str
    role: str
    key: str  # shown once


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


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
    check_role(role)
    if not 1 <= len(name) <= 64:
        raise IdentityError("key names are 1 to 64 characters")
    problem = text_problem(name)  # the checks every one-line text field gets (CLI too)
    if problem or name != name.strip():
        raise IdentityError(f"key name: {problem or 'Must not start or end with spaces.'}")
    if key is None:
        key = f"{KEY_PREFIX}{secrets.token_hex(4)}.{secrets.token_urlsafe(32)}"
    prefix, _, secret = key.partition(".")
    if not prefix.startswith("ck_") or len(prefix) > 32 or len(secret) < 16:
        raise IdentityError("keys look like ck_live_XXXXXXXX.<at least 16 secret characters>")
    now = ctx.clock.now()
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
            subject=audit.subject("apikey", prefix),
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


def revoke_api_key(ctx: Context, prefix: str, actor: str = "cli") -> bool:
    now = ctx.clock.now()
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
            subject=audit.subject("apikey", prefix),
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

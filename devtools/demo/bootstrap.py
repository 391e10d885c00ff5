"""The demo's database set-up, through the service's own code: migrations, console users,
an intake API key. Safe to run again on the data of an earlier run."""

from __future__ import annotations

import os
from pathlib import Path

from devtools.localservices import say
from service.config import Config
from service.db.migrate import upgrade
from service.domain.identity import IdentityError
from service.usecases.check_credentials import authenticate_key
from service.usecases.context import Context, build_context
from service.usecases.manage_api_keys import create_api_key
from service.usecases.manage_users import create_user

PASSWORD = "demo-password-change-me"  # noqa: S105 - a demo database on this machine
USERS = ("supervisor", "analyst", "admin")
CLIENT = "demo-portal"  # the intake client the sample claims belong to


def migrate(config: Config) -> None:
    say("migrating the database (claims db upgrade)")
    upgrade(config.database_url)


def identities(config: Config, key_file: Path) -> str:
    """Console users (created once) and the intake key the samples go in with: the one
    kept from an earlier run while it still works, else a new one. Returns the key."""
    ctx = build_context(config)
    created = [name for name in USERS if _create_user(ctx, name)]
    if created:
        say(f"console users {', '.join(created)} created (password {PASSWORD})")
    key = key_file.read_text().strip() if key_file.exists() else ""
    if key and authenticate_key(ctx, key) is not None:
        return key
    key = create_api_key(ctx, CLIENT, "intake", actor="demo").key
    handle = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as out:
        out.write(key + "\n")
    say(f"intake API key for client {CLIENT} created (kept in {key_file})")
    return key


def _create_user(ctx: Context, name: str) -> bool:
    try:
        create_user(ctx, name, PASSWORD, name, actor="demo")
    except IdentityError as exc:
        if "exists" in str(exc):
            return False
        raise
    return True

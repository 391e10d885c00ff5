"""`claims users ...`, `claims apikeys ...` and `claims audit verify`."""

from __future__ import annotations

import os
from typing import Any

import click

from service.domain.identity import ROLES, IdentityError


def _ctx() -> Any:
    from service.config import ConfigError, load
    from service.usecases.context import build_context

    try:
        return build_context(load())
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


@click.group()
def users() -> None:
    """Console users (people)."""


@users.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--email", default=None, help="Where appeal reminders reach this person.")
@click.option("--password", default=None, help="Default: $CLAIMS_PASSWORD, else a prompt.")
def users_create(username: str, role: str, email: str | None, password: str | None) -> None:
    """Create a console user; the password is stored as an argon2id hash."""
    from service.usecases.manage_users import create_user

    password = (
        password
        or os.environ.get("CLAIMS_PASSWORD")
        or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    try:
        create_user(_ctx(), username, password, role, email=email, actor="cli")
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {username} ({role}) created")


@users.command("list")
def users_list() -> None:
    """Users with their role and last login."""
    from service.usecases.manage_users import list_users

    for u in list_users(_ctx()):
        state = "active" if u["active"] else "disabled"
        click.echo(f"{u['username']}\t{u['role']}\t{state}\tlast login {u['last_login_at']}")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable a user (their sessions stop working at once)."""
    from service.usecases.manage_users import set_user_active

    if not set_user_active(_ctx(), username, False):
        raise click.ClickException(f"no user {username}")
    click.echo(f"user {username} disabled")


@users.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    """Enable a disabled user (their old sessions stay ended: they log in again)."""
    from service.usecases.manage_users import set_user_active

    if not set_user_active(_ctx(), username, True):
        raise click.ClickException(f"no user {username}")
    click.echo(f"user {username} enabled")


@users.command("password")
@click.argument("username")
@click.option("--password", default=None, help="Default: $CLAIMS_PASSWORD, else a prompt.")
def users_password(username: str, password: str | None) -> None:
    """Set a new password; every session of the user ends at once."""
    from service.usecases.manage_users import change_password

    password = (
        password
        or os.environ.get("CLAIMS_PASSWORD")
        or click.prompt("New password", hide_input=True, confirmation_prompt=True)
    )
    try:
        found = change_password(_ctx(), username, password, actor="cli")
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None
    if not found:
        raise click.ClickException(f"no user {username}")
    click.echo(f"password of {username} changed; their sessions have ended")


@users.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def users_role(username: str, role: str) -> None:
    """Give a user another role; every session of the user ends at once."""
    from service.usecases.manage_users import set_user_role

    if not set_user_role(_ctx(), username, role, actor="cli"):
        raise click.ClickException(f"no user {username}")
    click.echo(f"{username} is now {role}; their sessions have ended")


@click.group()
def apikeys() -> None:
    """API keys for machine clients."""


@apikeys.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", required=True, help="For role intake: the client id its claims carry.")
def apikeys_create(role: str, name: str) -> None:
    """Create a key. It is printed once, alone on the last line."""
    from service.usecases.manage_api_keys import create_api_key

    try:
        new = create_api_key(_ctx(), name, role, actor="cli")
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created key {new.prefix} for {name} ({role}); it is not shown again:")
    click.echo(new.key)


@apikeys.command("list")
def apikeys_list() -> None:
    """Keys with prefix, name, role, last use and revocation (never the secret)."""
    from service.usecases.manage_api_keys import list_api_keys

    for k in list_api_keys(_ctx()):
        state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
        used = k["last_used_at"]
        click.echo(f"{k['prefix']}\t{k['name']}\t{k['role']}\t{state}\tlast used {used}")


@apikeys.command("revoke")
@click.argument("prefix")
def apikeys_revoke(prefix: str) -> None:
    """Revoke the key with this prefix (e.g. ck_live_1a2b3c4d)."""
    from service.usecases.manage_api_keys import revoke_api_key

    if not revoke_api_key(_ctx(), prefix, actor="cli"):
        raise click.ClickException(f"no active key {prefix}")
    click.echo(f"revoked {prefix}")


@click.group()
def audit() -> None:
    """The audit trail: hash chains per subject, signed checkpoints."""


@audit.command("verify")
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="PEM public key that signed older checkpoints (repeatable); the configured key is "
    "always trusted.",
)
def audit_verify(public_keys: tuple[str, ...]) -> None:
    """Check every chain and checkpoint; exit 1 naming the first problem (an edited,
    inserted or deleted event, a forged or missing checkpoint)."""
    from pathlib import Path

    from service.usecases.verify_audit import verify_audit

    ctx = _ctx()
    report = verify_audit(ctx, [Path(p).read_text() for p in public_keys])
    if report.ok:
        exported = (
            f"newest exported checkpoint {report.exported_seq} matches"
            if report.exported_seq
            else f"no exported checkpoint in {ctx.config.audit_checkpoint_dir}"
        )
        click.echo(
            f"audit trail intact: {report.checked} events in {report.subjects} subjects, "
            f"{report.checkpoints} checkpoints; {exported}"
        )
        return
    where = f" at event {report.broken_id}" if report.broken_id is not None else ""
    click.echo(
        f"audit trail BROKEN{where}: {report.problem} ({report.checked} events checked before it)",
        err=True,
    )
    raise SystemExit(1)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Write a signed checkpoint now (the scheduler writes one every
    AUDIT_CHECKPOINT_SECONDS) and export it to AUDIT_CHECKPOINT_DIR."""
    from service.adapters.signing import SigningKeyError
    from service.usecases.write_checkpoint import write_checkpoint

    ctx = _ctx()
    try:
        written = write_checkpoint(ctx, force=True)
    except SigningKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if written is None:
        click.echo("nothing new since the last checkpoint")
        return
    click.echo(
        f"checkpoint {written['seq']}: {written['event_count']} events, root {written['root']}, "
        f"exported to {ctx.config.audit_checkpoint_dir}"
    )

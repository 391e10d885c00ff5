"""`claims`: one command, many subcommands."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from service.config import ConfigError, load


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Claim adjudication service."""


def run() -> None:
    from sqlalchemy.exc import DBAPIError

    try:
        main(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    except DBAPIError as exc:  # an unmigrated or unreachable database: one line, no traceback
        from service.db.schema_check import explain_database_error

        message = explain_database_error(load().database_url, exc)
        if message is None:
            raise
        click.echo(f"error: {message}", err=True)
        sys.exit(2)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=0, type=int, help="Processes (default: one per core).")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn."""
    config = _config()
    _require_migrated(config.database_url)
    from gunicorn.app.base import BaseApplication

    from service.logs import configure_logging
    from service.metrics import prepare_multiproc_dir

    configure_logging(config.log_level, config.log_format)
    prepare_multiproc_dir()

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers or os.cpu_count() or 1)
            self.cfg.set("worker_class", "sync")
            self.cfg.set("timeout", 30)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("keepalive", 5)
            self.cfg.set("accesslog", None)

        def load(self) -> Any:
            from service.api.app import create_app

            return create_app(load())

    Server().run()


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the database schema."""
    from service.db.migrate import upgrade

    config = _config()
    upgrade(config.database_url, revision)
    click.echo(f"database at revision {revision}")


@main.command("config")
def show_config() -> None:
    """Print the effective settings (secrets masked)."""
    for name, value in _config().masked().items():
        click.echo(f"{name}={value}")


@main.group()
def policies() -> None:
    """Policies."""


@policies.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def policies_import(file: Path) -> None:
    """Load policies from a JSON or CSV file (one CSV row per coverage)."""
    from marshmallow import ValidationError

    from service.api.schemas import PolicySchema
    from service.usecases import manage_policies
    from service.usecases.context import build_context

    ctx = build_context(_config())
    schema = PolicySchema()
    try:
        raw = manage_policies.read_policy_file(file)
    except (ValueError, KeyError) as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    created = replaced = 0
    for index, item in enumerate(raw, start=1):
        number = str(item.get("number", "")) if isinstance(item, dict) else ""
        body = {k: v for k, v in item.items() if k != "number"} if number else item
        try:
            data = schema.load(body)
        except ValidationError as exc:
            raise click.ClickException(
                f"{file}: policy #{index} {number!r}: {exc.messages}"
            ) from None
        policy = manage_policies.policy_from_data(number, data)
        if manage_policies.put_policy(ctx, policy, actor="cli:import"):
            created += 1
        else:
            replaced += 1
    click.echo(f"imported {created + replaced} policies ({created} new, {replaced} replaced)")


def _config() -> Any:
    try:
        return load()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


def _require_migrated(database_url: str) -> None:
    """Refuse to start on a database this version's migrations have not reached."""
    from service.db.schema_check import startup_problem

    problem = startup_problem(database_url)
    if problem:
        raise click.ClickException(problem)


def _attach_feature_commands() -> None:
    """Subcommands that live beside their features."""
    from service.auth_cli import apikeys, audit, users
    from service.rules.cli import rules
    from worker.cli import outbox, reports_group, scheduler, worker

    for command in (rules, worker, scheduler, outbox, reports_group, users, apikeys, audit):
        main.add_command(command)


_attach_feature_commands()

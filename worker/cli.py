"""Click commands for the main `claims` group: worker, scheduler, outbox, reports.

Each builds a context and calls the same use case the API calls for the same action.
"""

from __future__ import annotations

from datetime import date, timedelta

import click

from service import config as config_module
from service.adapters.queue import RQDispatcher
from service.logs import configure_logging
from service.usecases.context import Context, build_context
from service.usecases.resend_dead_message import (
    MessageNotFound,
    NotDead,
    list_dead_messages,
    resend_dead_message,
)
from service.usecases.send_daily_digest import send_daily_digest
from service.usecases.write_bordereau import ended_month, write_bordereau
from service.usecases.write_bordereau import report_path as bordereau_path
from service.usecases.write_remittance import write_remittance
from worker import runner
from worker import scheduler as sweeps


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option(
    "--fork",
    is_flag=True,
    help="Run each job in a forked work horse (rq.Worker): isolation, less speed.",
)
def worker(burst: bool, fork: bool) -> None:
    """Run an RQ worker on QUEUES (notifications, followups, reports)."""
    config = config_module.load()
    _require_migrated(config.database_url)  # before logging is set up: alembic talks at INFO
    _logged(config)
    runner.run_worker(config, burst=burst, fork=fork)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run one sweep and exit.")
@click.option("--interval", type=float, default=None, help="Seconds between sweeps.")
def scheduler(once: bool, interval: float | None) -> None:
    """Sweep the database: follow-ups, SLA, regulatory clocks, reports and the outbox relay."""
    config = config_module.load()
    _require_migrated(config.database_url)  # before logging is set up: alembic talks at INFO
    _logged(config)
    if once:
        click.echo(sweeps.sweep_once(config))
    else:
        sweeps.run_scheduler(config, interval=interval)


def _require_migrated(database_url: str) -> None:
    """One line instead of a traceback per job or sweep on an unmigrated database."""
    from service.db.schema_check import startup_problem

    problem = startup_problem(database_url)
    if problem:
        raise click.ClickException(problem)


def _logged(config: config_module.Config) -> config_module.Config:
    """Our JSON/text handler on the root logger (RQ then adds none of its own), so job
    lines carry the request id from job.meta and personal data is redacted."""
    configure_logging(config.log_level, config.log_format)
    return config


def _context() -> Context:
    config = config_module.load()
    return build_context(config, RQDispatcher(config.redis_url))


@click.group("outbox")
def outbox() -> None:
    """Inspect and re-send outbox messages."""


@outbox.command("dead")
@click.option("--limit", type=int, default=100)
def outbox_dead(limit: int) -> None:
    """List messages that ran out of tries."""
    items = list_dead_messages(_context(), limit)["items"]
    for item in items:
        click.echo(
            f"{item['id']}\t{item['event']}\t{item['channel']}\tclaim={item['claim_id']}\t"
            f"attempts={item['attempts']}\t{item['last_error'] or ''}"
        )
    if not items:
        click.echo("no dead messages")


@outbox.command("resend")
@click.argument("outbox_id", type=int)
def outbox_resend(outbox_id: int) -> None:
    """Put a dead message back in line (audited); sent now if Redis is up, else by the
    next sweep."""
    try:
        resend_dead_message(_context(), outbox_id, actor="cli")
    except (MessageNotFound, NotDead):
        raise click.ClickException(f"outbox {outbox_id} is not dead") from None
    click.echo(f"outbox {outbox_id} queued again")


@click.group("reports")
def reports_group() -> None:
    """Operations digest, monthly bordereau and remittance."""


@reports_group.command("monthly")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--force", is_flag=True, help="write again a month already stored")
def reports_monthly(month: str, force: bool) -> None:
    """Write the bordereau CSV of a month that has ended and print its path; a month
    already stored is kept unless --force (as for the remittance)."""
    context = _context()
    try:
        ended_month(context, month)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    path = bordereau_path(context, month)
    if path.exists() and not force:
        click.echo(
            f"{month} is already stored, kept as it is (--force to write it again)", err=True
        )
    click.echo(str(write_bordereau(context, month, overwrite=force)))


@reports_group.command("remittance")
@click.option("--month", required=True, help="YYYY-MM (calendar month in UTC, as the bordereau)")
@click.option("--force", is_flag=True, help="write again a month already stored")
def reports_remittance(month: str, force: bool) -> None:
    """Write the remittance CSV of a month that has ended (claim lines and their
    adjustments, totals per claim and policy, balancing with the bordereau) and print its
    path. A month already stored is kept (it is what finance was served) unless --force;
    the current month and later ones are refused (still changing)."""
    try:
        path, written = write_remittance(_context(), month, overwrite=force)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    if not written:
        click.echo(
            f"{month} is already stored, kept as it is (--force to write it again)", err=True
        )
    click.echo(str(path))


@reports_group.command("daily")
@click.option("--day", default=None, help="YYYY-MM-DD (default: yesterday, UTC)")
def reports_daily(day: str | None) -> None:
    """Queue the daily digest email for a day (once per day)."""
    ctx = _context()
    which = date.fromisoformat(day) if day else (ctx.clock.now() - timedelta(days=1)).date()
    queued = send_daily_digest(ctx, which)
    click.echo(f"digest for {which} {'queued' if queued else 'already queued or no recipients'}")

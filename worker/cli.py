"""Click commands for the main `claims` group: main.add_command(worker), etc."""

from __future__ import annotations

import click

from service import config as config_module
from service.db.session import session_factory
from worker import delivery, reports, runner
from worker.clock import SystemClock


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
    _require_migrated(config.DATABASE_URL)  # before logging is set up: alembic talks at INFO
    _logged(config)
    runner.run_worker(config, burst=burst, fork=fork)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run one sweep and exit.")
@click.option("--interval", type=float, default=None, help="Seconds between sweeps.")
def scheduler(once: bool, interval: float | None) -> None:
    """Sweep the database: follow-ups, SLA, regulatory clocks, reports and the outbox relay."""
    config = config_module.load()
    _require_migrated(config.DATABASE_URL)  # before logging is set up: alembic talks at INFO
    _logged(config)
    if once:
        click.echo(runner.sweep_once(config))
    else:
        runner.run_scheduler(config, interval=interval)


def _require_migrated(database_url: str) -> None:
    """One line instead of a traceback per job or sweep on an unmigrated database."""
    from service.db.schema_check import startup_problem

    problem = startup_problem(database_url)
    if problem:
        raise click.ClickException(problem)


def _logged(config: config_module.Config) -> config_module.Config:
    """Our JSON/text handler on the root logger (RQ then adds none of its own), so job
    lines carry the request id from job.meta and personal data is redacted."""
    from service.logs import configure_logging

    configure_logging(config.LOG_LEVEL, config.LOG_FORMAT)
    return config


@click.group("outbox")
def outbox() -> None:
    """Inspect and re-send outbox messages."""


@outbox.command("dead")
@click.option("--limit", type=int, default=100)
def outbox_dead(limit: int) -> None:
    """List messages that ran out of tries."""
    config = config_module.load()
    with session_factory(config.DATABASE_URL)() as session:
        rows = delivery.list_dead(session, limit)
        for row in rows:
            click.echo(
                f"{row.id}\t{row.event}\t{row.channel}\tclaim={row.claim_id}\t"
                f"attempts={row.attempts}\t{row.last_error or ''}"
            )
        if not rows:
            click.echo("no dead messages")


@outbox.command("resend")
@click.argument("outbox_id", type=int)
def outbox_resend(outbox_id: int) -> None:
    """Put a dead message back in line; the next sweep (or now, if Redis is up) sends it."""
    from service.adapters.queue import RQDispatcher

    config = config_module.load()
    sessions = session_factory(config.DATABASE_URL)
    if not delivery.resend(sessions, outbox_id, SystemClock().now()):
        raise click.ClickException(f"outbox {outbox_id} is not dead")
    RQDispatcher(config.REDIS_URL).dispatch_outbox([outbox_id])
    click.echo(f"outbox {outbox_id} queued again")


@click.group("reports")
def reports_group() -> None:
    """Operations digest and monthly bordereau."""


@reports_group.command("monthly")
@click.option("--month", required=True, help="YYYY-MM")
def reports_monthly(month: str) -> None:
    """Write the bordereau CSV for a month and print its path."""
    config = config_module.load()
    try:
        reports.month_bounds(month)
    except ValueError:
        raise click.BadParameter("expected YYYY-MM", param_hint="--month") from None
    click.echo(str(reports.write_bordereau(session_factory(config.DATABASE_URL), config, month)))


@reports_group.command("daily")
@click.option("--day", default=None, help="YYYY-MM-DD (default: yesterday, UTC)")
def reports_daily(day: str | None) -> None:
    """Queue the daily digest email for a day (once per day)."""
    from datetime import date, timedelta

    config = config_module.load()
    now = SystemClock().now()
    which = date.fromisoformat(day) if day else (now - timedelta(days=1)).date()
    queued = reports.schedule_daily_digest(session_factory(config.DATABASE_URL), config, which, now)
    click.echo(f"digest for {which} {'queued' if queued else 'already queued or no recipients'}")

"""The two processes: `claims worker` (RQ worker) and `claims scheduler` (sweep loop)."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from typing import Any

from service.adapters import queue as rq_adapter
from service.db.session import session_factory
from service.usecases import (
    appeal_claim,  # also registers the appeals table
    purge_records,
)
from worker import followups, regulatory, relay, reports
from worker.clock import Clock, SystemClock

log = logging.getLogger(__name__)


def run_worker(
    config: Any, burst: bool = False, worker_class: Any = None, fork: bool = False
) -> bool:
    """Run an RQ worker on config.QUEUES, in priority order, JSON serializer.

    By default jobs run in the worker process itself (`rq.SimpleWorker`): no fork per
    job, and the database engine, templates and SMTP session stay warm from one job to
    the next. RQ's job timeout still holds (its SIGALRM death penalty works in-process)
    and a worker that dies mid-delivery is recovered by the outbox lease and the relay
    sweep, as with the forking worker. `fork=True` (`claims worker --fork`) runs each job
    in a forked work horse (`rq.Worker`) instead, for isolation from jobs that crash the
    interpreter or leak memory, at about half the delivery throughput (docs/performance.md)."""
    from rq import SimpleWorker, Worker
    from rq.serializers import JSONSerializer

    from service.adapters import smtp

    preload(config.DATABASE_URL)
    connection = rq_adapter.connect(config.REDIS_URL)
    queues = [rq_adapter.get_queue(connection, name) for name in config.QUEUES]
    cls = worker_class or (Worker if fork else SimpleWorker)
    worker = cls(queues, connection=connection, serializer=JSONSerializer)
    try:
        return bool(worker.work(burst=burst, logging_level=config.LOG_LEVEL))
    finally:
        smtp.close_connections()


def preload(database_url: str | None = None) -> None:
    """Import the jobs, configure the ORM, initialise the database dialect and compile every
    template once in the worker's main process, so each forked work horse inherits them
    instead of paying for them on every job. No connection is left open across the fork."""
    from sqlalchemy.orm import configure_mappers

    import worker.jobs  # noqa: F401 - imported for the horses
    from service.db.session import get_engine
    from worker import render

    configure_mappers()
    if database_url:
        try:
            engine = get_engine(database_url)
            with engine.connect():
                pass
            engine.dispose()  # the pool is empty when the horses fork
        except Exception:  # noqa: BLE001 - the database may be down; jobs retry
            log.warning("worker preload: database not reachable yet")

    env = render.environment()
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)
    render.carc_words()


def sweep_once(config: Any, clock: Clock | None = None, connection: Any = None) -> dict[str, Any]:
    """Follow-ups, SLA, reports, the outbox relay, then the purge of expired records.
    Each step isolated from the others."""
    clock = clock or SystemClock()
    now = clock.now()
    sessions = session_factory(config.DATABASE_URL)
    connection = connection or rq_adapter.connect(config.REDIS_URL)
    digest_hour = int(getattr(config, "DIGEST_HOUR_UTC", 7))
    steps = {
        "followups": lambda: followups.sweep_followups(sessions, config, now),
        "sla": lambda: followups.sweep_sla(sessions, config, now),
        "regulatory": lambda: regulatory.sweep_regulatory(sessions, config, now),
        "appeals": lambda: _appeal_reminders(config, now),
        "digest": lambda: (
            now.hour >= digest_hour
            and reports.schedule_daily_digest(
                sessions, config, (now - timedelta(days=1)).date(), now
            )
        ),
        "bordereau": lambda: str(
            reports.write_bordereau(sessions, config, reports.previous_month(now), overwrite=False)
        ),
        "relay": lambda: relay.relay_outbox(sessions, connection, config, now),
        "purge": lambda: purge_records.purge_expired(sessions, config, now),
    }
    result: dict[str, Any] = {}
    for name, step in steps.items():
        try:
            result[name] = step()
        except Exception:  # noqa: BLE001 - one failing step must not stop the others
            log.exception("sweep step %s failed", name)
            result[name] = "error"
    return result


def _appeal_reminders(config: Any, now: Any) -> int:
    """Remind each open appeal's assignee (else the supervisors' lead) a day before its
    deadline, once: `appeal_claim.queue_appeal_reminders` marks the appeal reminded and
    writes an `appeal_reminder` outbox row (dedupe key appeal:<id>:reminder:email)."""
    from service.usecases.context import build_context

    ctx = build_context(config)
    ctx.clock = lambda: now
    return len(appeal_claim.queue_appeal_reminders(ctx, now))


def run_scheduler(
    config: Any,
    clock: Clock | None = None,
    interval: float | None = None,
    stop: threading.Event | None = None,
    iterations: int | None = None,
) -> None:
    """Run sweep_once every `interval` s (SWEEP_INTERVAL_SECONDS, default 30) until stopped."""
    interval = float(interval or getattr(config, "SWEEP_INTERVAL_SECONDS", 30))
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    connection = rq_adapter.connect(config.REDIS_URL)
    log.info("scheduler started: sweep every %ss", interval)
    done = 0
    while not stop.is_set():
        result = sweep_once(config, clock, connection)
        log.debug("sweep: %s", result)
        done += 1
        if iterations is not None and done >= iterations:
            break
        stop.wait(interval)
    log.info("scheduler stopped")

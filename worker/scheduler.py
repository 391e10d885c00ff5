"""`claims scheduler`: the sweep loop. Each step is one use case; all see one instant.

A step that fails is logged and the others still run; every step is safe to run
twice or from two machines (deterministic dedupe keys, conditional updates).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from service.adapters.queue import RQDispatcher
from service.clock import Clock, FixedClock, SystemClock
from service.config import Config
from service.ports import Dispatcher
from service.usecases.appeal_claim import queue_appeal_reminders
from service.usecases.context import Context, build_context
from service.usecases.escalate_overdue import escalate_overdue
from service.usecases.purge_records import purge_expired
from service.usecases.relay_outbox import relay_outbox
from service.usecases.run_statutory_clocks import run_statutory_clocks
from service.usecases.send_daily_digest import digest_due, send_daily_digest
from service.usecases.send_reminders import send_reminders
from service.usecases.write_bordereau import previous_month, write_bordereau
from service.usecases.write_checkpoint import checkpoint_due

log = logging.getLogger(__name__)


def steps(ctx: Context) -> dict[str, Callable[[], Any]]:
    """The sweep's steps in order: follow-ups, SLA, statutory clocks, appeal reminders,
    the daily digest, last month's bordereau, the outbox relay (after the steps that write
    messages, so what they wrote goes out in the same pass), the purge of expired records
    (idempotency keys, ended sessions, forgotten login failures), then the signed audit
    checkpoint when one is due (last, so it covers what this sweep audited)."""
    now = ctx.clock.now()

    def digest() -> bool:
        day = digest_due(ctx)
        return day is not None and send_daily_digest(ctx, day)

    return {
        "followups": lambda: send_reminders(ctx),
        "sla": lambda: escalate_overdue(ctx),
        "regulatory": lambda: run_statutory_clocks(ctx),
        "appeals": lambda: len(queue_appeal_reminders(ctx, now)),
        "digest": digest,
        "bordereau": lambda: str(write_bordereau(ctx, previous_month(now), overwrite=False)),
        "relay": lambda: relay_outbox(ctx),
        "purge": lambda: purge_expired(ctx),
        "audit_checkpoint": lambda: checkpoint_due(ctx),
    }


def sweep_once(
    config: Config, clock: Clock | None = None, dispatcher: Dispatcher | None = None
) -> dict[str, Any]:
    """Run every step once at one instant; a failing step is logged as "error"."""
    now = (clock or SystemClock()).now()
    ctx = build_context(config, dispatcher or RQDispatcher(config.redis_url), FixedClock(now))
    result: dict[str, Any] = {}
    for name, step in steps(ctx).items():
        try:
            result[name] = step()
        except Exception:  # noqa: BLE001 - one failing step must not stop the others
            log.exception("sweep step %s failed", name)
            result[name] = "error"
    return result


def run_scheduler(
    config: Config,
    clock: Clock | None = None,
    interval: float | None = None,
    stop: threading.Event | None = None,
    iterations: int | None = None,
) -> None:
    """Run sweep_once every `interval` s (SWEEP_INTERVAL_SECONDS) until stopped."""
    interval = float(interval or config.sweep_interval_seconds)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    dispatcher = RQDispatcher(config.redis_url)  # one Redis connection for every sweep
    log.info("scheduler started: sweep every %ss", interval)
    done = 0
    while not stop.is_set():
        result = sweep_once(config, clock, dispatcher)
        log.debug("sweep: %s", result)
        done += 1
        if iterations is not None and done >= iterations:
            break
        stop.wait(interval)
    log.info("scheduler stopped")

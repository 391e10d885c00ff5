"""Outbox relay: move due rows from the database to the job queue, deterministically.

Run by the scheduler's sweep (and safe to run from several places at once):
1. rows stuck in `sending` past their lease (a worker died) go back to `pending`;
2. rows `enqueued` for a while whose job the queue no longer holds (Redis wiped or
   restarted empty) are enqueued again;
3. `pending` rows whose next_attempt_at has come are enqueued, then marked `enqueued`,
   per queue, up to DELIVERY_BATCH_SIZE rows per job (service/adapters/queue.py).
When the queue is down nothing is marked and nothing raises: the rows stay due and the
next sweep after it returns picks them up.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from service.db import outbox
from service.usecases.context import Context

log = logging.getLogger(__name__)
STALE_ENQUEUED = timedelta(minutes=2)
QUEUE_BY_EVENT = {
    "reminder": "followups",
    "sla_breach": "followups",
    "status_update": "followups",
    "regulatory_clock": "followups",
    "appeal_reminder": "followups",
    "daily_digest": "reports",
}


def queue_for(event: str, queues: list[str]) -> str:
    wanted = QUEUE_BY_EVENT.get(event, "notifications")
    if wanted in queues or not queues:
        return wanted
    return "notifications" if "notifications" in queues else queues[0]


def relay_outbox(ctx: Context, batch: int = 500) -> int:
    """Enqueue what is due; returns how many rows were handed to the queue."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        released = outbox.release_expired(session, now)
        session.commit()
    if released:
        log.warning("released %s outbox rows whose worker died mid-delivery", released)
    with ctx.unit_of_work(read_only=True) as session:
        due = outbox.due_for_relay(session, now, now - STALE_ENQUEUED, batch)
    by_queue: dict[str, list[tuple[int, int, str | None]]] = {}
    for outbox_id, attempts, event, request_id in due:
        name = queue_for(event, list(ctx.config.queues))
        by_queue.setdefault(name, []).append((outbox_id, attempts, request_id))
    moved = 0
    for name, rows in by_queue.items():
        pairs = [(i, a) for i, a, _ in rows]
        try:
            ctx.dispatcher.enqueue_deliveries(
                name, pairs, {i: rid for i, _, rid in rows}, ctx.config.delivery_batch_size
            )
        except Exception as exc:  # noqa: BLE001 - queue away: rows stay due
            log.warning("relay paused, Redis unavailable: %s", type(exc).__name__)
            break
        with ctx.unit_of_work() as session:
            outbox.mark_enqueued(session, pairs, now)
            session.commit()
        moved += len(rows)
    if moved:
        log.info("relayed %s outbox rows", moved)
    return moved

"""Outbox relay: move due rows from the database to RQ, deterministically.

Run by the scheduler's sweep (and safe to run from several places at once):
1. rows stuck in `sending` past their lease (a worker died) go back to `pending`;
2. rows `enqueued` for a while whose job Redis no longer holds (Redis wiped or
   restarted empty) are enqueued again;
3. `pending` rows whose next_attempt_at has come are enqueued, then marked
   `enqueued`: per queue, up to BATCH_SIZE rows per job
   (`worker.jobs.deliver_outbox_batch`, job id `outbox-batch-<digest of the
   (id, attempts) pairs>`; a lone row keeps `outbox-<id>-<attempts>`). Attempts a
   live job already holds are not enqueued again (service.adapters.queue).
When Redis is down nothing is marked and nothing raises: the rows stay due and
the next sweep after Redis returns picks them up.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.adapters import queue as rq_adapter
from service.db.tables import OutboxRow
from worker.delivery import SENDING

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


def release_expired(sessions: sessionmaker[Session], now: datetime) -> int:
    with sessions.begin() as session:
        count = session.execute(
            update(OutboxRow)
            .where(OutboxRow.status == SENDING, OutboxRow.next_attempt_at < now)
            .values(
                status="pending",
                next_attempt_at=now,
                last_error="lease expired: worker stopped mid-delivery",
            )
        ).rowcount
    if count:
        log.warning("released %s outbox rows whose worker died mid-delivery", count)
    return count


def _due(session: Session, now: datetime, batch: int) -> list[tuple[int, int, str, str | None]]:
    rows = session.execute(
        select(
            OutboxRow.id,
            OutboxRow.attempts,
            OutboxRow.event,
            OutboxRow.request_id,
            OutboxRow.status,
        )
        .where(
            or_(
                (OutboxRow.status == "pending") & (OutboxRow.next_attempt_at <= now),
                (OutboxRow.status == "enqueued") & (OutboxRow.enqueued_at < now - STALE_ENQUEUED),
            )
        )
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(batch)
    ).all()
    return [(r.id, r.attempts, r.event, r.request_id) for r in rows]


def relay_outbox(
    sessions: sessionmaker[Session], connection: Any, config: Any, now: datetime, batch: int = 500
) -> int:
    """Enqueue what is due; returns how many rows were handed to RQ."""
    release_expired(sessions, now)
    with sessions() as session:
        due = _due(session, now, batch)
    by_queue: dict[str, list[tuple[int, int, str | None]]] = {}
    for outbox_id, attempts, event, request_id in due:
        name = queue_for(event, list(config.QUEUES))
        by_queue.setdefault(name, []).append((outbox_id, attempts, request_id))
    size = int(getattr(config, "DELIVERY_BATCH_SIZE", 0) or rq_adapter.BATCH_SIZE)
    moved = 0
    for name, rows in by_queue.items():
        try:
            rq_adapter.enqueue_deliveries(
                connection,
                name,
                [(i, a) for i, a, _ in rows],
                {i: rid for i, _, rid in rows},
                batch_size=size,
            )
        except Exception as exc:  # noqa: BLE001 - Redis away: rows stay due
            log.warning("relay paused, Redis unavailable: %s", type(exc).__name__)
            break
        with sessions.begin() as session:
            for outbox_id, attempts, _ in rows:
                session.execute(
                    update(OutboxRow)
                    .where(
                        OutboxRow.id == outbox_id,
                        OutboxRow.status.in_(("pending", "enqueued")),
                        OutboxRow.attempts == attempts,
                    )
                    .values(status="enqueued", enqueued_at=now)
                )
        moved += len(rows)
    if moved:
        log.info("relayed %s outbox rows", moved)
    return moved

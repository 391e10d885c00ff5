"""The one module that talks to RQ.

The API hands outbox row ids to a Dispatcher after its transaction commits.
Dispatching never raises: if Redis is down the rows stay `pending` in the
database and the relay sweep (worker.relay) enqueues them when Redis is back.

Jobs are enqueued by dotted path with JSON arguments (never pickle) and a
deterministic id, `outbox-<row id>-<attempt>`: enqueuing the same delivery
attempt twice while its job still waits or runs is a no-op.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)

DELIVER_JOB = "worker.jobs.deliver_outbox"
LIVE_STATUSES = {"queued", "started", "scheduled", "deferred"}
DELIVERY_TIMEOUT = 180  # seconds an RQ job may run before RQ kills it
RESULT_TTL = 3600


class Dispatcher(Protocol):
    def dispatch_outbox(self, outbox_ids: list[int], request_id: str | None = None) -> None: ...


class NullDispatcher:
    """Leaves rows pending (for tests and tools that only write)."""

    def dispatch_outbox(self, outbox_ids: list[int], request_id: str | None = None) -> None:
        return None


def connect(redis_url: str) -> Any:
    """A Redis client that fails fast when the server is away."""
    from redis import Redis

    return Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=5)


def get_queue(connection: Any, name: str) -> Any:
    from rq import Queue
    from rq.serializers import JSONSerializer

    return Queue(name, connection=connection, serializer=JSONSerializer)


def delivery_job_id(outbox_id: int, attempt: int) -> str:
    return f"outbox-{outbox_id}-{attempt}"


def job_is_live(connection: Any, job_id: str) -> bool:
    """True when RQ still holds the job waiting or running."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    from rq.serializers import JSONSerializer

    try:
        job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    return str(getattr(status, "value", status)) in LIVE_STATUSES


def enqueue_delivery(
    connection: Any,
    queue_name: str,
    outbox_id: int,
    attempt: int = 0,
    request_id: str | None = None,
) -> bool:
    """Enqueue one delivery attempt; False when that attempt's job is already live."""
    job_id = delivery_job_id(outbox_id, attempt)
    if job_is_live(connection, job_id):
        return False
    get_queue(connection, queue_name).enqueue(
        DELIVER_JOB,
        outbox_id,
        job_id=job_id,
        meta={"request_id": request_id},
        job_timeout=DELIVERY_TIMEOUT,
        result_ttl=RESULT_TTL,
        failure_ttl=7 * 24 * 3600,
    )
    return True


def enqueue_call(connection: Any, queue_name: str, func: str, *args: Any, job_id: str) -> None:
    """Enqueue any job by dotted path under a deterministic id (reports, sweeps)."""
    if job_is_live(connection, job_id):
        return
    get_queue(connection, queue_name).enqueue(func, *args, job_id=job_id, result_ttl=RESULT_TTL)


class RQDispatcher:
    def __init__(self, redis_url: str, queue_name: str = "notifications") -> None:
        self.redis_url = redis_url
        self.queue_name = queue_name
        self._connection: Any = None

    def dispatch_outbox(self, outbox_ids: list[int], request_id: str | None = None) -> None:
        if not outbox_ids:
            return
        try:
            if self._connection is None:
                self._connection = connect(self.redis_url)
            for outbox_id in outbox_ids:
                enqueue_delivery(self._connection, self.queue_name, outbox_id, 0, request_id)
        except Exception as exc:  # noqa: BLE001 - Redis down must not fail the request
            log.warning(
                "outbox dispatch deferred to the relay sweep: %s", type(exc).__name__,
                extra={"request_id": request_id, "outbox_ids": outbox_ids},
            )

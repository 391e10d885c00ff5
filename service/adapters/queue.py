"""The one module that talks to RQ.

`RQDispatcher` is the Dispatcher (service/ports.py) the use cases hand
outbox row ids to after their transaction commits. Dispatching never raises: if
Redis is down the rows stay `pending` in the database and the relay sweep
(service/usecases/relay_outbox.py) enqueues them when Redis is back.

Jobs are enqueued by dotted path with JSON arguments (never pickle) and a
deterministic id: `outbox-<row id>-<attempt>` for one row, and for several rows
one batch job `outbox-batch-<digest of the (row id, attempt) pairs>` running
`worker.jobs.deliver_outbox_batch([ids])` (at most BATCH_SIZE rows). Each
attempt in a batch also gets a pointer key `claims:outbox-job:<id>-<attempt>`
naming its job, so "is this attempt already held by a live job?" has one answer
whichever job holds it: enqueuing the same delivery attempt twice while its job
still waits or runs is a no-op. Liveness is read as the job hash's `status`
field, in one pipelined round trip for any number of rows.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
from collections.abc import Iterable
from queue import Empty, SimpleQueue
from typing import Any

log = logging.getLogger(__name__)

DELIVER_JOB = "worker.jobs.deliver_outbox"
DELIVER_BATCH_JOB = "worker.jobs.deliver_outbox_batch"
BATCH_SIZE = 50  # rows per batch job: RQ's cost per job is shared by this many deliveries
LIVE_STATUSES = {"queued", "started", "scheduled", "deferred"}
DELIVERY_TIMEOUT = 180  # seconds an RQ job may run before RQ kills it
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600
POINTER_PREFIX = "claims:outbox-job:"
POINTER_TTL = FAILURE_TTL  # a pointer outlives any job that could still be waiting
BACKGROUND_BATCH = 500  # most ids the background hand-off enqueues in one round trip


def connect(redis_url: str, timeout: float = 5) -> Any:
    """A Redis client that fails fast when the server is away."""
    from redis import Redis

    return Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=timeout)


def ping(redis_url: str) -> bool:
    """True when Redis answers within a second."""
    try:
        return bool(connect(redis_url, timeout=1).ping())
    except Exception:  # noqa: BLE001 - any failure means: not reachable
        return False


def get_queue(connection: Any, name: str) -> Any:
    from rq import Queue
    from rq.serializers import JSONSerializer

    return Queue(name, connection=connection, serializer=JSONSerializer)


def delivery_job_id(outbox_id: int, attempt: int) -> str:
    return f"outbox-{outbox_id}-{attempt}"


def batch_job_id(items: Iterable[tuple[int, int]]) -> str:
    """Deterministic id of the batch job for these (row id, attempt) pairs, in any order."""
    text = ",".join(f"{i}-{a}" for i, a in sorted(set(items)))
    return "outbox-batch-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def pointer_key(outbox_id: int, attempt: int) -> str:
    return f"{POINTER_PREFIX}{outbox_id}-{attempt}"


def _statuses(connection: Any, job_ids: list[str]) -> list[str | None]:
    """Each job's status as RQ stores it (the `status` field of its hash), one round trip."""
    from rq.job import Job

    pipe = connection.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hget(Job.key_for(job_id), "status")
    return [value.decode() if isinstance(value, bytes) else value for value in pipe.execute()]


def job_is_live(connection: Any, job_id: str) -> bool:
    """True when RQ still holds the job waiting or running."""
    return _statuses(connection, [job_id])[0] in LIVE_STATUSES


def live_deliveries(connection: Any, items: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """The (row id, attempt) pairs that a live job, single or batch, already holds."""
    if not items:
        return set()
    pipe = connection.pipeline(transaction=False)
    for outbox_id, attempt in items:
        pipe.get(pointer_key(outbox_id, attempt))
    pointers = pipe.execute()
    job_ids = [
        p.decode() if isinstance(p, bytes) else p or delivery_job_id(*item)
        for p, item in zip(pointers, items, strict=True)
    ]
    statuses = _statuses(connection, job_ids)
    return {item for item, status in zip(items, statuses, strict=True) if status in LIVE_STATUSES}


def enqueue_deliveries(
    connection: Any,
    queue_name: str,
    items: Iterable[tuple[int, int]],
    request_ids: dict[int, str | None] | None = None,
    batch_size: int = BATCH_SIZE,
    check_live: bool = True,
) -> list[tuple[int, int]]:
    """Enqueue these delivery attempts, `batch_size` rows per job, skipping any a live job
    already holds; returns the pairs enqueued. Three pipelined round trips in all (one
    without `check_live`: a second job for a row is harmless, the delivery claims the
    row in the database first, but costs a worker's time)."""
    wanted = list(dict.fromkeys((int(i), int(a)) for i, a in items))
    live = live_deliveries(connection, wanted) if check_live else set()
    todo = [item for item in wanted if item not in live]
    if not todo:
        return []
    request_ids = request_ids or {}
    queue = get_queue(connection, queue_name)
    pipe = connection.pipeline()
    jobs = []
    size = max(1, int(batch_size))
    for start in range(0, len(todo), size):
        chunk = todo[start : start + size]
        ids = [outbox_id for outbox_id, _ in chunk]
        if len(chunk) == 1:
            job_id = delivery_job_id(*chunk[0])
            func, args = DELIVER_JOB, (ids[0],)
            meta: dict[str, Any] = {"request_id": request_ids.get(ids[0])}
        else:
            job_id = batch_job_id(chunk)
            func, args = DELIVER_BATCH_JOB, (ids,)
            meta = {"request_ids": {str(i): request_ids.get(i) for i in ids}}
        for outbox_id, attempt in chunk:
            pipe.set(pointer_key(outbox_id, attempt), job_id, ex=POINTER_TTL)
        jobs.append(
            queue.prepare_data(
                func,
                args,
                job_id=job_id,
                meta=meta,
                timeout=DELIVERY_TIMEOUT,
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
            )
        )
    queue.enqueue_many(jobs, pipeline=pipe)
    pipe.execute()
    return todo


def enqueue_delivery(
    connection: Any,
    queue_name: str,
    outbox_id: int,
    attempt: int = 0,
    request_id: str | None = None,
) -> bool:
    """Enqueue one delivery attempt; False when that attempt's job is already live."""
    return bool(
        enqueue_deliveries(connection, queue_name, [(outbox_id, attempt)], {outbox_id: request_id})
    )


def enqueue_call(connection: Any, queue_name: str, func: str, *args: Any, job_id: str) -> None:
    """Enqueue any job by dotted path under a deterministic id (reports, sweeps)."""
    if job_is_live(connection, job_id):
        return
    get_queue(connection, queue_name).enqueue(func, *args, job_id=job_id, result_ttl=RESULT_TTL)


class RQDispatcher:
    """Enqueues deliveries of committed outbox rows; never raises.

    `background`: rows a request has just committed (`new=True`) are handed to a
    thread of this process that enqueues whatever has gathered in one pipelined
    round trip, as batch jobs: the request does not wait for Redis, and under load
    many claims' messages share one job. Ids still in that hand-off when the
    process dies are not lost: their rows are `pending` in the database and the
    relay sweep enqueues them. The thread starts on first use, in the process that
    uses it (after gunicorn's fork); `flush()` waits for it (tests, shutdown).
    """

    def __init__(
        self, redis_url: str, queue_name: str = "notifications", *, background: bool = False
    ) -> None:
        self.redis_url = redis_url
        self.queue_name = queue_name
        self.background = background
        self._connection: Any = None
        self._handoff: SimpleQueue[tuple[int, str | None]] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._owner_pid = os.getpid()
        self._start_lock = threading.Lock()
        self._idle = threading.Condition()
        self._unfinished = 0

    def dispatch_outbox(
        self, outbox_ids: list[int], request_id: str | None = None, *, new: bool = False
    ) -> None:
        if not outbox_ids:
            return
        if new and self.background:
            self._ensure_thread()
            with self._idle:
                self._unfinished += len(outbox_ids)
            for outbox_id in outbox_ids:
                self._handoff.put((outbox_id, request_id))
            return
        self._enqueue(dict.fromkeys(outbox_ids, request_id), check_live=not new)

    def enqueue_deliveries(
        self,
        queue_name: str,
        attempts: list[tuple[int, int]],
        request_ids: dict[int, str | None],
        batch_size: int,
    ) -> None:
        """The relay's hand-off: raises when Redis cannot be reached. A batch size of 0
        means BATCH_SIZE."""
        if self._connection is None:
            self._connection = connect(self.redis_url)
        enqueue_deliveries(
            self._connection, queue_name, attempts, request_ids, batch_size or BATCH_SIZE
        )

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every handed-off id was enqueued (or given up); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def _enqueue(self, request_ids: dict[int, str | None], check_live: bool) -> None:
        try:
            if self._connection is None:
                self._connection = connect(self.redis_url)
            enqueue_deliveries(
                self._connection,
                self.queue_name,
                [(outbox_id, 0) for outbox_id in request_ids],
                request_ids,
                check_live=check_live,
            )
        except Exception as exc:  # noqa: BLE001 - Redis down must not fail the request
            log.warning(
                "outbox dispatch deferred to the relay sweep: %s",
                type(exc).__name__,
                extra={"outbox_ids": list(request_ids)},
            )

    def _ensure_thread(self) -> None:
        pid = os.getpid()
        if self._owner_pid == pid and self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._owner_pid == pid and self._thread is not None and self._thread.is_alive():
                return
            if self._owner_pid != pid:  # forked: the parent's hand-off and thread are not ours
                self._handoff = SimpleQueue()
                self._unfinished = 0
                self._connection = None
                self._idle = threading.Condition()
                self._owner_pid = pid
                self._thread = None
            if self._thread is None:
                atexit.register(self.flush, 2.0)
            self._thread = threading.Thread(target=self._run, name="outbox-dispatch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._handoff.get()]
            while len(batch) < BACKGROUND_BATCH:
                try:
                    batch.append(self._handoff.get_nowait())
                except Empty:
                    break
            try:
                self._enqueue(dict(batch), check_live=False)
            finally:
                with self._idle:
                    self._unfinished -= len(batch)
                    self._idle.notify_all()

"""RQ jobs: module-level functions taking ids or plain strings (JSON serializer).

Each is a thin entrypoint: ids in, one use case called, its result out. Enqueued by
dotted path, e.g. "worker.jobs.deliver_outbox". Every job runs inside the request id
its enqueuer put in `job.meta` (`request_id`), so the worker's log lines join the API
request that caused them; a job without one gets a fresh id.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from rq import get_current_job
from rq.timeouts import BaseTimeoutException

from service import config as config_module
from service.logs import request_id_scope
from service.usecases.context import Context, build_context
from service.usecases.deliver_message import deliver_message, deliver_messages
from worker import scheduler

T = TypeVar("T")
TIMEOUTS = (BaseTimeoutException,)  # RQ's job timeout: recorded, then the job stops


def job_context() -> Context:
    """A context for one job, from the environment's settings (no queue hand-off: rows a
    job writes go out with the relay)."""
    return build_context(config_module.load())


def _meta() -> dict[str, Any]:
    job = get_current_job()
    return dict(getattr(job, "meta", None) or {})


def job_request_id() -> str | None:
    """The request id carried in the current RQ job's meta, if any."""
    value = _meta().get("request_id")
    return str(value) if value else None


def with_request_id(func: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with request_id_scope(job_request_id()):
            return func(*args, **kwargs)

    return wrapper


@with_request_id
def deliver_outbox(outbox_id: int) -> str:
    return deliver_message(job_context(), int(outbox_id), interrupts=TIMEOUTS)


def deliver_outbox_batch(outbox_ids: list[int]) -> dict[str, str]:
    """Several rows in one job (the relay's and the dispatcher's batches). Each row is its
    own attempt, as `deliver_outbox` would make it, under its own request id from
    `job.meta["request_ids"]`."""
    request_ids = dict(_meta().get("request_ids") or {})

    def scope(outbox_id: int) -> AbstractContextManager[object]:
        return request_id_scope(request_ids.get(str(outbox_id)))

    results = deliver_messages(job_context(), list(outbox_ids), each=scope, interrupts=TIMEOUTS)
    return {str(outbox_id): result for outbox_id, result in results.items()}


@with_request_id
def run_sweeps() -> dict[str, Any]:
    """One pass of every sweep (for running the sweep from RQ instead of the scheduler)."""
    return scheduler.sweep_once(config_module.load())

"""RQ jobs: module-level functions taking ids or plain strings (JSON serializer).

Each is a thin entrypoint: read the configuration, open sessions, call one
use case. Enqueued by dotted path, e.g. "worker.jobs.deliver_outbox".
Every job runs inside the request id its enqueuer put in `job.meta`
(`request_id`), so the worker's log lines join the API request that caused them;
a job without one gets a fresh id.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from service import config as config_module
from service.db.session import session_factory
from service.logs import request_id_scope
from worker import delivery, reports, runner

T = TypeVar("T")


def _context() -> tuple[Any, Any]:
    config = config_module.load()
    return config, session_factory(config.DATABASE_URL)


def job_request_id() -> str | None:
    """The request id carried in the current RQ job's meta, if any."""
    from rq import get_current_job

    job = get_current_job()
    meta = getattr(job, "meta", None) or {}
    value = meta.get("request_id")
    return str(value) if value else None


def with_request_id(func: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with request_id_scope(job_request_id()):
            return func(*args, **kwargs)

    return wrapper


@with_request_id
def deliver_outbox(outbox_id: int) -> str:
    config, sessions = _context()
    return delivery.deliver(sessions, int(outbox_id), config)


def deliver_outbox_batch(outbox_ids: list[int]) -> dict[str, str]:
    """Several rows in one job (the relay's and the dispatcher's batches). Each row is its
    own attempt, as `deliver_outbox` would make it, under its own request id from
    `job.meta["request_ids"]`."""
    from rq import get_current_job

    config, sessions = _context()
    job = get_current_job()
    request_ids = dict((getattr(job, "meta", None) or {}).get("request_ids") or {})

    def scope(outbox_id: int) -> Any:
        return request_id_scope(request_ids.get(str(outbox_id)))

    results = delivery.deliver_many(sessions, list(outbox_ids), config, each=scope)
    return {str(outbox_id): result for outbox_id, result in results.items()}


@with_request_id
def run_sweeps() -> dict[str, Any]:
    """One pass of every sweep (for running the sweep from RQ instead of the scheduler)."""
    config, _ = _context()
    return runner.sweep_once(config)


@with_request_id
def monthly_bordereau(month: str) -> str:
    config, sessions = _context()
    return str(reports.write_bordereau(sessions, config, month))

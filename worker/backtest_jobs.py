"""RQ jobs of a backtest: one per chunk of the stored history, then one merge.

Thin entrypoints, enqueued by dotted path with JSON arguments and
deterministic ids (`backtest-<id>-chunk-<n>`, `backtest-<id>-merge`); the
logic lives in service.usecases.backtest. A chunk that runs twice rewrites
its own partial report, so nothing is counted twice; the last chunk to finish
enqueues the merge on the queue it came from, and the merge can run again.
"""

from __future__ import annotations

from typing import Any

from service import config as config_module
from service.adapters import queue as rq_adapter
from service.usecases import backtest
from service.usecases.context import build_context
from worker.jobs import with_request_id


def _enqueuer(config: Any) -> backtest.Enqueue:
    from rq import get_current_job

    job = get_current_job()
    queue_name = job.origin if job is not None else "reports"

    def enqueue(func: str, *args: Any, job_id: str) -> None:
        connection = rq_adapter.connect(config.redis_url)
        rq_adapter.enqueue_call(connection, queue_name, func, *args, job_id=job_id)

    return enqueue


@with_request_id
def run_backtest_chunk(backtest_id: str, chunk_no: int) -> dict[str, Any]:
    config = config_module.load()
    ctx = build_context(config)
    return backtest.run_chunk(ctx, str(backtest_id), int(chunk_no), _enqueuer(config))


@with_request_id
def merge_backtest(backtest_id: str) -> dict[str, Any]:
    ctx = build_context(config_module.load())
    result = backtest.merge(ctx, str(backtest_id))
    return {"id": result["id"], "status": result["status"]}

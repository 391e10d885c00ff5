"""`claims worker`: an RQ worker on the configured queues."""

from __future__ import annotations

import logging
from typing import Any

from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer

import worker.jobs  # noqa: F401 - the jobs, imported once for every work horse
from service.adapters import queue as rq_adapter
from service.adapters import smtp, templates
from service.config import Config
from service.db.session import warm_up

log = logging.getLogger(__name__)


def run_worker(
    config: Config, burst: bool = False, worker_class: Any = None, fork: bool = False
) -> bool:
    """Run an RQ worker on config.queues, in priority order, JSON serializer.

    By default jobs run in the worker process itself (`rq.SimpleWorker`): no fork per
    job, and the database engine, templates and SMTP session stay warm from one job to
    the next. RQ's job timeout still holds (its SIGALRM death penalty works in-process)
    and a worker that dies mid-delivery is recovered by the outbox lease and the relay
    sweep, as with the forking worker. `fork=True` (`claims worker --fork`) runs each job
    in a forked work horse (`rq.Worker`) instead, for isolation from jobs that crash the
    interpreter or leak memory, at about half the delivery throughput (docs/performance.md)."""
    preload(config.database_url)
    connection = rq_adapter.connect(config.redis_url)
    queues = [rq_adapter.get_queue(connection, name) for name in config.queues]
    cls = worker_class or (Worker if fork else SimpleWorker)
    rq_worker = cls(queues, connection=connection, serializer=JSONSerializer)
    try:
        return bool(rq_worker.work(burst=burst, logging_level=config.log_level))
    finally:
        smtp.close_connections()


def preload(database_url: str | None = None) -> None:
    """Configure the ORM, initialise the database dialect and compile every template once
    in the worker's main process, so each forked work horse inherits them instead of
    paying for them on every job. No connection is left open across the fork."""
    if database_url and not warm_up(database_url):
        log.warning("worker preload: database not reachable yet")
    env = templates.environment()
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)
    templates.carc_words()

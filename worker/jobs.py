"""RQ jobs: module-level functions taking ids or plain strings (JSON serializer).

Each is a thin entrypoint: read the configuration, open sessions, call one
use case. Enqueued by dotted path, e.g. "worker.jobs.deliver_outbox".
"""

from __future__ import annotations

from typing import Any

from service import config as config_module
from service.db.session import session_factory
from worker import delivery, reports, runner


def _context() -> tuple[Any, Any]:
    config = config_module.load()
    return config, session_factory(config.DATABASE_URL)


def deliver_outbox(outbox_id: int) -> str:
    config, sessions = _context()
    return delivery.deliver(sessions, int(outbox_id), config)


def run_sweeps() -> dict[str, Any]:
    """One pass of every sweep (for running the sweep from RQ instead of the scheduler)."""
    config, _ = _context()
    return runner.sweep_once(config)


def monthly_bordereau(month: str) -> str:
    config, sessions = _context()
    return str(reports.write_bordereau(sessions, config, month))

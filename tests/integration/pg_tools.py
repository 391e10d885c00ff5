"""Helpers for the PostgreSQL concurrency tests: a context with room for many
connections, policies to write on, and a look at pg_locks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from service.api.schemas import ClaimSchema, PolicySchema
from service.usecases.context import Context, build_context
from service.usecases.manage_policies import policy_from_data, put_policy
from tests.conftest import _truncate, make_config
from tests.helpers import POLICIES, claim


def pg_context(url: str, tmp_path: Path, clock: Any, connections: int = 40) -> Context:
    """A fresh (truncated) database and a context whose pool holds `connections`."""
    _truncate(url)
    ctx = build_context(make_config(url, tmp_path))
    ctx.clock = clock
    engine = create_engine(url, pool_size=connections, max_overflow=0, pool_timeout=30)
    ctx.sessions = sessionmaker(bind=engine, expire_on_commit=False)
    return ctx


def put_policies(ctx: Context, numbers: list[str]) -> None:
    body = {k: v for k, v in POLICIES["P-DEV"].items() if k != "number"}
    data = PolicySchema().load(body)
    for number in numbers:
        put_policy(ctx, policy_from_data(number, data), actor="test")


def claim_data(policy_number: str, **kw: Any) -> dict[str, Any]:
    """A validated POST /v1/claims body, approved on P-DEV's coverage."""
    return ClaimSchema().load(claim(policy_number=policy_number, **kw))


def backend_pid(session: Any) -> int:
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def locks(ctx: Context, pids: list[int] | None = None) -> list[dict[str, Any]]:
    """pg_locks rows of this database (or of these backends), as dicts."""
    query = (
        "SELECT l.pid, l.locktype, l.mode, l.granted, l.classid, l.objid "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE a.datname = current_database() AND l.pid <> pg_backend_pid()"
    )
    with ctx.sessions() as session:
        rows = [dict(r._mapping) for r in session.execute(text(query))]
    return [r for r in rows if pids is None or r["pid"] in pids]


def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


class Worker(threading.Thread):
    """Runs `target`; keeps its result or exception for the test to look at."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._target_fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

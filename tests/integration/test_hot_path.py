"""What the intake hot path relies on: the background dispatch hand-off, connections
tested only after idling, read-only SQLite transactions, the API-key cache."""

from __future__ import annotations

import socket
import threading
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import text

from service.adapters.queue import RQDispatcher, batch_job_id, connect, get_queue
from service.db import session as db_session
from service.usecases import check_credentials, manage_api_keys
from service.usecases.context import Context
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.integration


def test_background_dispatch_enqueues_many_claims_rows_as_one_batch_job() -> None:
    name = f"test-dispatch-{uuid.uuid4().hex[:8]}"
    dispatcher = RQDispatcher(REDIS_URL, name, background=True)
    connection = connect(REDIS_URL)
    queue = get_queue(connection, name)
    try:
        # Two requests' rows handed off before the thread starts: one job holds all three.
        start = dispatcher._ensure_thread
        dispatcher._ensure_thread = lambda: None  # type: ignore[method-assign]
        dispatcher.dispatch_outbox([9_000_001, 9_000_002], "req-a", new=True)
        dispatcher.dispatch_outbox([9_000_003], "req-b", new=True)
        start()
        assert dispatcher.flush(10)
        jobs = queue.get_jobs()
        assert [j.id for j in jobs] == [
            batch_job_id([(9_000_001, 0), (9_000_002, 0), (9_000_003, 0)])
        ]
        assert list(jobs[0].args) == [[9_000_001, 9_000_002, 9_000_003]]
        assert jobs[0].meta["request_ids"] == {
            "9000001": "req-a",
            "9000002": "req-a",
            "9000003": "req-b",
        }
    finally:
        queue.empty()
        keys = list(connection.scan_iter("claims:outbox-job:900000*"))
        if keys:
            connection.delete(*keys)


def test_background_dispatch_with_redis_down_neither_raises_nor_hangs(caplog) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens
    dispatcher = RQDispatcher(f"redis://127.0.0.1:{port}/0", background=True)
    dispatcher.dispatch_outbox([1, 2], "req", new=True)
    assert dispatcher.flush(10)  # given up (the relay sweep owns the pending rows)
    assert "deferred to the relay sweep" in caplog.text


@pytest.mark.postgres
def test_an_idle_connection_killed_by_the_server_is_replaced_unseen(pg_url: str) -> None:
    engine = db_session.get_engine(pg_url)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        conn.rollback()
        record = conn.connection._connection_record
    assert record is not None
    import psycopg

    admin_url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as admin:  # not from the pool
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    record.info["idle_since"] -= db_session.PING_AFTER_IDLE + 1  # as if it sat idle
    with engine.connect() as conn:  # tested on checkout, found dead, replaced
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid


def test_sqlite_reader_does_not_queue_behind_a_writer(sqlite_url: str, tmp_path) -> None:
    from service.usecases.context import build_context
    from tests.conftest import make_config

    ctx = build_context(make_config(sqlite_url, tmp_path))
    read: list[int] = []
    with ctx.unit_of_work() as writer:  # BEGIN IMMEDIATE: holds the write lock
        writer.execute(text("UPDATE claims SET status = status"))

        def reader() -> None:
            with ctx.unit_of_work(read_only=True) as session:
                read.append(session.execute(text("SELECT count(*) FROM claims")).scalar_one())

        thread = threading.Thread(target=reader)
        thread.start()
        thread.join(20)
        finished_while_writer_held_the_lock = not thread.is_alive()
        writer.rollback()
    thread.join()
    assert finished_while_writer_held_the_lock and read == [0]


def test_key_cache_off_looks_up_every_request(context: Context, monkeypatch) -> None:
    new = manage_api_keys.create_api_key(context, "acme", "intake")
    assert check_credentials.authenticate_key(context, new.key) is not None
    assert new.prefix in context.key_cache  # cached by default
    monkeypatch.setattr(context, "config", replace(context.config, api_key_cache_seconds=0))
    context.key_cache.clear()
    assert check_credentials.authenticate_key(context, new.key) is not None
    assert context.key_cache == {}
    assert check_credentials.authenticate_key(context, new.key + "x") is None  # secret checked


def test_concurrent_claims_on_one_policy_each_see_all_earlier_ones(app, context: Context) -> None:
    """The policy lock serialises claims on one policy: of N submitted at once, each saw
    exactly the ones committed before it (12-month counts 0..N-1, none seen twice)."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import select

    from service.db.tables import DecisionRow
    from tests.helpers import claim, put_policies

    put_policies(app.test_client(), ["P-DEV"])
    bodies = [claim(date_of_loss="2026-06-10", amount=f"{100 + n}.00") for n in range(12)]

    def post(body: dict) -> int:
        return app.test_client().post("/v1/claims", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(post, bodies)) == {201}
    with context.unit_of_work(read_only=True) as session:
        facts = session.scalars(select(DecisionRow.facts)).all()
    assert sorted(f["claims_last_12_months"] for f in facts) == list(range(len(bodies)))


def test_first_claims_on_many_policies_at_once_store_the_ruleset_once(app, context) -> None:
    """A fresh process: every first claim tries to store the ruleset's text; all succeed."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from service.db.tables import RulesetRow
    from tests.helpers import POLICIES, claim, put_policies

    numbers = ["P-DEV", "P-PROP", "P-MED", "P-LAPSED", "P-ENDED", "P-FUTURE"]
    put_policies(app.test_client(), numbers)
    types = {n: POLICIES[n]["coverages"][0]["claim_type"] for n in numbers}
    bodies = [claim(n, types[n], date_of_loss="2026-06-01") for n in numbers for _ in range(3)]
    context.rules.stored.clear()

    def post(body: dict) -> int:
        return app.test_client().post("/v1/claims", json=body).status_code

    with ThreadPoolExecutor(max_workers=len(numbers)) as pool:
        assert set(pool.map(post, bodies)) == {201}
    with context.unit_of_work(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(RulesetRow)) == 1

"""No global lock on the claim write path: 16 intakes on 16 policies are all open at once,
each past every write it makes (claim, decision, tallies, outbox, audit) and about to
commit, none waiting for a lock (checked in pg_locks)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select

from service.db.tables import AuditEventRow, ClaimRow
from service.usecases.submit_claim import submit_claim
from service.usecases.verify_audit import verify_audit
from tests.integration.pg_tools import (
    Worker,
    backend_pid,
    claim_data,
    locks,
    pg_context,
    put_policies,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
WRITERS = 16


def test_sixteen_intakes_hold_their_transactions_open_together(pg_url, tmp_path, clock):
    ctx = pg_context(pg_url, tmp_path, clock, connections=WRITERS + 4)
    numbers = [f"P-CONC-{i:02d}" for i in range(WRITERS)]
    put_policies(ctx, [*numbers, "P-WARM"])
    # Warm: the rules engine built, the ruleset's text stored (the first claim a new
    # ruleset version decides stores it, once: docs/scaling.md).
    submit_claim(ctx, claim_data("P-WARM"), client_id="conc")
    all_open = threading.Barrier(WRITERS + 1, timeout=30)
    release = threading.Event()
    pids: list[int] = []

    def hold(session):  # each intake's transaction, all writes done, before COMMIT
        pids.append(backend_pid(session))
        all_open.wait()
        release.wait(60)

    event.listen(ctx.sessions, "before_commit", hold)
    workers = [
        Worker(lambda n=n: submit_claim(ctx, claim_data(n), client_id="conc")) for n in numbers
    ]
    try:
        for w in workers:
            w.start()
        all_open.wait()  # BrokenBarrierError here: some intake waited for another's lock
        held = locks(ctx, pids)
    finally:
        release.set()
        for w in workers:
            w.join(60)
        event.remove(ctx.sessions, "before_commit", hold)
    assert [w.error for w in workers] == [None] * WRITERS
    assert len(set(pids)) == WRITERS
    assert [r for r in held if not r["granted"]] == []  # nobody waiting
    assert [r for r in held if r["locktype"] == "advisory"] == []  # no global (or any) chain lock
    row_locks = {r["pid"] for r in held if r["locktype"] == "transactionid"}
    assert row_locks == set(pids)  # sixteen transactions with writes, open at the same time
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(ClaimRow)) == WRITERS + 1
        subjects = session.scalar(select(func.count(func.distinct(AuditEventRow.subject))))
    assert subjects >= WRITERS + 1
    assert verify_audit(ctx).ok

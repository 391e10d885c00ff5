"""Per-subject chains on PostgreSQL: appends to one subject queue and never fork; appends
to different subjects never wait for each other (no global lock)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.db import audit
from service.db.tables import AuditEventRow
from service.usecases.verify_audit import verify_audit
from tests.integration.pg_tools import Worker, backend_pid, locks, pg_context, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def ctx(pg_url, tmp_path, clock):
    return pg_context(pg_url, tmp_path, clock, connections=6)


def _append(ctx, subject_claim: str, pid_box: list[int] | None = None) -> str:
    with ctx.unit_of_work() as session:
        if pid_box is not None:
            pid_box.append(backend_pid(session))
        digest = audit.append_audit(
            session, actor="t", action="claim.viewed", at=ctx.clock.now(), claim_id=subject_claim
        )
        session.commit()
        return digest


def test_appends_to_one_subject_queue_and_link_in_commit_order(ctx):
    _append(ctx, "c-1")
    with ctx.unit_of_work() as first:  # appended, not committed yet
        first_hash = audit.append_audit(
            first, actor="a", action="claim.viewed", at=ctx.clock.now(), claim_id="c-1"
        )
        pids: list[int] = []
        second = Worker(lambda: _append(ctx, "c-1", pids))
        second.start()
        # The second waits for the first (the subject's lock), it does not read a stale head.
        assert wait_until(lambda: bool(pids) and any(not r["granted"] for r in locks(ctx, pids)))
        assert second.is_alive()
        first.commit()
    second.join(15)
    assert second.error is None and not second.is_alive()
    with ctx.unit_of_work() as session:
        chain = session.execute(
            select(AuditEventRow.seq, AuditEventRow.prev_hash, AuditEventRow.hash)
            .where(AuditEventRow.subject == "claim:c-1")
            .order_by(AuditEventRow.seq)
        ).all()
    assert [r.seq for r in chain] == [1, 2, 3]
    assert chain[2].prev_hash == first_hash and chain[2].hash == second.result
    assert verify_audit(ctx).ok


def test_appends_to_different_subjects_do_not_wait(ctx):
    _append(ctx, "c-1")
    with ctx.unit_of_work() as first:
        audit.append_audit(
            first, actor="a", action="claim.viewed", at=ctx.clock.now(), claim_id="c-1"
        )
        other = Worker(lambda: _append(ctx, "c-2"))
        other.start()
        other.join(15)  # commits while the first transaction is still open
        assert not other.is_alive() and other.error is None
        first.commit()
    assert verify_audit(ctx).ok


def test_a_fork_is_refused_even_without_the_lock(ctx):
    """The unique (subject, seq) index: two events at one place in a chain cannot both
    be stored, whatever the caller did about locking."""
    from sqlalchemy.exc import IntegrityError

    from service.db import statements as sql

    _append(ctx, "c-1")
    with ctx.unit_of_work() as session, pytest.raises(IntegrityError):
        session.execute(
            sql.INSERT_AUDIT,
            {
                "at": ctx.clock.now(),
                "actor": "x",
                "action": "claim.viewed",
                "claim_id": "c-1",
                "source": None,
                "before": None,
                "after": None,
                "prev_hash": audit.GENESIS,
                "hash": "f" * 64,
                "subject": "claim:c-1",
                "seq": 1,
            },
        )


def _horizon_passes(ctx, txid_of_id: int) -> bool:
    with ctx.unit_of_work() as session:
        txid = session.scalar(select(AuditEventRow.txid).where(AuditEventRow.id == txid_of_id))
        return audit.checkpoint_horizon(session) > txid


def test_a_transaction_that_commits_late_is_covered_by_the_next_checkpoint(ctx):
    """A has the lower event id but commits after B and after a checkpoint: an id
    watermark would skip it forever; the transaction horizon covers it next time."""
    from service.usecases.write_checkpoint import write_checkpoint

    _append(ctx, "early")
    with ctx.unit_of_work() as session:
        early = session.scalar(select(AuditEventRow.id))
    assert wait_until(lambda: _horizon_passes(ctx, early), timeout=60)
    with ctx.unit_of_work() as late:
        audit.append_audit(late, actor="a", action="claim.viewed", at=ctx.clock.now(), claim_id="A")
        late.flush()
        late_id = late.scalar(select(AuditEventRow.id).where(AuditEventRow.claim_id == "A"))
        _append(ctx, "B")
        first = write_checkpoint(ctx, force=True)
        assert first is not None and first["event_count"] == 1  # "early" only: A is open
        late.commit()
    with ctx.unit_of_work() as session:
        newest = session.scalar(select(AuditEventRow.id).order_by(AuditEventRow.id.desc()))
    assert late_id < newest  # A's id is below B's, yet A committed last
    assert wait_until(lambda: _horizon_passes(ctx, newest) and _horizon_passes(ctx, late_id), 60)
    second = write_checkpoint(ctx, force=True)
    assert second["event_count"] == 2  # A and B
    with ctx.unit_of_work() as session:
        covered = {
            i
            for cp in audit.checkpoints(session)
            for i, _ in audit.covered_events(session, cp.position, cp.covers_from, cp.covers_to)
        }
    assert covered == {early, late_id, newest}
    assert verify_audit(ctx).ok

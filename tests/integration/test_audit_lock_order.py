"""The audit chain's lock comes last, on PostgreSQL, on every path that appends to a chain.

Lock order (service/usecases/payments.py): the policy row, then the claim row, then the
policy's daily tallies, then the subject's audit lock (service/db/audit.py), held to
commit. Each writing transaction's statements are recorded as they reach the server;
after the subject's advisory lock no statement locks or writes a row of a policy or a
claim (policies, claims, documents, decisions, tallies, flags), and a transaction locks
one subject only. Two transactions then never wait for each other's locks in opposite
orders: no deadlock between an intake, a supervisor, a sweep and the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, update

from service.db.tables import OutboxRow
from service.usecases.abandon_stale_claim import abandon_stale_claim
from service.usecases.add_documents import add_documents
from service.usecases.appeal_claim import appeal_claim
from service.usecases.assign_claim import assign_claim
from service.usecases.check_credentials import login
from service.usecases.decide_claim import SupervisorDecision, decide_claim
from service.usecases.escalate_overdue import escalate_overdue
from service.usecases.manage_api_keys import create_api_key, revoke_api_key
from service.usecases.manage_users import create_user, set_user_active
from service.usecases.record_claim_view import record_claim_view
from service.usecases.resend_dead_message import resend_dead_message
from service.usecases.submit_claim import submit_claim
from service.usecases.verify_audit import verify_audit
from tests.integration.pg_tools import claim_data, pg_context, put_policies

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

ORDERED = {
    "policies",
    "coverages",
    "claims",
    "documents",
    "decisions",
    "policy_daily",
    "claim_flags",
}
_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([a-z_]+)', re.IGNORECASE)
_ROW_LOCK = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE)\b", re.IGNORECASE)
_SUBJECT_LOCK = "pg_advisory_xact_lock"
Tx = list[tuple[str, Any]]


@contextmanager
def transactions(ctx) -> Iterator[list[Tx]]:
    """Statements sent, one list per transaction (the use cases run in this thread)."""
    engine = ctx.sessions.kw["bind"]
    txs: list[Tx] = []

    def on_begin(_conn):
        txs.append([])

    def on_execute(_conn, _cursor, statement, parameters, _context, _many):
        if txs:
            txs[-1].append((statement, parameters))

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield txs
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)


def audit_lock_comes_last(tx: Tx) -> bool:
    """Checks one transaction; True when it took a subject's lock."""
    at = [i for i, (statement, _) in enumerate(tx) if _SUBJECT_LOCK in statement]
    if not at:
        return False
    keys = {repr(tx[i][1]) for i in at}
    assert len(keys) == 1, f"one transaction locked several audit subjects: {keys}"
    for statement, parameters in tx[at[0] + 1 :]:
        where = f"after the audit lock:\n{statement}\n{parameters}"
        assert not _ROW_LOCK.search(statement), where
        written = _WRITE.match(statement)
        assert written is None or written.group(1).lower() not in ORDERED, where
    return True


@pytest.fixture
def ctx(pg_url, tmp_path, clock):
    ctx = pg_context(pg_url, tmp_path, clock, connections=4)
    put_policies(ctx, ["P-DEV"])
    return ctx


def _claim(ctx, status: str, day: int = 1) -> str:
    """A claim the rules leave in `status` (escalated: reported late; `day` of April keeps
    two of them from being duplicates)."""
    kw = {
        "escalated": {"date_of_loss": f"2026-04-{day:02d}"},
        "pending_info": {"documents": ["photos"]},
    }
    submitted = submit_claim(ctx, claim_data("P-DEV", **kw.get(status, {})), client_id="lo")
    assert submitted.document["status"] == status
    return str(submitted.document["id"])


def _approve(ctx, claim_id: str, amount: str = "100.00") -> None:
    choice = SupervisorDecision("approve", "checked by phone", amount=Decimal(amount))
    decide_claim(ctx, claim_id, choice, expected_version=1, decided_by="sue")


# Each scenario: set-up (not recorded) returning the action (recorded), and how many of
# the action's transactions must take an audit lock.
Scenario = Callable[[Any, Any], Callable[[], object]]


def supervisor_decision(ctx, clock):
    claim_id = _claim(ctx, "escalated")
    return lambda: _approve(ctx, claim_id)


def readjudication_after_documents(ctx, clock):
    claim_id = _claim(ctx, "pending_info")
    receipt = [{"type": "purchase_receipt", "ref": "r-1"}]
    return lambda: add_documents(ctx, claim_id, receipt, client_id=None, actor="intake")


def documents_without_a_new_decision(ctx, clock):
    claim_id = _claim(ctx, "approved")
    photos = [{"type": "photos", "ref": "p-9"}]
    return lambda: add_documents(ctx, claim_id, photos, client_id=None, actor="intake")


def appeal(ctx, clock):
    claim_id = _claim(ctx, "escalated")
    _approve(ctx, claim_id)  # partly paid: appealable
    return lambda: appeal_claim(ctx, claim_id, "the receipt", client_id=None, actor="intake")


def assignment(ctx, clock):
    claim_id = _claim(ctx, "escalated")
    return lambda: assign_claim(ctx, claim_id, "sue", actor="sue")


def abandoned_and_escalated(ctx, clock):
    claim_id = _claim(ctx, "pending_info")
    clock.advance(days=ctx.config.abandon_after_days)
    return lambda: abandon_stale_claim(ctx, claim_id)


def abandoned_and_closed(ctx, clock):
    ctx.config = replace(ctx.config, abandon_action="close")
    return abandoned_and_escalated(ctx, clock)


def sla_flags_raised(ctx, clock):
    for day in (1, 2):
        _claim(ctx, "escalated", day)
    clock.advance(hours=ctx.config.escalation_sla_hours + 1)
    return lambda: escalate_overdue(ctx)


def sla_flags_cleared(ctx, clock):
    ids = [_claim(ctx, "escalated", day) for day in (1, 2)]
    clock.advance(hours=ctx.config.escalation_sla_hours + 1)
    assert escalate_overdue(ctx)["breaches"] == 2
    for claim_id in ids:
        _approve(ctx, claim_id)
    return lambda: escalate_overdue(ctx)


def claim_viewed(ctx, clock):
    claim_id = _claim(ctx, "approved")
    return lambda: record_claim_view(
        ctx, claim_id, actor="sue", via="user", role="supervisor", source=None
    )


def dead_message_resent(ctx, clock):
    _claim(ctx, "approved")
    with ctx.unit_of_work() as session:
        outbox_id = session.execute(update(OutboxRow).values(status="dead").returning(OutboxRow.id))
        first = min(outbox_id.scalars())
        session.commit()
    return lambda: resend_dead_message(ctx, first, actor="admin")


def policy_replaced(ctx, clock):
    return lambda: put_policies(ctx, ["P-DEV"])


def accounts(ctx, clock):
    def run() -> None:
        create_user(ctx, "ann", "a long enough password", "supervisor")
        assert login(ctx, "ann", "a long enough password", None).identity is not None
        assert login(ctx, "ann", "not the password!", None).identity is None
        set_user_active(ctx, "ann", False)
        revoke_api_key(ctx, create_api_key(ctx, "acme", "intake").prefix)

    return run


@pytest.mark.parametrize(
    ("scenario", "locked"),
    [
        (supervisor_decision, 1),
        (readjudication_after_documents, 1),
        (documents_without_a_new_decision, 1),
        (appeal, 1),
        (assignment, 1),
        (abandoned_and_escalated, 1),
        (abandoned_and_closed, 1),
        (sla_flags_raised, 2),
        (sla_flags_cleared, 2),  # one transaction per claim, not one for the whole sweep
        (claim_viewed, 1),
        (dead_message_resent, 1),
        (policy_replaced, 1),
        (accounts, 6),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_the_audit_lock_is_taken_last(ctx, clock, scenario: Scenario, locked: int):
    action = scenario(ctx, clock)
    with transactions(ctx) as txs:
        action()
    assert sum(audit_lock_comes_last(tx) for tx in txs) == locked
    assert verify_audit(ctx).ok


def test_an_intake_takes_no_audit_lock(ctx):
    with transactions(ctx) as txs:
        _claim(ctx, "approved")
    assert not any(audit_lock_comes_last(tx) for tx in txs)

"""Every use case that audits appends to the chain of what it changed: a claim's own chain
(`claim:<id>`), a user's, an API key's, or a claimless message's (`outbox:<id>`), each
numbered from 1 with no gap; no event is written outside a chain."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from service.db.tables import AuditEventRow, ClaimRow
from service.usecases import check_credentials, manage_api_keys, manage_users
from service.usecases.abandon_stale_claim import abandon_stale_claim
from service.usecases.escalate_overdue import escalate_overdue
from service.usecases.record_claim_view import record_claim_view
from service.usecases.resend_dead_message import resend_dead_message
from service.usecases.verify_audit import verify_audit
from tests.unit.usecases.conftest import add_claim, add_outbox

pytestmark = pytest.mark.unit


def chains(ctx) -> dict[str, list[tuple[int, str]]]:
    """(seq, action) of every subject's events, in the order they were written."""
    found: dict[str, list[tuple[int, str]]] = {}
    with ctx.unit_of_work() as s:
        for subject, seq, action in s.execute(
            select(AuditEventRow.subject, AuditEventRow.seq, AuditEventRow.action).order_by(
                AuditEventRow.id
            )
        ):
            found.setdefault(subject, []).append((seq, action))
    return found


def test_accounts_have_their_own_chains(ctx):
    manage_users.create_user(ctx, "ann", "a long enough password", "supervisor")
    assert check_credentials.login(ctx, "ann", "a long enough password", None).identity is not None
    assert check_credentials.login(ctx, "ann", "not the password!", None).identity is None
    assert check_credentials.login(ctx, "nobody", "not the password!", None).identity is None
    manage_users.set_user_active(ctx, "ann", False)
    key = manage_api_keys.create_api_key(ctx, "acme", "intake")
    assert manage_api_keys.revoke_api_key(ctx, key.prefix)
    assert chains(ctx) == {
        "user:ann": [
            (1, "user.created"),
            (2, "login.succeeded"),
            (3, "login.failed"),
            (4, "user.disabled"),
        ],
        "user:nobody": [(1, "login.failed")],
        f"apikey:{key.prefix}": [(1, "apikey.created"), (2, "apikey.revoked")],
    }
    assert verify_audit(ctx).ok


def test_a_claims_sweeps_views_and_resends_share_the_claims_chain(ctx, clock):
    ctx.config = replace(ctx.config, abandon_action="close")
    stale, _ = add_claim(ctx, status="pending_info")
    late, _ = add_claim(ctx, status="escalated")
    record_claim_view(ctx, stale, actor="sue", via="user", role="supervisor", source=None)
    clock.advance(days=ctx.config.abandon_after_days)
    assert abandon_stale_claim(ctx, stale)
    assert escalate_overdue(ctx)["breaches"] == 1
    with ctx.unit_of_work() as s:
        s.get(ClaimRow, late).status = "approved"  # a supervisor decided
        s.commit()
    assert escalate_overdue(ctx)["cleared"] == 1
    for_claim = add_outbox(ctx, late, "approved", status="dead")
    report = add_outbox(ctx, None, "daily_digest", status="dead", payload={"day": "2026-03-01"})
    resend_dead_message(ctx, for_claim, actor="admin")
    resend_dead_message(ctx, report, actor="admin")
    assert chains(ctx) == {
        f"claim:{stale}": [(1, "claim.viewed"), (2, "claim.closed_abandoned")],
        f"claim:{late}": [
            (1, "claim.flagged_overdue"),
            (2, "claim.overdue_cleared"),
            (3, "outbox.resent"),
        ],
        f"outbox:{report}": [(1, "outbox.resent")],
    }
    assert verify_audit(ctx).ok

from __future__ import annotations

import pytest

from service.db.tables import ClaimFlagRow, ClaimRow
from service.usecases.escalate_overdue import escalate_overdue
from tests.unit.usecases.conftest import add_claim, events

pytestmark = pytest.mark.unit


def test_overdue_escalation_is_flagged_and_the_lead_told_once_then_cleared(ctx, clock):
    claim_id, _ = add_claim(ctx, status="escalated")
    clock.advance(hours=47)
    assert escalate_overdue(ctx) == {"breaches": 0, "cleared": 0}
    clock.advance(hours=2)
    assert escalate_overdue(ctx)["breaches"] == 1
    assert escalate_overdue(ctx)["breaches"] == 0
    assert events(ctx, claim_id) == ["sla_breach"]
    with ctx.unit_of_work() as s:
        assert overdue_flags(s) == [claim_id]
        row = s.get(ClaimRow, claim_id)
        row.status = "approved"  # a supervisor decided
        s.commit()
    assert escalate_overdue(ctx)["cleared"] == 1
    with ctx.unit_of_work() as s:
        assert overdue_flags(s) == []


def overdue_flags(session) -> list[str]:
    """Claims flagged overdue and not cleared."""
    flags = session.query(ClaimFlagRow).filter(ClaimFlagRow.cleared_at.is_(None))
    return [f.claim_id for f in flags]

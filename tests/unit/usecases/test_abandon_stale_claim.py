from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from service.db import claims
from service.db.tables import AuditEventRow
from service.usecases.abandon_stale_claim import abandon_stale_claim
from tests.unit.usecases.conftest import add_claim, events

pytestmark = pytest.mark.unit


def audit_actions(ctx, claim_id):
    with ctx.unit_of_work() as s:
        rows = s.query(AuditEventRow).filter(AuditEventRow.claim_id == claim_id)
        return [(r.actor, r.action, r.after) for r in rows.order_by(AuditEventRow.id)]


def test_escalation_is_a_decision_recorded_like_any_other(ctx, clock):
    claim_id, first = add_claim(ctx, status="pending_info", missing=["photos"])
    clock.advance(days=9)
    assert not abandon_stale_claim(ctx, claim_id)  # not stale yet
    clock.advance(days=1)
    assert abandon_stale_claim(ctx, claim_id)
    assert not abandon_stale_claim(ctx, claim_id)  # escalated now: nothing to do
    with ctx.unit_of_work() as s:
        claim = claims.claim_row(s, claim_id)
        assert claim is not None and claim.status == "escalated" and claim.version == 2
        decision = claim.decisions[-1]
        assert (decision.outcome, decision.decided_by) == ("escalated", "followups")
        assert decision.reasons[0]["code"] == "documents_not_received"
        assert decision.missing_documents == ["photos"]
        assert claim.sla_due_at == clock.now() + timedelta(hours=48)
    [(actor, action, after)] = audit_actions(ctx, claim_id)
    assert (actor, action) == ("followups", "claim.escalated_abandoned")
    assert after["decision_id"] == decision.id and after["reason_codes"] == [
        "documents_not_received"
    ]
    assert events(ctx, claim_id) == ["escalated"]


def test_close_when_so_configured(ctx, clock):
    ctx.config = replace(ctx.config, abandon_action="close")
    claim_id, _ = add_claim(ctx, status="pending_info", callback_url="http://127.0.0.1:9/h")
    clock.advance(days=10)
    assert abandon_stale_claim(ctx, claim_id)
    with ctx.unit_of_work() as s:
        assert claims.status_of(s, claim_id) == "closed"
    assert [a[1] for a in audit_actions(ctx, claim_id)] == ["claim.closed_abandoned"]
    assert events(ctx, claim_id) == ["closed_abandoned", "claim.closed"]

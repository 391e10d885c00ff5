from __future__ import annotations

import pytest

from service.usecases.run_statutory_clocks import run_statutory_clocks
from tests.unit.usecases.conftest import add_claim, events

pytestmark = pytest.mark.unit


def test_warning_near_the_deadline_once_then_when_missed(ctx, clock):
    claim_id, _ = add_claim(ctx, status="pending_info", email=False)
    clock.advance(days=11)  # 11/15 of the acknowledge clock: not yet 0.8
    assert run_statutory_clocks(ctx)["warnings"] == 0
    clock.advance(days=1)  # 12/15 = 0.8
    assert run_statutory_clocks(ctx)["warnings"] == 1
    assert run_statutory_clocks(ctx)["warnings"] == 0
    clock.advance(days=3)  # acknowledge deadline passed
    assert run_statutory_clocks(ctx)["warnings"] == 1
    assert events(ctx, claim_id) == ["regulatory_clock", "regulatory_clock"]


def test_status_letter_every_30_days_while_open(ctx, clock):
    claim_id, _ = add_claim(ctx, status="pending_info")
    clock.advance(days=30)
    assert run_statutory_clocks(ctx)["status_letters"] == 1
    assert run_statutory_clocks(ctx)["status_letters"] == 0
    assert "status_update" in events(ctx, claim_id)


def test_decided_claims_have_no_clock(ctx, clock):
    claim_id, _ = add_claim(ctx, status="approved")
    clock.advance(days=60)
    assert run_statutory_clocks(ctx) == {"warnings": 0, "status_letters": 0}
    assert events(ctx, claim_id) == []

"""read_touchless: the share of claims decided by the rules and never pended, per UTC day
and claim type."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from service.db.tables import ClaimRow, DecisionRow
from service.usecases.read_touchless import (
    TouchlessDay,
    touchless_rate,
    touchless_today,
    touchless_totals,
)
from tests.unit.usecases.conftest import add_claim

pytestmark = pytest.mark.unit

D0, D1, D2 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def claim(ctx, claim_type: str, *decisions: tuple[str, str | None, datetime]) -> str:
    """A claim with its decisions (outcome, decided_by_kind, decided_at), in that order."""
    first_outcome, first_kind, first_at = decisions[0]
    claim_id, decision_id = add_claim(ctx, status=first_outcome, at=first_at)
    with ctx.unit_of_work() as s:
        row = s.get(ClaimRow, claim_id)
        assert row is not None
        row.claim_type = claim_type
        first = s.get(DecisionRow, decision_id)
        assert first is not None
        first.decided_by_kind = first_kind
        for outcome, kind, decided_at in decisions[1:]:
            s.add(
                DecisionRow(
                    claim_id=claim_id,
                    outcome=outcome,
                    payable_amount=None,
                    reasons=[],
                    missing_documents=[],
                    trace=[],
                    facts={},
                    ruleset_version="v1",
                    decided_by="rules" if kind == "rule" else "someone",
                    decided_by_kind=kind,
                    decided_at=decided_at,
                )
            )
        s.commit()
    return claim_id


@pytest.fixture
def desk(ctx):
    device, prop = "device_damage", "property_damage"
    claim(ctx, device, ("approved", "rule", at(D1, 10)))  # touchless
    claim(ctx, device, ("pending_info", "rule", at(D1, 8)), ("approved", "rule", at(D1, 12)))
    claim(ctx, device, ("escalated", "rule", at(D1, 7)), ("approved", "person", at(D1, 9)))
    # 00:30 at +02:00 is 22:30 UTC the day before: counted on D1, touchless
    claim(
        ctx,
        device,
        ("rejected", "rule", datetime(2026, 3, 3, 0, 30, tzinfo=timezone(timedelta(hours=2)))),
    )
    # first decided on D1 (touchless); the appeal answered on D2 does not count again
    claim(ctx, device, ("approved", "rule", at(D1, 11)), ("rejected", "person", at(D2, 10)))
    claim(ctx, device, ("approved", "rule", at(D1, 23, 59)))  # touchless
    # first decided before the range: not counted, even with a decision inside it
    claim(ctx, device, ("approved", "rule", at(D0, 23)), ("approved", "person", at(D1, 5)))
    claim(ctx, prop, ("approved", "rule", at(D1, 15)))  # touchless
    claim(ctx, device, ("approved", "system", at(D2, 1)))  # a sweep: not by the rules
    claim(ctx, device, ("pending_info", "rule", at(D2, 2)))  # never decided: not counted


def test_rate_per_day_and_claim_type(ctx, desk):
    assert touchless_rate(ctx, start=D1, end=D2) == [
        TouchlessDay(D1, "device_damage", 6, 4, Decimal("0.6667")),
        TouchlessDay(D1, "property_damage", 1, 1, Decimal("1.0000")),
        TouchlessDay(D2, "device_damage", 1, 0, Decimal("0.0000")),
    ]


def test_a_day_alone_and_the_totals(ctx, desk):
    assert touchless_rate(ctx, start=D2, end=D2) == [
        TouchlessDay(D2, "device_damage", 1, 0, Decimal("0.0000"))
    ]
    assert touchless_rate(ctx, start=D0, end=D0) == [
        TouchlessDay(D0, "device_damage", 1, 1, Decimal("1.0000"))
    ]
    assert touchless_totals(ctx, start=D0, end=D2) == {
        "device_damage": (8, 5),
        "property_damage": (1, 1),
    }
    assert touchless_today(ctx) == {"device_damage": (6, 4), "property_damage": (1, 1)}


def test_bad_ranges_are_refused(ctx):
    with pytest.raises(ValueError, match="before start"):
        touchless_rate(ctx, start=D2, end=D1)
    with pytest.raises(ValueError, match="366"):
        touchless_rate(ctx, start=D0, end=D0 + timedelta(days=366))
    assert touchless_rate(ctx, start=D0, end=D0 + timedelta(days=365)) == []

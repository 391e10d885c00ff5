"""read_operations: the operations page (deadlines, oldest open claims, outbox, chart)
and the touchless figures beside the desk's usual rate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from service.db.tables import ClaimRow
from service.usecases.read_operations import TouchlessFigure, operations_page, touchless_figures
from service.usecases.read_touchless import TouchlessDay
from tests.unit.usecases.conftest import T0, add_claim, add_outbox

pytestmark = pytest.mark.unit

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
NEW_YORK = ZoneInfo("America/New_York")  # UTC-5 on 2 March 2026 (DST from 8 March)


def day(d: date, claim_type: str, n: int, t: int) -> TouchlessDay:
    return TouchlessDay(d, claim_type, n, t, (Decimal(t) / Decimal(n)).quantize(Decimal("0.0001")))


def test_touchless_figures_compare_a_day_with_the_other_days_of_its_line():
    figures = touchless_figures(
        [
            day(D1, "device", 5, 5),
            day(D2, "device", 10, 6),
            day(D3, "device", 4, 4),
            day(D1, "medical", 5, 5),
            day(D2, "medical", 20, 17),
            day(D1, "property", 7, 7),
        ]
    )
    usual_and_warn = [(f.day, f.claim_type, f.usual, f.warn) for f in figures]
    assert usual_and_warn == [
        (D1, "device", Decimal("0.7143"), True),  # others 10/14; 1 - 0.7143 >= 0.15
        (D2, "device", Decimal("1.0000"), False),  # others 9/9: below the usual rate
        (D3, "device", Decimal("0.7333"), False),  # 11/15 but only 4 claims decided
        (D1, "medical", Decimal("0.8500"), True),  # 17/20: exactly 0.15 above warns
        (D2, "medical", Decimal("1.0000"), False),
        (D1, "property", None, False),  # no other day to compare with
    ]
    assert figures[0] == TouchlessFigure(
        D1, "device", 5, 5, Decimal("1.0000"), Decimal("0.7143"), True
    )


def queued(ctx, status: str, reported_at: datetime, due: datetime | None) -> str:
    claim_id, _ = add_claim(ctx, status=status, at=reported_at)
    with ctx.unit_of_work() as s:
        row = s.get(ClaimRow, claim_id)
        assert row is not None
        row.sla_due_at = due
        s.commit()
    return claim_id


@pytest.fixture
def desk(ctx):
    """Now (T0) is 2 March 09:00 UTC = 04:00 in New York, whose day ends 3 March 05:00 UTC."""
    ids = {
        "overdue": queued(ctx, "escalated", T0 - timedelta(days=3), T0 - timedelta(hours=1)),
        "ny_today": queued(
            ctx, "appealed", T0 - timedelta(days=1), datetime(2026, 3, 3, 3, tzinfo=UTC)
        ),
        "later": queued(
            ctx, "escalated", T0 - timedelta(hours=2), datetime(2026, 3, 3, 6, tzinfo=UTC)
        ),
        # past its deadline but waiting for the claimant, not for a supervisor
        "waiting": queued(
            ctx, "pending_info", T0 - timedelta(days=5, hours=1), T0 - timedelta(days=1)
        ),
        "closed": queued(ctx, "approved", T0 - timedelta(days=9), None),
    }
    add_outbox(ctx, ids["overdue"], "claim_received")  # pending since T0
    add_outbox(ctx, ids["later"], "claim_received", status="dead")
    add_outbox(ctx, ids["closed"], "claim_decided", status="delivered")
    return ids


def test_deadlines_are_counted_in_the_viewers_day(ctx, desk):
    in_new_york = operations_page(ctx, zone=NEW_YORK, days=3)
    assert (in_new_york["overdue"], in_new_york["due_today"]) == (1, 1)
    in_utc = operations_page(ctx, zone=ZoneInfo("UTC"), days=3)
    assert (in_utc["overdue"], in_utc["due_today"]) == (1, 0)  # 3 March 03:00 is tomorrow


def test_oldest_open_claims_by_status_and_the_chart(ctx, desk):
    page = operations_page(ctx, zone=NEW_YORK, days=3)
    assert [(c["id"], c["status"], c["age_days"]) for c in page["oldest_open"]] == [
        (desk["waiting"], "pending_info", 5),
        (desk["overdue"], "escalated", 3),
        (desk["ny_today"], "appealed", 1),
        (desk["later"], "escalated", 0),
    ]
    assert page["oldest_open"][0]["amount"] == "120.00"
    assert page["by_status"] == {"appealed": 1, "approved": 1, "escalated": 2, "pending_info": 1}
    # 2 March - 2 days = 28 February (2026 is not a leap year); decisions on their UTC day
    assert page["chart"]["days"] == ["2026-02-28", "2026-03-01", "2026-03-02"]
    # the known outcomes in their order, then the others ("appealed") by name
    assert page["chart"]["outcomes"] == ["escalated", "appealed"]
    assert page["chart"]["series"] == {"escalated": [0, 0, 1], "appealed": [0, 1, 0]}
    assert (page["start"], page["end"]) == ("2026-02-28", "2026-03-02")


def test_outbox_lag_and_dead_letters(ctx, clock, desk):
    page = operations_page(ctx, zone=NEW_YORK)
    assert (page["outbox_lag_seconds"], page["outbox_lag_warn"], page["dead_letters"]) == (
        0,
        False,
        1,
    )
    clock.advance(minutes=14, seconds=59)
    assert operations_page(ctx, zone=NEW_YORK)["outbox_lag_warn"] is False
    clock.advance(seconds=1)
    page = operations_page(ctx, zone=NEW_YORK)
    assert (page["outbox_lag_seconds"], page["outbox_lag_warn"]) == (900, True)

from __future__ import annotations

import pytest

from service.usecases.write_bordereau import bordereau, stored_bordereaux, write_bordereau
from tests.unit.usecases.conftest import add_claim

pytestmark = pytest.mark.unit


def test_approved_claims_and_totals(ctx):
    add_claim(ctx, status="approved")
    add_claim(ctx, status="approved")
    add_claim(ctx, status="rejected")
    lines = write_bordereau(ctx, "2026-03").read_text().splitlines()
    assert sum(line.startswith("claim,") for line in lines) == 2
    assert lines[-1] == "grand_total,,,,,,,,EUR,240.00,140.00,2,0.00,0.00,0.00,0.00,"
    assert [i["month"] for i in stored_bordereaux(ctx)] == ["2026-03"]


def test_the_current_month_is_built_not_stored_and_the_future_refused(ctx, clock):
    current = bordereau(ctx, "2026-03")
    assert not current.complete and stored_bordereaux(ctx) == []
    assert bordereau(ctx, "2026-02").complete
    with pytest.raises(ValueError):
        bordereau(ctx, "2026-04")

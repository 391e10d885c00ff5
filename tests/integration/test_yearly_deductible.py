"""Deductibles per policy year (issue 16 point 2): met once a year across a policy's
claims, read under the per-policy lock, so claims at once never take it twice or skip it."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from service.db.tables import ClaimRow, OutboxRow
from service.usecases.context import Context, build_context
from service.usecases.notifications import build_email
from tests.conftest import make_config
from tests.helpers import claim, rules_without

pytestmark = pytest.mark.integration

YEARLY = {
    "holder": "Yan Yearly",
    "status": "active",
    "effective_from": "2026-01-01",
    "effective_to": "2026-12-31",
    "currency": "USD",
    "coverages": [
        {
            "claim_type": "medical_reimbursement",
            "limit_per_claim": "5000",
            "annual_aggregate": "100000",
            "deductible": "250",
            "deductible_period": "policy_year",
        }
    ],
}


def _app(db_url: str, tmp_path: Any, clock: Any) -> Any:
    """The shipped rules without the frequency review (many claims on one policy)."""
    from service.api.app import create_app

    rules = rules_without(tmp_path / "rules", "FREQUENT_CLAIMS")
    ctx: Context = build_context(make_config(db_url, tmp_path, RULES_DIR=str(rules)))
    ctx.clock = clock
    app = create_app(ctx.config, ctx)
    app.testing = True
    assert app.test_client().put("/v1/policies/P-YEAR", json=YEARLY).status_code == 201
    return app


def _submit(app: Any, amount: str, day: int) -> dict[str, Any]:
    body = claim("P-YEAR", "medical_reimbursement", amount, date_of_loss=f"2026-06-{day:02d}")
    response = app.test_client().post("/v1/claims", json=body)
    assert response.status_code == 201, response.get_json()
    document: dict[str, Any] = response.get_json()
    return document


def _deductible(decision: dict[str, Any]) -> Decimal:
    return sum(
        (Decimal(a["amount"]) for a in decision["adjustments"] if a["carc"] == "1"),
        Decimal("0"),
    )


def test_yearly_deductible_is_met_once_across_claims(db_url, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    app = _app(db_url, tmp_path, clock)
    first = _submit(app, "100.00", 1)["decision"]  # within the deductible: rejected, meets 100
    assert first["outcome"] == "rejected"
    assert _deductible(first) == Decimal("100.00")
    posted = _submit(app, "300.00", 2)
    second = posted["decision"]  # takes the 150.00 left, pays 150.00
    assert second["outcome"] == "approved"
    assert second["payable_amount"] == "150.00"
    assert _deductible(second) == Decimal("150.00")
    ctx = app.extensions["claims"]
    with ctx.unit_of_work() as session:
        row = session.scalars(
            select(OutboxRow).where(
                OutboxRow.claim_id == posted["id"], OutboxRow.event == "approved"
            )
        ).one()
        text = build_email(session, row, ctx.config).text
    assert "Your deductible met so far this policy year: 250.00 of 250.00 USD." in text
    third = _submit(app, "80.00", 3)["decision"]  # deductible met: paid in full
    assert third["outcome"] == "approved" and third["payable_amount"] == "80.00"
    assert third["adjustments"] == []
    assert _submit(app, "10.00", 4)["decision"]["payable_amount"] == "10.00"


def test_per_claim_deductible_is_unchanged(db_url, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    app = _app(db_url, tmp_path, clock)
    body = {**YEARLY, "coverages": [{**YEARLY["coverages"][0], "deductible_period": "claim"}]}
    assert app.test_client().put("/v1/policies/P-YEAR", json=body).status_code == 200
    for day in (1, 2):
        decision = _submit(app, "300.00", day)["decision"]
        assert decision["payable_amount"] == "50.00"
        assert _deductible(decision) == Decimal("250.00")


@pytest.mark.postgres
def test_concurrent_claims_take_the_yearly_deductible_exactly_once(pg_url, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    """Eight claims of 100.00 on one policy at once (threads, each its own connection):
    under the policy lock they meet the 250.00 deductible exactly once between them,
    100 + 100 + 50 in whatever order, never twice (500 taken) nor skipped (0 taken)."""
    from tests.conftest import _truncate

    _truncate(pg_url)
    app = _app(pg_url, tmp_path, clock)
    writers = 8
    start = threading.Barrier(writers, timeout=30)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run(day: int) -> None:
        try:
            start.wait()
            results.append(_submit(app, "100.00", day)["decision"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(day,)) for day in range(1, writers + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == writers
    taken = sum((_deductible(d) for d in results), Decimal("0"))
    assert taken == Decimal("250.00")
    paid = sum((Decimal(d["payable_amount"] or "0") for d in results), Decimal("0"))
    assert paid == Decimal("550.00")
    with app.extensions["claims"].unit_of_work() as session:
        stored = session.scalars(
            select(ClaimRow.deductible_applied).where(ClaimRow.policy_number == "P-YEAR")
        )
        assert sum((Decimal(v or 0) for v in stored), Decimal("0")) == Decimal("250.00")

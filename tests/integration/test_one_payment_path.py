"""Issue 12, point 8: every path that pays holds the same per-policy lock.

Intake, supervisor approvals and appeal answers run at once against the real app
(threads, each with its own test client and database connection) on one policy with
an annual aggregate of 1,500. Before, the supervisor path read the policy without the
lock intake takes, and on PostgreSQL two supervisors approving two escalated claims
at the same moment paid 2,400.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from service.db.tables import ClaimRow
from service.domain.lifecycle import PAYING
from service.usecases.context import Context, build_context
from tests.auth_helpers import key
from tests.conftest import make_config
from tests.helpers import POLICIES, claim, coverage, rules_without

pytestmark = pytest.mark.integration
AGGREGATE = Decimal("1500.00")


@pytest.fixture
def pool_app(db_url, tmp_path, clock):
    """The shipped rules without the frequency review (twenty claims on one policy in a
    day would all be escalated for it), and a policy: limit 1,200, aggregate 1,500, no
    deductible; a device payable above 1,000 is escalated."""
    from service.api.app import create_app

    rules = rules_without(tmp_path / "rules", "FREQUENT_CLAIMS")
    ctx: Context = build_context(make_config(db_url, tmp_path, RULES_DIR=str(rules)))
    ctx.clock = clock
    app = create_app(ctx.config, ctx)
    app.testing = True
    body = {**POLICIES["P-DEV"], "coverages": [coverage("device_damage", "1200", "1500", "0")]}
    assert app.test_client().put("/v1/policies/P-POOL", json=body).status_code == 201
    return app


def escalated(app, n: int) -> list[str]:
    """n claims of 1,200 (above the auto-approval threshold): escalated, none paid."""
    client = app.test_client()
    ids = []
    for i in range(n):
        body = claim("P-POOL", amount="1200", date_of_loss=f"2026-06-{i + 1:02d}")
        document = client.post("/v1/claims", json=body).get_json()
        assert document["decision"]["outcome"] == "escalated", document["decision"]
        ids.append(document["id"])
    return ids


def paid_on_policy(app) -> Decimal:
    with app.extensions["claims"].unit_of_work() as session:
        rows = session.scalars(
            select(ClaimRow.payable_amount).where(
                ClaimRow.policy_number == "P-POOL", ClaimRow.status.in_(PAYING)
            )
        )
        return sum((Decimal(r) for r in rows), Decimal("0"))


def approve(app, headers, claim_id: str, amount: str, start: threading.Barrier | None):
    client = app.test_client()
    tag = client.get(f"/v1/claims/{claim_id}", headers=headers).headers["ETag"]
    if start is not None:
        start.wait()
    return client.post(
        f"/v1/claims/{claim_id}/decision",
        json={"outcome": "approve", "amount": amount, "note": "Checked with the retailer"},
        headers=headers | {"If-Match": tag},
    )


def run_all(jobs) -> list:
    results: list = [None] * len(jobs)

    def run(i, job):
        results[i] = job()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(r is not None for r in results), "a payer did not finish"
    return results


def test_two_supervisors_at_once_cannot_overpay_the_aggregate(pool_app):
    """The issue's case: 1,200 and 1,200 against 1,500. One is paid; the other is told
    what remains (300.00)."""
    first, second = escalated(pool_app, 2)
    sue, sam = key(pool_app, "supervisor", "sue"), key(pool_app, "supervisor", "sam")
    start = threading.Barrier(2)
    responses = run_all(
        [
            lambda: approve(pool_app, sue, first, "1200", start),
            lambda: approve(pool_app, sam, second, "1200", start),
        ]
    )
    assert sorted(r.status_code for r in responses) == [200, 422]
    refused = next(r for r in responses if r.status_code == 422).get_json()
    assert (refused["code"], refused["remaining"]) == ("aggregate_exceeded", "300.00")
    assert "300.00 USD" in refused["detail"]
    assert paid_on_policy(pool_app) == Decimal("1200.00")


def test_twenty_concurrent_payers_never_exceed_the_aggregate(pool_app):
    """Ten supervisors approve ten escalated claims of 1,200 while ten intakes of 400
    arrive, all at once on one policy: what is paid never passes 1,500."""
    claim_ids = escalated(pool_app, 10)
    supervisors = [key(pool_app, "supervisor", f"sup-{i}") for i in range(10)]
    start = threading.Barrier(20)

    def intake(i: int):
        client = pool_app.test_client()
        body = claim("P-POOL", amount="400", date_of_loss=f"2026-05-{i + 1:02d}")
        start.wait()
        return client.post("/v1/claims", json=body)

    jobs = [
        lambda i=i: approve(pool_app, supervisors[i], claim_ids[i], "1200", start)
        for i in range(10)
    ]
    jobs += [lambda i=i: intake(i) for i in range(10)]
    responses = run_all(jobs)
    supervisor_statuses = [r.status_code for r in responses[:10]]
    intake_statuses = [r.status_code for r in responses[10:]]
    assert set(supervisor_statuses) <= {200, 422} and set(intake_statuses) == {201}
    for response in responses[:10]:
        if response.status_code == 422:
            assert response.get_json()["code"] in ("aggregate_exceeded", "amount_above_limit")
    paid = paid_on_policy(pool_app)
    assert Decimal("1200.00") <= paid <= AGGREGATE, paid
    outcomes = [r.get_json()["decision"]["outcome"] for r in responses[10:]]
    assert set(outcomes) <= {"approved", "escalated"}


def test_appeal_answer_goes_through_the_same_step(pool_app):
    """A partly paid claim is appealed; while the appeal is open its payment still counts
    (before, the appeal freed it and another claim took it); an overturn above what
    remains is refused; an uphold keeps the payment to the cent."""
    client = pool_app.test_client()

    def submit(amount, day):
        body = claim("P-POOL", amount=amount, date_of_loss=f"2026-06-{day:02d}")
        return client.post("/v1/claims", json=body).get_json()

    assert submit("900", 1)["decision"]["payable_amount"] == "900.00"
    partly = submit("800", 2)  # 600 remains of the aggregate: paid 600 (CO 119 200.00)
    assert partly["decision"]["payable_amount"] == "600.00"
    appeal = client.post(f"/v1/claims/{partly['id']}/appeal", json={"reason": "Pay it all"})
    assert appeal.status_code == 201, appeal.get_json()
    assert appeal.get_json()["claim_status"] == "appealed"
    assert paid_on_policy(pool_app) == Decimal("1500.00")  # the appealed 600 still counts
    third = submit("500", 3)
    assert third["decision"]["payable_amount"] in (None, "0.00"), third  # nothing remains
    sue = key(pool_app, "supervisor", "sue")
    answer = overturn(pool_app, sue, partly["id"], "700")
    assert answer.status_code == 422, answer.get_json()
    assert (answer.get_json()["code"], answer.get_json()["remaining"]) == (
        "aggregate_exceeded",
        "600.00",
    )
    assert paid_on_policy(pool_app) == Decimal("1500.00")


def overturn(app, headers, claim_id, amount):
    client = app.test_client()
    tag = client.get(f"/v1/claims/{claim_id}", headers=headers).headers["ETag"]
    return client.post(
        f"/v1/claims/{claim_id}/decision",
        json={"outcome": "overturn", "payable_amount": amount, "note": "review"},
        headers=headers | {"If-Match": tag},
    )


def test_two_overturns_at_once_respect_the_aggregate(pool_app):
    """Two claims approved at 500 each are appealed; two supervisors overturn both to 900
    at the same moment (1,800 against 1,500): one is paid, the other is told what remains
    (600.00); the bordereau bills each claim once, at its latest amount."""
    from service.usecases.write_bordereau import bordereau_csv

    first, second = escalated(pool_app, 2)
    sue, sam = key(pool_app, "supervisor", "sue"), key(pool_app, "supervisor", "sam")
    client = pool_app.test_client()
    for claim_id in (first, second):
        assert approve(pool_app, sue, claim_id, "500", None).status_code == 200
        appealed = client.post(f"/v1/claims/{claim_id}/appeal", json={"reason": "all of it"})
        assert appealed.status_code == 201, appealed.get_json()
    assert paid_on_policy(pool_app) == Decimal("1000.00")

    start = threading.Barrier(2)

    def answer(headers, claim_id):
        tag = pool_app.test_client().get(f"/v1/claims/{claim_id}", headers=headers)
        start.wait()
        return pool_app.test_client().post(
            f"/v1/claims/{claim_id}/decision",
            json={"outcome": "overturn", "payable_amount": "900", "note": "review"},
            headers=headers | {"If-Match": tag.headers["ETag"]},
        )

    responses = run_all([lambda: answer(sue, first), lambda: answer(sam, second)])
    assert sorted(r.status_code for r in responses) == [200, 422]
    refused = next(r for r in responses if r.status_code == 422).get_json()
    assert (refused["code"], refused["remaining"]) == ("aggregate_exceeded", "600.00")
    assert paid_on_policy(pool_app) == Decimal("1400.00")
    report = bordereau_csv(pool_app.extensions["claims"], "2026-06")
    billed = sorted(
        line.split(",")[10] for line in report.splitlines() if line.startswith("claim,")
    )
    assert billed == ["500.00", "900.00"]

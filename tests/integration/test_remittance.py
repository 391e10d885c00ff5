"""The monthly remittance (issue 16 point 5) balances with the bordereau, on PostgreSQL:
same claims, same paid totals per policy and currency; every claim's adjustments explain
the difference between claimed and paid."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner

from tests.auth_helpers import key
from tests.conftest import _truncate
from tests.helpers import claim, put_policies
from tests.integration.test_appeals import approved_partly, bordereau_rows, post_decision

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def db_url(pg_url: str) -> str:
    _truncate(pg_url)
    return pg_url


def rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    table = list(csv.reader(io.StringIO(text, newline="")))
    return table[0], [dict(zip(table[0], r, strict=True)) for r in table[1:]]


def submit(client, **fields) -> dict:
    response = client.post("/v1/claims", json=claim(**fields))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def may(client, clock) -> dict[str, str]:
    """Claims decided in May 2026, and one in June; outcome by claim id."""
    clock.set(datetime(2026, 5, 20, 12, tzinfo=UTC))
    put_policies(client)
    decided = {}
    for fields in (
        {"amount": "300.00", "date_of_loss": "2026-05-10"},  # 250.00 (PR 1 50.00)
        {"amount": "1000.00", "date_of_loss": "2026-05-11"},  # 800.00 (PR 1 50, CO 119 150)
        {
            "policy_number": "P-PROP",
            "claim_type": "water_damage",
            "amount": "1800.00",
            "date_of_loss": "2026-05-12",
        },  # EUR 1300.00 (PR 1 500.00)
        {
            "policy_number": "P-MED",
            "claim_type": "medical_reimbursement",
            "amount": "120.50",
            "date_of_loss": "2026-05-12",
            "line_items": [
                {"code": "99214", "amount": "100.00"},  # under the fee schedule's maxima:
                {"code": "85025", "amount": "20.50"},  # the per-line rules pay them in full
            ],
        },
        {"policy_number": "P-ENDED", "date_of_loss": "2026-05-13"},  # rejected
        {"amount": "200.00", "date_of_loss": "2026-05-14", "documents": []},  # pending
    ):
        document = submit(client, **fields)
        decided[document["id"]] = document["status"]
    clock.set(datetime(2026, 6, 2, 9, tzinfo=UTC))
    june = submit(
        client,
        policy_number="P-MED",
        claim_type="medical_reimbursement",
        amount="400.00",
        date_of_loss="2026-06-01",
    )
    assert june["status"] == "approved"
    clock.set(datetime(2026, 6, 15, 9, tzinfo=UTC))
    return decided


def test_the_remittance_balances_with_the_bordereau(app, client, may):
    finance = key(app, "finance")
    remitted = client.get("/v1/reports/remittance/2026-05", headers=finance)
    billed = client.get("/v1/reports/bordereau/2026-05", headers=finance)
    assert remitted.status_code == billed.status_code == 200
    assert remitted.mimetype == "text/csv"
    assert 'filename="remittance-2026-05.csv"' in remitted.headers["Content-Disposition"]
    header, lines = rows(remitted.get_data(as_text=True))
    _, bordereau = rows(billed.get_data(as_text=True))

    approved = {i for i, status in may.items() if status == "approved"}
    assert len(approved) == 4
    totals = [r for r in lines if r["record"] == "claim_total"]
    assert {r["claim_id"] for r in totals} == approved
    assert {r["claim_id"] for r in bordereau if r["record"] == "claim"} == approved

    # every claim: claimed - sum of its adjustment rows = paid; its line rows (one per line
    # with per-line results, else one for the claim) add up to the claim
    for total in totals:
        mine = [r for r in lines if r["claim_id"] == total["claim_id"]]
        adjustments = sum(
            (Decimal(r["adjustment"]) for r in mine if r["record"] == "adjustment"), Decimal(0)
        )
        assert adjustments == Decimal(total["adjustment"])
        assert Decimal(total["submitted"]) - adjustments == Decimal(total["paid"])
        mine_lines = [r for r in mine if r["record"] == "line"]
        assert sum(Decimal(r["paid"]) for r in mine_lines) == Decimal(total["paid"])
        assert sum(Decimal(r["submitted"]) for r in mine_lines) == Decimal(total["submitted"])

    by_ref = {r["claim_id"]: r for r in totals}
    paid = sorted(Decimal(r["paid"]) for r in by_ref.values())
    assert paid == [Decimal("120.50"), Decimal("250.00"), Decimal("800.00"), Decimal("1300.00")]
    cuts = {(r["group"], r["carc"], r["adjustment"]) for r in lines if r["record"] == "adjustment"}
    assert {("PR", "1", "50.00"), ("CO", "119", "150.00"), ("PR", "1", "500.00")} <= cuts

    # per policy and currency, and in all: the bordereau's payable = the remittance's paid
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in bordereau:
        if r["record"] == "total":
            expected[(r["policy_number"], r["currency"])] += Decimal(r["payable_amount"])
    policy_totals = {
        (r["policy_number"], r["currency"]): Decimal(r["paid"])
        for r in lines
        if r["record"] == "policy_total"
    }
    assert policy_totals == dict(expected)
    grand = {r["currency"]: Decimal(r["paid"]) for r in lines if r["record"] == "grand_total"}
    assert grand == {
        r["currency"]: Decimal(r["payable_amount"])
        for r in bordereau
        if r["record"] == "grand_total"
    }
    assert all(len(r) == len(header) for r in lines)


def test_the_cli_writes_the_same_file(app, client, may, monkeypatch, db_url, tmp_path):
    from worker.cli import reports_group

    served = client.get("/v1/reports/remittance/2026-05", headers=key(app, "finance"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "cli"))
    result = CliRunner().invoke(reports_group, ["remittance", "--month", "2026-05"])
    assert result.exit_code == 0, result.output
    path = result.output.strip().splitlines()[-1]
    assert path.endswith("remittance-2026-05.csv")
    with open(path, "rb") as f:
        assert f.read() == served.get_data()
    bad = CliRunner().invoke(reports_group, ["remittance", "--month", "May"])
    assert bad.exit_code != 0


@pytest.mark.parametrize("month", ["2026-13", "26-05", "2026-07"])
def test_a_month_that_is_not_one_or_has_not_begun_is_422(app, client, month):
    response = client.get(f"/v1/reports/remittance/{month}", headers=key(app, "finance"))
    assert response.status_code == 422


def test_only_finance_and_admin_read_it(app, client):
    assert client.get("/v1/reports/remittance/2026-05").status_code == 403  # intake
    assert (
        client.get("/v1/reports/remittance/2026-05", headers=key(app, "admin")).status_code == 200
    )


def claim_rows_of(app, client, month: str, claim_id: str) -> list[dict[str, str]]:
    text = client.get(f"/v1/reports/remittance/{month}", headers=key(app, "finance"))
    assert text.status_code == 200, text.data
    return [r for r in rows(text.get_data(as_text=True))[1] if r["claim_id"] == claim_id]


def remitted(app, client, month: str, claim_id: str) -> list[str]:
    return [
        r["paid"]
        for r in claim_rows_of(app, client, month, claim_id)
        if r["record"] == "claim_total"
    ]


def overturn(client, claim_id: str, sup, amount: str) -> None:
    assert client.post(f"/v1/claims/{claim_id}/appeal", json={"reason": "more"}).status_code == 201
    answer = post_decision(
        client, claim_id, sup, {"outcome": "overturn", "payable_amount": amount, "note": "ok"}
    )
    assert answer.status_code == 200, answer.json


def test_an_overturn_in_a_later_month_remits_only_the_difference(app, client, clock):
    sup = key(app, "supervisor", "sue")
    put_policies(client, ["P-DEV"])
    clock.set(datetime(2026, 5, 20, 9, tzinfo=UTC))
    claim_id = approved_partly(client, sup, "200.00")
    clock.set(datetime(2026, 6, 3, 9, tzinfo=UTC))
    overturn(client, claim_id, sup, "250.00")
    clock.set(datetime(2026, 7, 2, 9, tzinfo=UTC))
    assert remitted(app, client, "2026-05", claim_id) == ["200.00"]
    assert remitted(app, client, "2026-06", claim_id) == ["50.00"]  # not 250.00 again
    june = claim_rows_of(app, client, "2026-06", claim_id)
    [before] = [r for r in june if r["record"] == "paid_before"]
    assert before["adjustment"] == "200.00"
    [total] = [r for r in june if r["record"] == "claim_total"]
    adjusted = sum(
        (Decimal(r["adjustment"]) for r in june if r["record"] in ("adjustment", "paid_before")),
        Decimal(0),
    )
    assert Decimal(total["submitted"]) - adjusted == Decimal(total["paid"])
    payable = client.get(f"/v1/claims/{claim_id}", headers=sup).json["payable_amount"]
    assert Decimal("200.00") + Decimal("50.00") == Decimal(payable)
    billed = bordereau_rows(app, "2026-06", claim_id)
    assert billed == ["50.00"]


def test_an_overturn_in_the_same_month_remits_the_final_amount_once(app, client, clock):
    sup = key(app, "supervisor", "sue")
    put_policies(client, ["P-DEV"])
    clock.set(datetime(2026, 5, 20, 9, tzinfo=UTC))
    claim_id = approved_partly(client, sup, "200.00")
    clock.set(datetime(2026, 5, 22, 9, tzinfo=UTC))
    overturn(client, claim_id, sup, "250.00")
    clock.set(datetime(2026, 6, 2, 9, tzinfo=UTC))
    assert remitted(app, client, "2026-05", claim_id) == ["250.00"]
    assert not [
        r for r in claim_rows_of(app, client, "2026-05", claim_id) if r["record"] == "paid_before"
    ]
    assert remitted(app, client, "2026-06", claim_id) == []


def test_a_claim_under_appeal_stays_in_the_month_it_was_approved(app, client, clock):
    sup = key(app, "supervisor", "sue")
    put_policies(client, ["P-DEV"])
    clock.set(datetime(2026, 5, 20, 9, tzinfo=UTC))
    claim_id = approved_partly(client, sup, "200.00")
    clock.set(datetime(2026, 6, 3, 9, tzinfo=UTC))
    assert client.post(f"/v1/claims/{claim_id}/appeal", json={"reason": "more"}).status_code == 201
    assert remitted(app, client, "2026-05", claim_id) == ["200.00"]
    assert bordereau_rows(app, "2026-05", claim_id) == ["200.00"]


def test_the_cli_stores_only_ended_months_and_keeps_a_stored_one(
    app, client, may, monkeypatch, db_url, tmp_path
):
    from worker.cli import reports_group

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "cli"))
    now = datetime.now(UTC)  # the CLI runs on the system clock
    current = now.strftime("%Y-%m")
    later = f"{now.year + 1}-01"
    for month in [current, later, "２０２６-05", "2026-5", "0999-01", "2026-05\n"]:
        refused = CliRunner().invoke(reports_group, ["remittance", "--month", month])
        assert refused.exit_code != 0, (month, refused.output)
    assert not (tmp_path / "cli" / "reports" / f"remittance-{current}.csv").exists()
    first = CliRunner().invoke(reports_group, ["remittance", "--month", "2026-05"])
    assert first.exit_code == 0, first.output
    path = tmp_path / "cli" / "reports" / "remittance-2026-05.csv"
    served = path.read_bytes()
    path.write_bytes(served + b"kept\r\n")  # what finance was served stays as it is
    again = CliRunner().invoke(reports_group, ["remittance", "--month", "2026-05"])
    assert again.exit_code == 0 and path.read_bytes().endswith(b"kept\r\n")
    forced = CliRunner().invoke(reports_group, ["remittance", "--month", "2026-05", "--force"])
    assert forced.exit_code == 0 and path.read_bytes() == served


def test_the_bordereau_cli_follows_the_same_month_rules(
    app, client, may, monkeypatch, db_url, tmp_path
):
    from worker.cli import reports_group

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "cli"))
    current = datetime.now(UTC).strftime("%Y-%m")  # the CLI runs on the system clock
    refused = CliRunner().invoke(reports_group, ["monthly", "--month", current])
    assert refused.exit_code != 0
    assert not (tmp_path / "cli" / "reports" / f"bordereau-{current}.csv").exists()
    assert CliRunner().invoke(reports_group, ["monthly", "--month", "2026-05"]).exit_code == 0
    path = tmp_path / "cli" / "reports" / "bordereau-2026-05.csv"
    path.write_bytes(path.read_bytes() + b"kept\r\n")
    assert CliRunner().invoke(reports_group, ["monthly", "--month", "2026-05"]).exit_code == 0
    assert path.read_bytes().endswith(b"kept\r\n")
    forced = CliRunner().invoke(reports_group, ["monthly", "--month", "2026-05", "--force"])
    assert forced.exit_code == 0 and not path.read_bytes().endswith(b"kept\r\n")

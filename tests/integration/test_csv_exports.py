"""Every CSV export is safe in a spreadsheet (issue 13 point 5), on SQLite and PostgreSQL:
read back with Python's csv module, no cell starts like a formula, no row is split."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from service.db.tables import ClaimRow, DecisionRow
from tests.auth_helpers import key
from tests.helpers import POLICIES, claim

pytestmark = pytest.mark.integration

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
THROUGH_THE_API = ['=HYPERLINK("http://x","y")', "+1+cmd", "-2+3", "@SUM(A1:A2)"]
POLICY_NUMBERS = ["=cmd|' calc'!A1", "+P-1", "-P-2", "@P-3"]
# Stored before text was checked at intake (tab, CR and LF are refused there now).
LEGACY = ["\t=1+1", "\r=1+1", "REF\rWITH-CR", "REF\nWITH-LF"]


def spreadsheet_would_run(cell: str) -> bool:
    return cell.startswith(FORMULA_START)


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def add_legacy_claim(context, external_ref: str, policy_number: str, at: datetime) -> None:
    claim_id = str(uuid.uuid4())
    with context.sessions.begin() as s:
        s.add(
            ClaimRow(
                id=claim_id,
                client_id="default",
                external_ref=external_ref,
                policy_number=policy_number,
                claim_type="device_damage",
                date_of_loss=date(2026, 5, 1),
                reported_at=at,
                amount=Decimal("300.00"),
                currency="USD",
                description="",
                claimant={"name": "Sam", "email": "sam@example.com"},
                preferred_language="en",
                callback_url=None,
                payload={},
                status="approved",
                version=1,
                payable_amount=Decimal("250.00"),
                created_at=at,
                updated_at=at,
            )
        )
        s.add(
            DecisionRow(
                claim_id=claim_id,
                outcome="approved",
                payable_amount=Decimal("250.00"),
                reasons=[],
                missing_documents=[],
                trace=[],
                facts={},
                decided_by="rules",
                decided_at=at,
            )
        )


def test_the_bordereau_neutralises_formulas_and_quotes_line_breaks(app, client, context, clock):
    clock.set(datetime(2026, 5, 20, 12, tzinfo=UTC))
    for ref, number in zip(THROUGH_THE_API, POLICY_NUMBERS, strict=True):
        assert client.put(f"/v1/policies/{number}", json=POLICIES["P-DEV"]).status_code == 201
        body = claim(external_ref=ref, policy_number=number, date_of_loss="2026-05-10")
        created = client.post("/v1/claims", json=body)
        assert created.status_code == 201, created.get_data(as_text=True)
        assert created.get_json()["status"] == "approved", created.get_json()
    for ref in LEGACY:
        add_legacy_claim(context, ref, "@P-DEV", clock.now())
    clock.set(datetime(2026, 6, 15, 9, tzinfo=UTC))

    response = client.get("/v1/reports/bordereau/2026-05", headers=key(app, "finance"))
    assert response.status_code == 200
    rows = read_csv(response.get_data(as_text=True))
    header, claims = rows[0], [r for r in rows[1:] if r[0] == "claim"]
    assert all(len(r) == len(header) for r in rows)  # no row split by a CR or LF
    assert len(claims) == len(THROUGH_THE_API) + len(LEGACY)
    refs = [r[header.index("external_ref")] for r in claims]
    expected = [
        "'" + ref if ref.startswith(FORMULA_START) else ref for ref in THROUGH_THE_API + LEGACY
    ]
    assert sorted(refs) == sorted(expected)
    policies = {r[header.index("policy_number")] for r in rows[1:] if r[0] != "grand_total"}
    assert policies == {"'" + number for number in [*POLICY_NUMBERS, "@P-DEV"]}
    for row in rows:
        assert not any(spreadsheet_would_run(cell) for cell in row), row
    for row in claims:  # money columns stay numbers
        assert Decimal(row[header.index("claimed_amount")]) == Decimal("300.00")


def test_the_backtest_csv_neutralises_formulas():
    from service.rulesets_cli import _csv

    report = {
        "changed_claims": [
            {
                "claim_id": "-1+1",
                "old_outcome": "approved",
                "new_outcome": "=rejected",
                "old_payable": "+250.00",
                "new_payable": None,
                "old_reasons": [],
                "new_reasons": ["@code", "x\ry"],
            }
        ]
    }
    rows = read_csv(_csv(report))
    assert rows[1][:3] == ["'-1+1", "approved", "'=rejected"]
    for row in rows:
        assert not any(spreadsheet_would_run(cell) for cell in row), row
    assert len(rows) == 2


def test_the_stored_file_is_served_byte_for_byte(app, client, context):
    add_legacy_claim(context, "A\rB", "P-1", datetime(2026, 5, 2, tzinfo=UTC))
    finance = key(app, "finance")
    first = client.get("/v1/reports/bordereau/2026-05", headers=finance).get_data()
    again = client.get("/v1/reports/bordereau/2026-05", headers=finance).get_data()  # stored
    assert first == again and b'"A\rB"' in again

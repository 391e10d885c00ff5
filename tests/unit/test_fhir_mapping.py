"""The pure FHIR mappers and the remittance rows, with per-line results made by hand in the
shape the per-line adjudication gives each decision (`lines`: sequence, code, submitted,
allowed, deductible, paid, outcome, adjustments, reasons; amounts as decimal strings)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from fhir.resources.R4B.claimresponse import ClaimResponse

from service.adapters.templates import labelled_reason_words
from service.api.fhir.claim_in import FieldPaths, fhir_path
from service.api.fhir.claim_response import claim_response, outcome_of, validated
from service.api.fhir.outcome import fhir_json, operation_outcome
from service.usecases.write_remittance import claim_rows

pytestmark = pytest.mark.unit


def line(
    seq: int,
    code: str,
    submitted: str,
    allowed: str,
    deductible: str,
    paid: str,
    outcome: str,
    adjustments: list[tuple[str, str, str]],
    carc: str | None = None,
) -> dict[str, Any]:
    return {
        "sequence": seq,
        "code": code,
        "submitted": submitted,
        "allowed": allowed,
        "deductible": deductible,
        "paid": paid,
        "outcome": outcome,
        "adjustments": [{"group": g, "carc": c, "amount": a} for g, c, a in adjustments],
        "reasons": [{"code": "NOT_COVERED", "carc": carc, "message": "Not covered."}]
        if carc
        else [],
    }


# visit 150.00: deductible 50.00 -> 100.00; test 80.00 not covered (CO 96);
# device 300.00 over its maximum of 200.00 (CO 45 100.00) -> 200.00. Paid 300.00 of 530.00.
LINES = [
    line(1, "visit", "150.00", "150.00", "50.00", "100.00", "partly_paid", [("PR", "1", "50.00")]),
    line(2, "test", "80.00", "0.00", "0.00", "0.00", "denied", [("CO", "96", "80.00")], "96"),
    line(
        3, "device", "300.00", "200.00", "0.00", "200.00", "partly_paid", [("CO", "45", "100.00")]
    ),
]


def document(lines: list[dict[str, Any]] | None, outcome: str = "approved") -> dict[str, Any]:
    return {
        "id": "5d1c43a8-7f55-4a38-9e52-0d0b1b7c1a11",
        "external_ref": "CLM-77",
        "claim_type": "medical_reimbursement",
        "amount": "530.00",
        "currency": "USD",
        "claimant": {"name": "Lucia Ortega", "preferred_language": "vi"},
        "line_items": [
            {"code": "visit", "description": "", "amount": "150.00"},
            {"code": "test", "description": "", "amount": "80.00"},
            {"code": "device", "description": "", "amount": "300.00"},
        ],
        "created_at": "2026-06-10T08:30:00+00:00",
        "decision": {
            "outcome": outcome,
            "payable_amount": "300.00",
            "adjustments": [
                {"group": "PR", "carc": "1", "amount": "50.00", "reason": "deductible"},
                {"group": "CO", "carc": "96", "amount": "80.00", "reason": "line"},
                {"group": "CO", "carc": "45", "amount": "100.00", "reason": "line"},
            ],
            "reasons": [],
            "missing_documents": [],
            "decided_at": "2026-06-10T08:30:01+00:00",
            **({"lines": lines} if lines is not None else {}),
        },
    }


def amount(entries: list[dict[str, Any]], category: str) -> Decimal:
    [value] = [
        e["amount"]["value"] for e in entries if e["category"]["coding"][0]["code"] == category
    ]
    return Decimal(value)


def test_per_line_results_become_item_adjudication_that_balances():
    resource = validated(claim_response(document(LINES), labelled_reason_words))
    ClaimResponse.model_validate(json.loads(fhir_json(resource)))
    assert resource["outcome"] == "partial"  # a line was denied
    assert "adjudication" not in resource  # the lines carry it
    items = resource["item"]
    assert [amount(i["adjudication"], "benefit") for i in items] == [
        Decimal("100.00"),
        Decimal("0.00"),
        Decimal("200.00"),
    ]
    assert [amount(i["adjudication"], "eligible") for i in items] == [
        Decimal("150.00"),
        Decimal("0.00"),
        Decimal("200.00"),
    ]
    assert amount(items[0]["adjudication"], "deductible") == Decimal("50.00")
    paid = sum(amount(i["adjudication"], "benefit") for i in items)
    assert paid == amount(resource["total"], "benefit") == resource["payment"]["amount"]["value"]
    denied = items[1]
    assert denied["adjudication"][-1]["reason"]["coding"][0]["code"] == "96"
    [number] = denied["noteNumber"]
    note = resource["processNote"][number - 1]
    assert note["language"]["coding"][0]["code"] == "vi"
    assert note["text"] == labelled_reason_words([{"carc": "96", "message": ""}], "vi")[0][0]


def test_without_lines_the_claim_figures_go_to_the_header_and_items_carry_submitted():
    resource = validated(claim_response(document(None), labelled_reason_words))
    assert resource["outcome"] == "complete"
    assert all(len(i["adjudication"]) == 1 for i in resource["item"])
    assert amount(resource["adjudication"], "benefit") == Decimal("300.00")
    assert amount(resource["total"], "deductible") == Decimal("50.00")
    assert amount(resource["total"], "eligible") == Decimal("350.00")
    total = resource["total"]
    assert amount(total, "eligible") - amount(total, "deductible") == amount(total, "benefit")


@pytest.mark.parametrize(
    "outcome,fhir",
    [
        ("approved", "complete"),
        ("rejected", "complete"),  # a denial is a decision taken, not refused input
        ("pending_info", "queued"),
        ("escalated", "queued"),
    ],
)
def test_outcomes(outcome, fhir):
    assert outcome_of(document(None, outcome)) == fhir


def _rejected(adjustments: list[dict[str, str]], reasons: list[dict[str, Any]]) -> dict[str, Any]:
    doc = document(None, "rejected")
    doc["amount"] = "80.00"
    doc["line_items"] = [{"code": "visit", "description": "", "amount": "80.00"}]
    doc["decision"].update(payable_amount="0.00", adjustments=adjustments, reasons=reasons)
    return doc


def test_a_denial_is_complete_with_benefit_0_the_carc_in_the_adjudication_and_no_error():
    reasons = [
        {"code": "NOT_COVERED", "carc": "96", "message": "Not covered.", "action": "reject"},
        {"code": "HIGH", "carc": None, "message": "Refer to a handler.", "action": "escalate"},
    ]
    doc = _rejected([{"group": "CO", "carc": "96", "amount": "80.00"}], reasons)
    resource = validated(claim_response(doc, labelled_reason_words))
    assert resource["outcome"] == "complete"
    assert "error" not in resource and "payment" not in resource
    assert amount(resource["total"], "benefit") == Decimal(0)
    assert resource["adjudication"][-1]["reason"]["coding"][0]["code"] == "96"
    assert "handler" not in resource["disposition"]  # the overridden escalation is not said
    assert resource["disposition"].startswith("Denied")


def test_a_denial_within_the_deductible_keeps_the_patients_share():
    doc = _rejected([{"group": "PR", "carc": "1", "amount": "80.00"}], [])
    resource = validated(claim_response(doc, labelled_reason_words))
    assert amount(resource["total"], "deductible") == Decimal("80.00")
    assert amount(resource["total"], "eligible") == Decimal("80.00")
    assert amount(resource["total"], "benefit") == Decimal(0)


def test_an_approval_of_nothing_is_reported_as_a_denial_without_payment():
    doc = document(None)
    doc["decision"].update(
        payable_amount="0.00",
        adjustments=[{"group": "PR", "carc": "1", "amount": "530.00"}],
        reasons=[
            {"code": "DEDUCTIBLE", "carc": "1", "message": "Deductible.", "action": "approve"}
        ],
    )
    resource = validated(claim_response(doc, labelled_reason_words))
    assert resource["outcome"] == "complete"
    assert "payment" not in resource
    assert resource["disposition"].startswith("Denied")
    assert resource["adjudication"][-1]["reason"]["coding"][0]["code"] == "1"


def test_a_note_in_english_is_labelled_english():
    doc = document(None, "rejected")
    doc["decision"]["reasons"] = [
        {"code": "CUSTOM", "carc": None, "message": "Custom words.", "action": "reject"}
    ]
    resource = validated(claim_response(doc, labelled_reason_words))
    [note] = resource["processNote"]
    assert note["text"] == "Custom words."
    assert note["language"]["coding"][0]["code"] == "en"  # the claimant reads vi


def test_the_request_identifier_keeps_its_system():
    doc = document(None)
    doc["external_ref"] = "http://clinic.example.org/claim|CLM-77"
    resource = validated(claim_response(doc, labelled_reason_words))
    assert resource["request"]["identifier"] == {
        "system": "http://clinic.example.org/claim",
        "value": "CLM-77",
    }


def test_only_fhirpaths_are_expressions():
    body = operation_outcome(422, {"errors": [{"field": "claim_id", "message": "bad"}]})
    assert "expression" not in body["issue"][0]
    assert body["issue"][0]["diagnostics"] == "claim_id: bad"
    assert body["issue"][0]["code"] == "business-rule"
    assert operation_outcome(422, {"code": "duplicate_key"})["issue"][0]["code"] == "structure"
    reused = operation_outcome(422, {"code": "idempotency_key_reused"})
    assert reused["issue"][0]["code"] == "conflict"


def test_money_is_written_exactly():
    text = fhir_json({"a": Decimal("640.00"), "b": [Decimal("0.10")], "c": "x", "d": 1})
    assert text == '{"a":640.00,"b":[0.10],"c":"x","d":1}'


def test_paths():
    assert fhir_path("Claim", ("item", 2, "net", "value")) == "Claim.item[2].net.value"
    paths = FieldPaths({"line_items.2.amount": "Claim.item[2].net.value", "claimant": "C"})
    assert paths.path("line_items.2.amount") == "Claim.item[2].net.value"
    assert paths.path("claimant.email") == "C"
    assert paths.path("nothing") == "Claim"


def test_a_problem_becomes_an_operation_outcome():
    body = operation_outcome(403, {"detail": "no", "code": "forbidden"})
    assert body["issue"][0]["code"] == "forbidden"
    body = operation_outcome(
        422, {"errors": [{"field": "Claim.use", "message": "m", "type": "not-supported"}]}
    )
    assert body["issue"][0]["expression"] == ["Claim.use"]


def test_remittance_rows_per_line_balance_per_line_and_per_claim():
    claim = document(LINES)["decision"]
    adjustments = [(a["group"], a["carc"], Decimal(a["amount"])) for a in claim["adjustments"]]
    rows = claim_rows(
        "medical_reimbursement", "USD", Decimal("530.00"), Decimal("300.00"), adjustments, claim
    )
    lines = [r for r in rows if r[0] == "line"]
    assert [(r[1], r[2], r[5]) for r in lines] == [
        (1, "visit", "100.00"),
        (2, "test", "0.00"),
        (3, "device", "200.00"),
    ]
    for seq, _, submitted, _, paid, *_ in (r[1:] for r in lines):
        cut = sum(Decimal(r[8]) for r in rows if r[0] == "adjustment" and r[1] == seq)
        assert Decimal(submitted) - cut == Decimal(paid)
    assert not [r for r in rows if r[0] == "adjustment" and r[1] == ""]  # all on lines


def test_remittance_rows_keep_a_claim_level_cut_the_lines_do_not_carry():
    claim = document(LINES)["decision"]
    adjustments = [(a["group"], a["carc"], Decimal(a["amount"])) for a in claim["adjustments"]]
    adjustments.append(("CO", "119", Decimal("20.00")))  # aggregate reached, claim level
    rows = claim_rows(
        "medical_reimbursement", "USD", Decimal("530.00"), Decimal("280.00"), adjustments, claim
    )
    assert [r for r in rows if r[0] == "adjustment" and r[1] == ""] == [
        ("adjustment", "", "", "", "", "", "CO", "119", "20.00")
    ]


def test_remittance_rows_without_lines_are_one_row_per_claim():
    rows = claim_rows(
        "device_damage",
        "JPY",
        Decimal("900"),
        Decimal("850"),
        [("PR", "1", Decimal("50"))],
        {"lines": []},
    )
    assert rows == [
        ("line", "", "device_damage", "900", "", "850", "", "", ""),
        ("adjustment", "", "", "", "", "", "PR", "1", "50"),
    ]

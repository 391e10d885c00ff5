"""FHIR R4 Claim in, ClaimResponse out (issue 16 point 4), against real PostgreSQL.

The Claims are written here in the shapes of the HL7 R4 specification's own examples
(claim-example-professional: identifier, professional type, contained patient, a focal
insurance naming the Coverage, items with quantity, unitPrice and net), with our own data.
Every answer is checked with the fhir.resources R4B models, as a partner would read it.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select

from service.db.tables import ClaimRow
from tests.auth_helpers import key
from tests.conftest import _truncate

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

FHIR = "application/fhir+json"
POLICY = {
    "holder": "Hana Health",
    "status": "active",
    "effective_from": "2026-01-01",
    "effective_to": "2026-12-31",
    "currency": "USD",
    "coverages": [
        {
            "claim_type": "medical_reimbursement",
            "limit_per_claim": "5000",
            "annual_aggregate": "10000",
            "deductible": "50",
            "waiting_period": {"days": 0},
        }
    ],
}


@pytest.fixture
def db_url(pg_url: str) -> str:
    """PostgreSQL only: intake takes the policy row lock there."""
    _truncate(pg_url)
    return pg_url


@pytest.fixture
def policy(client) -> str:
    response = client.put("/v1/policies/H-100", json=POLICY)
    assert response.status_code in (200, 201), response.get_json()
    return "H-100"


def item(sequence: int, code: str, quantity: int, unit: str, **extra: Any) -> dict[str, Any]:
    net = Decimal(unit) * quantity
    return {
        "sequence": sequence,
        "careTeamSequence": [1],
        "productOrService": {
            "coding": [
                {"system": "http://example.org/fhir/CodeSystem/ex-serviceproduct", "code": code}
            ],
            "text": f"Service {code}",
        },
        "servicedDate": "2026-06-02",
        "quantity": {"value": quantity},
        "unitPrice": {"value": Decimal(unit), "currency": "USD"},
        "net": {"value": net, "currency": "USD"},
        **extra,
    }


def fhir_claim(
    ref: str = "CLM-1001",
    *,
    documents: bool = True,
    language: str = "en",
    items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    items = items or [
        # codes of the shipped fee schedule (rules/fee_schedules/medical.csv), each under
        # its maximum: the per-line rules pay them in full
        item(1, "99214", 1, "120.00"),
        item(2, "J3420", 2, "45.50"),
        item(3, "J3420", 1, "64.00"),
    ]
    total = sum((i["net"]["value"] for i in items), Decimal(0))
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "contained": [
            {
                "resourceType": "Patient",
                "id": "patient",
                "name": [{"family": "Ortega", "given": ["Lucia"]}],
                "telecom": [{"system": "email", "value": "lucia@example.com"}],
                "communication": [
                    {
                        "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": language}]},
                        "preferred": True,
                    }
                ],
            }
        ],
        "identifier": [{"system": "http://clinic.example.org/claim", "value": ref}],
        "status": "active",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "professional",
                }
            ]
        },
        "use": "claim",
        "patient": {"reference": "#patient"},
        "billablePeriod": {"start": "2026-06-02", "end": "2026-06-02"},
        "created": "2026-06-10T08:30:00+00:00",
        "provider": {"reference": "Organization/clinic-1"},
        "priority": {"coding": [{"code": "normal"}]},
        "careTeam": [{"sequence": 1, "provider": {"reference": "Practitioner/dr-1"}}],
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/H-100"}}],
        "item": items,
        "total": {"value": total, "currency": "USD"},
    }
    if documents:
        claim["supportingInfo"] = [
            {
                "sequence": 1,
                "category": {"coding": [{"code": "attachment"}]},
                "code": {"coding": [{"code": "invoice"}]},
                "valueAttachment": {"url": "https://docs.example.org/invoice-1.pdf"},
            },
            {
                "sequence": 2,
                "category": {"coding": [{"code": "attachment"}]},
                "code": {"coding": [{"code": "medical_report"}]},
                "valueAttachment": {"url": "https://docs.example.org/report-1.pdf"},
            },
        ]
    return claim


def post(client, resource: Any, **kwargs: Any):
    body = resource if isinstance(resource, str) else json.dumps(resource, default=str)
    headers = kwargs.pop("headers", {})
    return client.post(
        "/fhir/Claim", data=body, headers={"Content-Type": FHIR, **headers}, **kwargs
    )


def stored_claims(context) -> int:
    with context.sessions.begin() as s:
        return int(s.scalar(select(func.count()).select_from(ClaimRow)) or 0)


def money(entries: list[dict[str, Any]], category: str) -> Decimal:
    found = [
        e["amount"]["value"] for e in entries if e["category"]["coding"][0]["code"] == category
    ]
    assert len(found) == 1, (category, entries)
    return Decimal(str(found[0]))


def parsed(response) -> dict[str, Any]:
    assert response.mimetype == FHIR, response.data
    return json.loads(response.data, parse_float=Decimal)


def test_professional_claim_is_adjudicated_and_its_answer_validates_and_balances(
    client, context, policy
):
    response = post(client, fhir_claim())
    assert response.status_code == 201, response.data
    body = parsed(response)
    ClaimResponse.model_validate(body)
    assert body["outcome"] == "complete"
    assert body["request"]["identifier"] == {
        "system": "http://clinic.example.org/claim",
        "value": "CLM-1001",
    }
    # 120.00 + 2 x 45.50 + 64.00 = 275.00, deductible 50.00 -> 225.00 payable
    assert money(body["total"], "submitted") == Decimal("275.00")
    assert money(body["total"], "deductible") == Decimal("50.00")
    assert money(body["total"], "eligible") == Decimal("275.00")
    assert money(body["total"], "benefit") == Decimal("225.00")
    assert Decimal(str(body["payment"]["amount"]["value"])) == Decimal("225.00")
    assert "adjudication" not in body  # per-line results: the items carry them
    assert [i["itemSequence"] for i in body["item"]] == [1, 2, 3]
    assert sum(money(i["adjudication"], "submitted") for i in body["item"]) == Decimal("275.00")
    assert sum(money(i["adjudication"], "benefit") for i in body["item"]) == Decimal("225.00")
    assert sum(money(i["adjudication"], "deductible") for i in body["item"]) == Decimal("50.00")
    assert b'"value":225.00' in response.data  # money written exactly, not as a float
    claim_id = body["id"]
    assert response.headers["Location"] == f"/fhir/ClaimResponse/{claim_id}"

    again = client.get(f"/fhir/ClaimResponse/{claim_id}")
    assert again.status_code == 200
    assert parsed(again) == body
    stored = client.get(f"/v1/claims/{claim_id}").get_json()
    assert stored["external_ref"] == "http://clinic.example.org/claim|CLM-1001"
    assert stored["policy_number"] == "H-100"
    assert stored["claim_type"] == "medical_reimbursement"
    assert stored["date_of_loss"] == "2026-06-02"
    assert stored["claimant"]["email"] == "lucia@example.com"
    assert [(li["code"], li["amount"]) for li in stored["line_items"]] == [
        ("99214", "120.00"),
        ("J3420", "91.00"),
        ("J3420", "64.00"),
    ]
    assert sorted(d["type"] for d in stored["documents"]) == ["invoice", "medical_report"]


def test_a_retry_is_answered_with_the_first_response_and_stores_nothing_new(
    client, context, policy
):
    first = post(client, fhir_claim("CLM-2"), headers={"Idempotency-Key": "k-1"})
    second = post(client, fhir_claim("CLM-2"), headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert parsed(first)["id"] == parsed(second)["id"]
    assert stored_claims(context) == 1


def test_missing_documents_are_a_queued_answer_with_a_communication_request(
    client, context, policy
):
    response = post(client, fhir_claim("CLM-3", documents=False, language="es-MX"))
    assert response.status_code == 201, response.data
    body = parsed(response)
    ClaimResponse.model_validate(body)
    assert body["outcome"] == "queued"
    assert "payment" not in body
    [request] = body["contained"]
    assert request["resourceType"] == "CommunicationRequest"
    assert body["communicationRequest"] == [{"reference": f"#{request['id']}"}]
    assert sorted(p["contentString"] for p in request["payload"]) == ["invoice", "medical_report"]
    notes = body["processNote"]
    assert notes and all(n["language"]["coding"][0]["code"] == "es" for n in notes)
    assert any("Faltan" in n["text"] for n in notes)  # CARC 16 in the claimant's Spanish


def test_a_rejected_claim_is_a_complete_denial_with_the_carc(client, context, policy):
    claim = fhir_claim("CLM-4")
    claim["billablePeriod"] = {"start": "2025-11-20"}  # before the cover started
    for i in claim["item"]:
        i["servicedDate"] = "2025-11-20"
    response = post(client, claim)
    assert response.status_code == 201, response.data
    body = parsed(response)
    ClaimResponse.model_validate(body)
    assert body["outcome"] == "complete"  # decided: a denial, not refused input
    assert "error" not in body
    assert body["adjudication"][-1]["reason"]["coding"][0]["code"] == "26", body
    assert money(body["total"], "benefit") == Decimal(0)
    assert body["disposition"].startswith("Denied")
    assert "payment" not in body


def _broken(change) -> dict[str, Any]:
    claim = copy.deepcopy(fhir_claim("CLM-BAD"))
    change(claim)
    return claim


def _set(path: list[Any], value: Any):
    def change(claim: dict[str, Any]) -> None:
        target = claim
        for part in path[:-1]:
            target = target[part]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


BAD = [
    # what fhir.resources refuses: 400
    ("net not a number", _set(["item", 2, "net", "value"], "lots"), 400, "Claim.item[2].net.value"),
    ("no status", _set(["status"], KeyError), 400, "Claim.status"),
    ("unknown element", _set(["item", 0, "colour"], "red"), 400, "Claim.item[0].colour"),
    ("not a Claim", _set(["resourceType"], "Patient"), 400, "Claim.resourceType"),
    # valid FHIR this service refuses: 422
    ("items do not add up", _set(["total", "value"], Decimal("300.00")), 422, "Claim.total.value"),
    (
        "net is not quantity x unitPrice",
        _set(["item", 1, "net", "value"], Decimal("90.00")),
        422,
        "Claim.item[1].net.value",
    ),
    ("preauthorization", _set(["use"], "preauthorization"), 422, "Claim.use"),
    (
        "coverage without a policy",
        _set(["insurance", 0, "coverage"], {"display": "x"}),
        422,
        "Claim.insurance[0].coverage",
    ),
    ("no identifier", _set(["identifier"], KeyError), 422, "Claim.identifier"),
    (
        "date of loss in the future",
        _set(["billablePeriod"], {"start": "2026-08-01"}),
        422,
        "Claim.billablePeriod.start",
    ),
    # a contained resource the library cannot look up: 400, never a 500
    (
        "contained Bogus",
        _set(["contained", 0, "resourceType"], "Bogus"),
        400,
        "Claim.contained[0].resourceType",
    ),
    (
        "contained lower case",
        _set(["contained", 0, "resourceType"], "patient"),
        400,
        "Claim.contained[0].resourceType",
    ),
    (
        "contained dunder",
        _set(["contained", 0, "resourceType"], "__class__"),
        400,
        "Claim.contained[0].resourceType",
    ),
    (
        "contained number",
        _set(["contained", 0, "resourceType"], 5),
        400,
        "Claim.contained[0].resourceType",
    ),
    (
        "contained list",
        _set(["contained", 0, "resourceType"], ["Patient"]),
        400,
        "Claim.contained[0].resourceType",
    ),
    (
        "contained null",
        _set(["contained", 0, "resourceType"], None),
        400,
        "Claim.contained[0].resourceType",
    ),
    (
        "contained no type",
        _set(["contained", 0, "resourceType"], KeyError),
        400,
        "Claim.contained[0].resourceType",
    ),
    (
        "contained in a contained resource",
        _set(["contained", 0, "contained"], [{"resourceType": "Bogus"}]),
        400,
        "Claim.contained[0].contained[0].resourceType",
    ),
    (
        "contained datatype",
        _set(["contained", 0, "resourceType"], "Quantity"),
        400,
        "Claim.contained[0].resourceType",
    ),
    # every date of the Claim is checked
    (
        "item in the future",
        _set(["item", 1, "servicedDate"], "2026-09-01"),
        422,
        "Claim.item[1].servicedDate",
    ),
    (
        "billable period ends before it starts",
        _set(["billablePeriod"], {"start": "2026-06-02", "end": "2026-06-01"}),
        422,
        "Claim.billablePeriod.end",
    ),
    (
        "item outside the billable period",
        _set(["item", 2, "servicedDate"], "2026-06-05"),
        422,
        "Claim.item[2].servicedDate",
    ),
    (
        "a time with an offset is not a day of service",
        _set(["billablePeriod"], {"start": "2026-06-02T02:00:00+14:00"}),
        422,
        "Claim.billablePeriod.start",
    ),
    ("created in the future", _set(["created"], "2026-07-20"), 422, "Claim.created"),
    ("created before the service", _set(["created"], "2026-06-01"), 422, "Claim.created"),
    (
        "created with a time before the service",
        _set(["created"], "2026-06-01T10:00:00+00:00"),
        422,
        "Claim.created",
    ),
    # meaning this service does not know
    (
        "claim modifierExtension",
        _set(["modifierExtension"], [{"url": "http://x.org/m", "valueBoolean": True}]),
        422,
        "Claim.modifierExtension",
    ),
    (
        "item modifierExtension",
        _set(["item", 1, "modifierExtension"], [{"url": "http://x.org/m", "valueBoolean": True}]),
        422,
        "Claim.item[1].modifierExtension",
    ),
    ("implicitRules", _set(["implicitRules"], "http://x.org/rules"), 422, "Claim.implicitRules"),
    # money
    ("quantity 0", _set(["item", 0, "quantity"], {"value": 0}), 422, "Claim.item[0].net.value"),
    (
        "unitPrice in another currency",
        _set(["item", 0, "unitPrice"], {"value": Decimal("120.00"), "currency": "EUR"}),
        422,
        "Claim.item[0].unitPrice.currency",
    ),
    (
        "attachment with neither url nor data",
        _set(["supportingInfo", 0, "valueAttachment"], {"title": "invoice.pdf"}),
        422,
        "Claim.supportingInfo[0].valueAttachment",
    ),
    ("item out of order", _set(["item", 1, "sequence"], 7), 422, "Claim.item[1].sequence"),
    (
        "a month is not a date of loss",
        _set(["billablePeriod"], {"start": "2026-06"}),
        422,
        "Claim.billablePeriod.start",
    ),
    ("patient not contained", _set(["patient"], {"reference": "Patient/9"}), 422, "Claim.patient"),
]


@pytest.mark.parametrize("name,change,status,path", BAD, ids=[b[0] for b in BAD])
def test_a_bad_claim_is_an_operation_outcome_naming_the_path_and_stores_nothing(
    client, context, policy, name, change, status, path
):
    response = post(client, _broken(change))
    assert response.status_code == status, response.data
    body = parsed(response)
    OperationOutcome.model_validate(body)
    paths = [e for issue in body["issue"] for e in issue.get("expression", [])]
    assert path in paths, body
    assert stored_claims(context) == 0


def test_amounts_the_currency_cannot_carry_are_named_by_their_fhir_path(client, context):
    items = [item(1, "exam", 1, "1000"), item(2, "lab", 1, "10.5")]
    for i in items:
        i["net"]["currency"] = i["unitPrice"]["currency"] = "JPY"
    claim = fhir_claim("CLM-JPY", items=items)
    claim["total"]["currency"] = "JPY"
    response = post(client, claim)
    assert response.status_code == 422
    paths = [e for issue in parsed(response)["issue"] for e in issue.get("expression", [])]
    assert "Claim.item[1].net.value" in paths
    assert stored_claims(context) == 0


def test_refused_requests_on_fhir_routes_are_operation_outcomes(app, client, context, policy):
    cases = [
        post(client, fhir_claim(), headers={"Content-Type": "text/plain"}),  # 415
        post(client, "{not json"),  # 400
        post(client, "[" * 40 + "]" * 40),  # deeper than MAX_JSON_DEPTH: 400
        post(client, fhir_claim(), headers={"Authorization": "Bearer nope"}),  # 401
        post(client, fhir_claim(), headers=key(app, "finance")),  # 403
        client.get("/fhir/ClaimResponse/no-such-claim"),  # 404
        client.get("/fhir/Nothing"),  # 404, no route
        post(client, json.dumps({"x": "y" * (app.config["MAX_CONTENT_LENGTH"] + 1)})),  # 413
    ]
    assert [r.status_code for r in cases] == [415, 400, 400, 401, 403, 404, 404, 413]
    for response in cases:
        body = parsed(response)
        OperationOutcome.model_validate(body)
        assert body["issue"][0]["severity"] == "error"
    assert stored_claims(context) == 0


def test_the_claim_response_follows_the_current_decision(client, context, policy):
    created = parsed(post(client, fhir_claim("CLM-5", documents=False)))
    assert created["outcome"] == "queued"
    documents = [{"type": "invoice", "ref": "inv-5"}, {"type": "medical_report", "ref": "mr-5"}]
    response = client.post(f"/v1/claims/{created['id']}/documents", json={"documents": documents})
    assert response.status_code in (200, 201), response.get_json()
    now = parsed(client.get(f"/fhir/ClaimResponse/{created['id']}"))
    ClaimResponse.model_validate(now)
    assert now["outcome"] == "complete"
    assert "communicationRequest" not in now
    assert Decimal(str(now["payment"]["amount"]["value"])) == Decimal("225.00")


def test_the_same_identifier_with_another_claim_is_a_conflict(client, context, policy):
    assert post(client, fhir_claim("CLM-6")).status_code == 201
    other = fhir_claim("CLM-6", items=[item(1, "exam", 1, "99.00")])
    response = post(client, other)
    assert response.status_code == 409
    body = parsed(response)
    OperationOutcome.model_validate(body)
    assert body["issue"][0]["code"] == "conflict"
    assert stored_claims(context) == 1


def test_an_intake_client_reads_only_its_own_claim_responses(app, client, context, policy):
    claim_id = parsed(post(client, fhir_claim("CLM-7")))["id"]
    other = key(app, "intake", "other-clinic")
    assert client.get(f"/fhir/ClaimResponse/{claim_id}", headers=other).status_code == 404
    staff = client.get(f"/fhir/ClaimResponse/{claim_id}", headers=key(app, "finance"))
    assert staff.status_code == 200


def test_a_coverage_named_by_identifier_is_the_policy(client, context, policy):
    claim = fhir_claim("CLM-8")
    claim["insurance"][0]["coverage"] = {"identifier": {"value": "H-100"}}
    response = post(client, claim)
    assert response.status_code == 201, response.data
    assert parsed(response)["outcome"] == "complete"


@pytest.mark.parametrize("segment", ["%00", "%01x", "a" * 300, "%E2%80%AE", "..%2F..%2Fetc"])
def test_hostile_ids_are_operation_outcomes(client, segment):
    response = client.get(f"/fhir/ClaimResponse/{segment}")
    assert 400 <= response.status_code < 500
    OperationOutcome.model_validate(parsed(response))


def test_a_service_after_the_cover_ended_is_refused(client, context, policy):
    claim = fhir_claim("CLM-LATE")
    # the clock is far enough on for 2027 not to be in the future
    claim["billablePeriod"] = {"start": "2026-06-02", "end": "2027-01-02"}
    claim["item"][2]["servicedDate"] = "2027-01-02"
    context.clock.set(context.clock.now().replace(year=2027, month=1, day=10))
    claim["created"] = "2027-01-05T08:00:00+00:00"
    response = post(client, claim)
    assert response.status_code == 422, response.data
    issues = parsed(response)["issue"]
    assert [i["expression"] for i in issues] == [["Claim.item[2].servicedDate"]]
    assert stored_claims(context) == 0


def test_the_date_of_loss_is_the_earliest_day_of_service(client, context, policy):
    claim = fhir_claim("CLM-EARLY")
    del claim["billablePeriod"]
    claim["item"][1]["servicedDate"] = "2026-05-30"
    response = post(client, claim)
    assert response.status_code == 201, response.data
    stored = client.get(f"/v1/claims/{parsed(response)['id']}").get_json()
    assert stored["date_of_loss"] == "2026-05-30"


def test_an_inline_attachment_is_a_document_kept_by_its_fingerprint(client, context, policy):
    claim = fhir_claim("CLM-INLINE")
    claim["supportingInfo"][0]["valueAttachment"] = {
        "contentType": "application/pdf",
        "data": "JVBERi0xLjQK",
    }
    response = post(client, claim)
    assert response.status_code == 201, response.data
    body = parsed(response)
    assert body["outcome"] == "complete"  # nothing requested again
    stored = client.get(f"/v1/claims/{body['id']}").get_json()
    refs = {d["type"]: d["ref"] for d in stored["documents"]}
    assert refs["invoice"].startswith("inline:") and len(refs["invoice"]) == 7 + 64


def test_the_same_value_from_two_systems_is_two_claims(client, context, policy):
    first = post(client, fhir_claim("CLM-SYS"))
    other = fhir_claim("CLM-SYS", items=[item(1, "exam", 1, "99.00")])
    other["identifier"][0]["system"] = "http://other-clinic.example.org/claim"
    second = post(client, other)
    assert (first.status_code, second.status_code) == (201, 201), second.data
    assert parsed(second)["request"]["identifier"]["system"] == (
        "http://other-clinic.example.org/claim"
    )
    assert stored_claims(context) == 2


def test_a_400_with_more_than_50_issues_says_how_many_more(client, context, policy):
    claim = fhir_claim("CLM-MANY")
    claim["contained"] += [{"resourceType": "Bogus"} for _ in range(60)]
    response = post(client, claim)
    assert response.status_code == 400
    issues = parsed(response)["issue"]
    assert len(issues) == 51
    assert issues[-1]["severity"] == "information"
    assert "10 more" in issues[-1]["diagnostics"]


def test_request_checks_in_order_route_auth_then_body(app, client, context, policy):
    wrong_method = client.post(
        "/fhir/ClaimResponse/x", data="{}", headers={"Content-Type": "text/plain"}
    )
    assert wrong_method.status_code == 405
    assert parsed(wrong_method)["issue"][0]["code"] == "not-supported"
    other_json = post(
        client, fhir_claim(), headers={"Content-Type": "application/merge-patch+json"}
    )
    assert other_json.status_code == 415
    no_key = post(client, "{not json", headers={"Authorization": "Bearer nope"})
    assert no_key.status_code == 401
    duplicate = post(client, '{"resourceType": "Claim", "resourceType": "Claim"}')
    assert duplicate.status_code == 422
    assert parsed(duplicate)["issue"][0]["code"] == "structure"
    assert stored_claims(context) == 0


def test_the_claim_response_answers_the_claims_own_type_and_subtype(client, context, policy):
    claim = fhir_claim("CLM-INST")
    institutional = {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}
        ]
    }
    sub_type = {"coding": [{"system": "http://example.org/subtype", "code": "emergency"}]}
    claim["type"], claim["subType"] = institutional, sub_type
    created = parsed(post(client, claim))
    again = parsed(client.get(f"/fhir/ClaimResponse/{created['id']}"))
    for body in (created, again):
        ClaimResponse.model_validate(body)
        assert body["type"] == institutional
        assert body["subType"] == sub_type


def test_while_an_appeal_is_open_the_decision_stands_and_the_outcome_is_queued(app, client):
    from tests.helpers import put_policies
    from tests.integration.test_appeals import approved_partly

    sup = key(app, "supervisor", "sue")
    put_policies(client, ["P-DEV"])
    claim_id = approved_partly(client, sup, "200.00")
    assert client.post(f"/v1/claims/{claim_id}/appeal", json={"reason": "more"}).status_code == 201
    body = parsed(client.get(f"/fhir/ClaimResponse/{claim_id}"))
    ClaimResponse.model_validate(body)
    assert body["outcome"] == "queued"  # not final: a supervisor is reviewing it
    assert body["disposition"].startswith("Under appeal")
    assert "200.00" in body["disposition"]
    assert Decimal(str(body["payment"]["amount"]["value"])) == Decimal("200.00")  # paid
    assert money(body["total"], "benefit") == Decimal("200.00")

"""A claim as the API reads it back (`claim_document`) -> a FHIR R4 `ClaimResponse`.

Pure: no Flask, no database; the reasons' words in the claimant's language come from
the `words` function handed in. The result is a dict with money as Decimal, checked
against the R4B models of `fhir.resources` by `validated`. docs/interop.md gives the
mapping field by field.

Outcome: approved and rejected -> complete (a denial: benefit 0 and the CARC in the
adjudication's reason; partial when per-line results deny some lines, not all);
pending_info and escalated (and a claim not yet decided) -> queued. `error` is left to
refused input, which is answered with an OperationOutcome.
Money: `total` always carries the claim-level figures from the decision's adjustment
lines: submitted = claimed, deductible = the PR 1 lines, benefit = payable,
eligible = benefit + deductible (claimed minus every cut that is not the deductible).
Items: with per-line results (`decision.lines`), each item's adjudication carries
submitted, eligible (allowed), deductible and benefit (paid); without them each item
carries its submitted amount only and the claim-level figures go to the header
`adjudication` as well.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.claimresponse import ClaimResponse

from service.api.fhir.claim_in import identifier_of

ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"
CARC = "https://x12.org/codes/claim-adjustment-reason-codes"
BCP47 = "urn:ietf:bcp:47"
SERVICE_CLAIM_TYPE = "urn:claims-adjudication:claim-type"
SERVICE_CLAIM_ID = "urn:claims-adjudication:claim-id"
INSURER = "Claim adjudication service"
MISSING_DOCUMENTS_ID = "missing-documents"
CATEGORIES = ("submitted", "eligible", "deductible", "benefit")
DEDUCTIBLE = ("PR", "1")
APPEALED = "appealed"

Words = Callable[[list[dict[str, Any]], str], list[tuple[str, str]]]  # (text, language)
DECIDING_ACTION = {"approved": "approve", "rejected": "reject"}


def outcome_of(document: dict[str, Any]) -> str:
    if document.get("status") == APPEALED:
        return "queued"  # a supervisor is reviewing the decision
    decision = document.get("decision") or {}
    outcome = decision.get("outcome")
    if outcome in ("approved", "rejected"):
        # a decision taken is `complete` (a denial too: benefit 0, the CARC in the
        # adjudication's reason); `partial` when some lines are paid and others denied.
        # `error` is for input refused, which gets an OperationOutcome, never a decision.
        lines = decision.get("lines") or []
        denied = [line.get("outcome") == "denied" for line in lines]
        return "partial" if any(denied) and not all(denied) else "complete"
    return "queued"


def decisive_reasons(decision: dict[str, Any]) -> list[dict[str, Any]]:
    """The reasons of the rules that took the decision (a rejection's reject rules, not
    the escalation that a stronger rejection overrode); all of them when none says."""
    reasons = [r for r in decision.get("reasons") or [] if isinstance(r, dict)]
    action = DECIDING_ACTION.get(str(decision.get("outcome")))
    own = [r for r in reasons if r.get("action") == action]
    return own or reasons


def _denied(decision: dict[str, Any], figures: dict[str, Decimal]) -> bool:
    """Nothing is paid: a rejection, or an approval of 0 (the deductible took it all)."""
    return decision.get("outcome") == "rejected" or (
        decision.get("outcome") == "approved" and figures["benefit"] == 0
    )


def claim_figures(document: dict[str, Any]) -> dict[str, Decimal]:
    """submitted, eligible, deductible, benefit of the claim, from its decision's
    adjustment lines (claimed - sum of adjustments = payable)."""
    decision = document.get("decision") or {}
    claimed = Decimal(str(document["amount"]))
    adjustments = decision.get("adjustments") or []
    deductible = sum(
        (
            Decimal(str(a["amount"]))
            for a in adjustments
            if (str(a.get("group")), str(a.get("carc"))) == DEDUCTIBLE
        ),
        Decimal(0),
    )
    payable = decision.get("payable_amount")
    benefit = Decimal(str(payable)) if payable is not None else Decimal(0)
    return {
        "submitted": claimed,
        "eligible": benefit + deductible,
        "deductible": deductible,
        "benefit": benefit,
    }


def claim_response(document: dict[str, Any], words: Words) -> dict[str, Any]:
    """The ClaimResponse of the claim's current decision (money as Decimal)."""
    decision = document.get("decision") or {}
    currency = str(document["currency"])
    claimant = document.get("claimant") or {}
    language = str(claimant.get("preferred_language") or "en")
    outcome = outcome_of(document)
    # under appeal the decision taken still stands (and what it paid is paid): shown in
    # full, the outcome queued until the supervisor's answer
    decided = outcome != "queued" or document.get("status") == APPEALED
    figures = claim_figures(document)
    notes: list[dict[str, Any]] = []

    def note(text: str, written_in: str) -> int:
        number = len(notes) + 1
        notes.append(
            {
                "number": number,
                "type": "display",
                "text": text,
                "language": {"coding": [{"system": BCP47, "code": written_in}]},
            }
        )
        return number

    reasons = decisive_reasons(decision)
    for text, written_in in words(reasons, language):
        note(text, written_in)
    resource: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": document["id"],
        "identifier": [{"system": SERVICE_CLAIM_ID, "value": document["id"]}],
        "status": "active",
        **_types(document),
        "use": "claim",
        "patient": {"display": claimant.get("name") or "claimant"},
        "created": decision.get("decided_at") or document["created_at"],
        "insurer": {"display": INSURER},
        "request": {"type": "Claim", "identifier": identifier_of(str(document["external_ref"]))},
        "outcome": outcome,
        "disposition": _disposition(document, figures, currency),
    }
    lines = {int(line["sequence"]): line for line in decision.get("lines") or []}
    items = []
    for i, item in enumerate(document.get("line_items") or []):
        sequence = i + 1
        line = lines.get(sequence)
        entry: dict[str, Any] = {"itemSequence": sequence}
        if line is not None and decided:
            entry["adjudication"] = _line_adjudication(line, currency)
            numbers = [note(*said) for said in words(list(line.get("reasons") or []), language)]
            if numbers:
                entry["noteNumber"] = numbers
        else:
            entry["adjudication"] = [
                _adjudication("submitted", Decimal(str(item["amount"])), currency)
            ]
        items.append(entry)
    if items:
        resource["item"] = items
    shown = CATEGORIES if decided else ("submitted",)
    if decided and not lines:
        resource["adjudication"] = [_adjudication(c, figures[c], currency) for c in shown]
    carcs = [str(r["carc"]) for r in reasons if r.get("carc")]
    if decided and carcs and _denied(decision, figures):
        # the claim-level reason of a denial (with per-line results: the header carries
        # the benefit of 0 and why, the lines their own reasons)
        header = resource.setdefault(
            "adjudication", [_adjudication("benefit", figures["benefit"], currency)]
        )
        header[-1]["reason"] = {"coding": [{"system": CARC, "code": carcs[0]}]}
    resource["total"] = [
        {"category": _category(c), "amount": _money(figures[c], currency)} for c in shown
    ]
    if decision.get("outcome") == "approved" and figures["benefit"] > 0:
        resource["payment"] = {
            "type": {"coding": [{"system": PAYMENT_TYPE, "code": "complete"}]},
            "amount": _money(figures["benefit"], currency),
        }
    if notes:
        resource["processNote"] = notes
    missing = [str(d) for d in decision.get("missing_documents") or []]
    if missing and decision.get("outcome") == "pending_info":
        resource["contained"] = [
            {
                "resourceType": "CommunicationRequest",
                "id": MISSING_DOCUMENTS_ID,
                "status": "active",
                "payload": [{"contentString": kind} for kind in missing],
            }
        ]
        resource["communicationRequest"] = [{"reference": f"#{MISSING_DOCUMENTS_ID}"}]
    return resource


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, after the library has checked it as an R4 ClaimResponse
    (pydantic.ValidationError if the mapping ever built an invalid one)."""
    ClaimResponse.model_validate(resource)
    return resource


def _types(document: dict[str, Any]) -> dict[str, Any]:
    """The Claim's own type and subType when it came in as FHIR, else the service's."""
    sent = document.get("fhir") or {}
    if isinstance(sent.get("type"), dict):
        return {k: sent[k] for k in ("type", "subType") if isinstance(sent.get(k), dict)}
    return {"type": _type(str(document["claim_type"]))}


def _type(claim_type: str) -> dict[str, Any]:
    codings = [{"system": SERVICE_CLAIM_TYPE, "code": claim_type}]
    if claim_type == "medical_reimbursement":
        codings.insert(0, {"system": CLAIM_TYPE, "code": "professional"})
    return {"coding": codings}


def _disposition(document: dict[str, Any], figures: dict[str, Decimal], currency: str) -> str:
    decision = document.get("decision") or {}
    if document.get("status") == APPEALED:
        return (
            "Under appeal: a supervisor is reviewing the decision; until the answer it "
            f"stands ({_said(decision, figures, currency)})"
        )
    return _said(decision, figures, currency)


def _said(decision: dict[str, Any], figures: dict[str, Decimal], currency: str) -> str:
    outcome = decision.get("outcome")
    if outcome in ("approved", "rejected") and _denied(decision, figures):
        said = "; ".join(
            str(r.get("message") or r.get("code")).rstrip(".") for r in decisive_reasons(decision)
        )
        return f"Denied: nothing payable ({said})." if said else "Denied: nothing payable."
    if outcome == "approved":
        return f"Approved: {figures['benefit']} {currency} payable."
    if outcome == "pending_info":
        return "Pending: documents requested."
    if outcome == "escalated":
        return "Escalated: a claims handler will decide."
    return "Received: not decided yet."


def _line_adjudication(line: dict[str, Any], currency: str) -> list[dict[str, Any]]:
    figures = {
        "submitted": line.get("submitted"),
        "eligible": line.get("allowed"),
        "deductible": line.get("deductible"),
        "benefit": line.get("paid"),
    }
    out = [_adjudication(c, Decimal(str(figures[c] or 0)), currency) for c in CATEGORIES]
    carcs = [str(r["carc"]) for r in line.get("reasons") or [] if r.get("carc")]
    if carcs:
        out[-1]["reason"] = {"coding": [{"system": CARC, "code": carcs[0]}]}
    return out


def _adjudication(category: str, amount: Decimal, currency: str) -> dict[str, Any]:
    return {"category": _category(category), "amount": _money(amount, currency)}


def _category(code: str) -> dict[str, Any]:
    return {"coding": [{"system": ADJUDICATION, "code": code}]}


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"value": amount, "currency": currency}

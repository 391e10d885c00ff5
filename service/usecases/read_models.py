"""Read models: how a stored claim is shown to API clients (and replayed)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from service.db.tables import AppealRow, AuditEventRow, ClaimRow, DecisionRow
from service.domain.money import fmt


def decision_document(
    row: DecisionRow, currency: str | None = None, *, with_facts: bool = False
) -> dict[str, Any]:
    """A decision with its adjustment lines; `with_facts`: and the facts it was made on
    (stored with it when it was taken, never rewritten)."""
    document = {
        "id": row.id,
        "outcome": row.outcome,
        "payable_amount": fmt(row.payable_amount, currency),
        "adjustments": row.adjustments or [],
        "lines": row.lines or [],
        "reasons": row.reasons,
        "missing_documents": row.missing_documents,
        "ruleset_version": row.ruleset_version,
        "trace": row.trace,
        "decided_by": row.decided_by,
        "decided_by_kind": row.decided_by_kind,
        "decided_at": row.decided_at.isoformat(),
        "note": row.note,
    }
    if with_facts:
        document["facts"] = row.facts
    return document


def claim_document(row: ClaimRow, decision: DecisionRow | None = None) -> dict[str, Any]:
    """The claim as received plus its decision (the latest unless one is given)."""
    decision = decision or (row.decisions[-1] if row.decisions else None)
    currency = row.currency
    return {
        "id": row.id,
        "external_ref": row.external_ref,
        "status": row.status,
        "policy_number": row.policy_number,
        "claim_type": row.claim_type,
        "date_of_loss": row.date_of_loss.isoformat(),
        "reported_at": row.reported_at.isoformat(),
        "reported_on": row.reported_on.isoformat(),
        "time_zone": row.time_zone,
        "amount": fmt(row.amount, currency),
        "currency": currency,
        "description": row.description,
        "claimant": row.claimant,
        "documents": [
            {"type": d.type, "ref": d.ref, "received_at": d.received_at.isoformat()}
            for d in row.documents
        ],
        "line_items": line_items(row),
        "callback_url": row.callback_url,
        "payable_amount": fmt(row.payable_amount, currency),
        "assignee": row.assignee,
        "sla_due_at": row.sla_due_at.isoformat() if row.sla_due_at else None,
        "decision": decision_document(decision, currency) if decision else None,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        # a FHIR Claim's own type and subType, answered back in its ClaimResponse
        **({"fhir": row.payload["fhir"]} if isinstance(row.payload.get("fhir"), dict) else {}),
    }


def line_items(row: ClaimRow) -> list[dict[str, Any]]:
    """The claim's line items as received, amounts with the currency's decimals."""
    return [
        {**item, "amount": fmt(Decimal(str(item["amount"])), row.currency)}
        for item in row.payload.get("line_items") or []
    ]


def claim_summary(row: ClaimRow) -> dict[str, Any]:
    decision = row.decisions[-1] if row.decisions else None
    return {
        "id": row.id,
        "external_ref": row.external_ref,
        "status": row.status,
        "policy_number": row.policy_number,
        "claim_type": row.claim_type,
        "date_of_loss": row.date_of_loss.isoformat(),
        "amount": fmt(row.amount, row.currency),
        "currency": row.currency,
        "payable_amount": fmt(row.payable_amount, row.currency),
        "reason_codes": [r["code"] for r in decision.reasons] if decision else [],
        "created_at": row.created_at.isoformat(),
    }


def audit_document(row: AuditEventRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "claim_id": row.claim_id,
        "source": row.source,
        "before": row.before,
        "after": row.after,
    }


def appeal_document(row: AppealRow) -> dict[str, Any]:
    """An appeal as GET /v1/claims/<id> shows it: what the claimant wrote, who filed it
    and when, its answer deadline, status (open | upheld | overturned; answered before
    the outcome was recorded) and the answer (null while open)."""
    answer = None
    if row.answered_at is not None:
        answer = {
            "outcome": {"upheld": "uphold", "overturned": "overturn"}.get(row.status),
            "note": row.answer,
            "answered_by": row.answered_by,
            "answered_at": row.answered_at.isoformat(),
            "decision_id": row.decision_id,
        }
    return {
        "id": row.id,
        "reason": row.reason,
        "filed_at": row.received_at.isoformat(),
        "filed_by": row.submitted_by,
        "due_at": row.answer_due_at.isoformat(),
        "status": row.status,
        "answer": answer,
    }

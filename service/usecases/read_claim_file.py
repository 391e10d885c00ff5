"""The claim file the console shows around a claim: its appeals, the documents asked for
and received, the other claims on its policy, its history without page views, and the
access log (who opened the claim, when) kept apart for audits."""

from __future__ import annotations

from typing import Any

from service.db import audit, claim_file
from service.db.tables import AppealRow
from service.domain.money import fmt
from service.usecases.context import Context

VIEWED = "claim.viewed"
OTHER_CLAIMS = 20


def appeal_document(row: AppealRow, answer: dict[str, Any] | None) -> dict[str, Any]:
    """{id, reason, filed_by, filed_at, due_at, status, answered_at, answer}; `answer`
    is the decision that answered it ({outcome, payable_amount, decided_by, note}) or None."""
    return {
        "id": row.id,
        "reason": row.reason,
        "filed_by": row.submitted_by,
        "filed_at": row.received_at.isoformat(),
        "due_at": row.answer_due_at.isoformat(),
        "status": row.status,
        "answered_at": row.answered_at.isoformat() if row.answered_at else None,
        "answer": answer,
    }


def claim_file_extras(ctx: Context, claim: dict[str, Any]) -> dict[str, Any]:
    """For a claim document of read_claims.get_claim: {appeals, requested_documents,
    other_claims, history (no page views), views (the number of page views)}.

    `requested_documents`: [{type, requested_by, requested_at, received_at}] from every
    decision that asked for documents (the rules' pending_info or a supervisor's
    request_info); `received_at` is when a document of that type arrived after the
    request, or None while it is still missing."""
    decisions = {d["id"]: d for d in claim["decisions"]}
    with ctx.unit_of_work() as session:
        appeals = [
            appeal_document(a, _answer(decisions.get(a.decision_id or -1), a))
            for a in claim_file.appeals_of(session, claim["id"])
        ]
        others = [
            {
                "id": row.id,
                "external_ref": row.external_ref,
                "claim_type": row.claim_type,
                "date_of_loss": row.date_of_loss.isoformat(),
                "amount": fmt(row.amount, row.currency),
                "currency": row.currency,
                "status": row.status,
            }
            for row in claim_file.claims_on_policy(
                session, claim["policy_number"], besides=claim["id"], limit=OTHER_CLAIMS
            )
        ]
    history = [h for h in claim["history"] if h["action"] != VIEWED]
    return {
        "appeals": appeals,
        "requested_documents": requested_documents(claim),
        "other_claims": others,
        "history": history,
        "views": len(claim["history"]) - len(history),
    }


def _answer(decision: dict[str, Any] | None, appeal: AppealRow) -> dict[str, Any] | None:
    """The decision that stands after the answer, said by whoever answered the appeal:
    an upheld appeal points at the earlier decision (perhaps the rules'), but the one who
    answered is the supervisor, with their note (the appeal row keeps both)."""
    if decision is None:
        return None
    return {
        "outcome": decision["outcome"],
        "payable_amount": decision["payable_amount"],
        "decided_by": appeal.answered_by or decision["decided_by"],
        "decided_at": decision["decided_at"],
        "note": appeal.answer or decision["note"],
    }


def requested_documents(claim: dict[str, Any]) -> list[dict[str, Any]]:
    asked: list[dict[str, Any]] = []
    for decision in claim["decisions"]:
        for kind in decision.get("missing_documents") or []:
            received = [
                d["received_at"]
                for d in claim["documents"]
                if d["type"] == kind and d["received_at"] >= decision["decided_at"]
            ]
            asked.append(
                {
                    "type": kind,
                    "requested_by": decision["decided_by"],
                    "requested_at": decision["decided_at"],
                    "received_at": min(received) if received else None,
                }
            )
    return asked


def access_log(ctx: Context, claim_id: str) -> list[dict[str, Any]]:
    """Who opened the claim (console page or API read), newest first: [{at, actor, source}]."""
    with ctx.unit_of_work() as session:
        events = audit.audit_for_claim(session, claim_id)
    return [
        {"at": e.at.isoformat(), "actor": e.actor, "source": e.source}
        for e in reversed(events)
        if e.action == VIEWED
    ]


def changes_since(claim: dict[str, Any], seen: int) -> list[dict[str, Any]]:
    """The claim's history events after the event numbered `seen` (page views left out):
    what changed while a supervisor had the claim's form open."""
    return [h for h in claim["history"] if h["id"] > seen and h["action"] != VIEWED]

"""POST /v1/claims/<id>/documents: attach documents; a claim waiting for them is decided again.

Reminders stop by themselves: the follow-up sweep only chases claims still
in pending_info.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.db import audit, claims
from service.domain.lifecycle import ClaimStatus, decision_event
from service.domain.model import Document
from service.rules.engine import adjudicate
from service.usecases.context import Context
from service.usecases.payments import lock_policy, settle
from service.usecases.read_models import claim_document
from service.usecases.record_decision import record_decision

MAX_DOCUMENTS = 100  # per claim, all submissions together (intake takes at most 100 too)


class ClaimNotFound(Exception):
    pass


class TooManyDocuments(Exception):
    """The claim would hold more than MAX_DOCUMENTS documents; nothing was added."""

    def __init__(self, have: int, adding: int) -> None:
        super().__init__(
            f"a claim holds at most {MAX_DOCUMENTS} documents; it has {have} and "
            f"{adding} new ones were sent"
        )


@dataclass(frozen=True)
class DocumentsAdded:
    document: dict[str, Any]
    added: int
    readjudicated: bool


def add_documents(
    ctx: Context,
    claim_id: str,
    documents: list[dict[str, str]],
    *,
    client_id: str | None,
    actor: str,
    request_id: str | None = None,
    source: str | None = None,
) -> DocumentsAdded:
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        number = claims.policy_number_of(session, claim_id, client_id)
        if number is None:
            raise ClaimNotFound(claim_id)
        policy = lock_policy(session, number)  # lock order: the policy, then the claim
        row = claims.claim_for_update(session, claim_id, client_id)
        if row is None:
            raise ClaimNotFound(claim_id)
        have = {(d.type, d.ref) for d in row.documents}
        new = [
            Document(d["type"], d["ref"]) for d in documents if (d["type"], d["ref"]) not in have
        ]
        fresh = list(dict.fromkeys(new))
        if len(have) + len(fresh) > MAX_DOCUMENTS:
            raise TooManyDocuments(len(have), len(fresh))  # before any write
        for doc in fresh:
            claims.add_document(session, row, doc, now)
        session.flush()
        added: dict[str, Any] = {
            "actor": actor,
            "action": "claim.documents_added",
            "at": now,
            "claim_id": row.id,
            "source": source,
            "after": {"documents": sorted({d.type for d in new})},
        }
        outbox_ids: list[int] = []
        readjudicate = bool(new) and row.status == ClaimStatus.PENDING_INFO
        if readjudicate:
            # Only what changed is worked out again: the documents, and the policy's
            # history and remaining aggregate as they are now (without this claim); the
            # report date and 12-month count stay as fixed at intake.
            engine = ctx.engine
            settled = settle(
                session,
                claims.to_claim(row),
                policy,
                required_documents=engine.ruleset.required_documents,
                default_zone=ctx.config.default_time_zone,
                decide=lambda facts: adjudicate(engine, facts),
                stored=row,
            )
            _, outbox_ids = record_decision(
                session,
                row,
                settled.decision,
                facts=settled.facts,
                decided_by="rules",
                event=decision_event("rules", settled.decision.outcome),
                now=now,
                request_id=request_id,
                sla_hours=ctx.config.escalation_sla_hours,
                source=source,
                events_before=[added],
            )
        else:
            row.updated_at = now
            row.version = (row.version or 0) + 1
            if new:  # after the claim's row: the audit chain's lock comes last
                audit.append_audit(session, **added)
        document = claim_document(row)
        session.commit()
    ctx.dispatcher.dispatch_outbox(outbox_ids, request_id, new=True)
    return DocumentsAdded(document, added=len(new), readjudicated=readjudicate)

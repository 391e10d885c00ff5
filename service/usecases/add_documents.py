"""POST /v1/claims/<id>/documents: attach documents; a claim waiting for them is decided again.

Reminders stop by themselves: the follow-up sweep only chases claims still
in pending_info.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.db import audit, claims, policies
from service.domain.facts import build_facts
from service.domain.model import Document
from service.rules.engine import adjudicate
from service.usecases.context import Context
from service.usecases.read_models import claim_document
from service.usecases.record_decision import record_decision


class ClaimNotFound(Exception):
    pass


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
        row = claims.claim_row(session, claim_id, client_id)
        if row is None:
            raise ClaimNotFound(claim_id)
        have = {(d.type, d.ref) for d in row.documents}
        new = [
            Document(d["type"], d["ref"]) for d in documents if (d["type"], d["ref"]) not in have
        ]
        for doc in dict.fromkeys(new):
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
        readjudicate = bool(new) and row.status == "pending_info"
        if readjudicate:
            claim = claims.to_claim(row)
            policy = policies.get_policy(session, claim.policy_number, lock=True)
            history = claims.history_for(session, claim, policy)
            engine = ctx.engine
            facts = build_facts(claim, policy, history, engine.ruleset.required_documents)
            _, outbox_ids = record_decision(
                session,
                row,
                adjudicate(engine, facts),
                facts=facts,
                decided_by="rules",
                now=now,
                request_id=request_id,
                sla_hours=ctx.config.escalation_sla_hours,
                source=source,
                events_before=[added],
            )
        else:
            if new:
                audit.append_audit(session, **added)
            row.updated_at = now
            row.version = (row.version or 0) + 1
        document = claim_document(row)
        session.commit()
    ctx.dispatcher.dispatch_outbox(outbox_ids, request_id, new=True)
    return DocumentsAdded(document, added=len(new), readjudicated=readjudicate)

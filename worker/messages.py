"""Turn an outbox row into the message to send, loading the claim by id.

Outbox payloads carry ids only (no personal data); names, addresses and
languages come from the claim at send time.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.adapters.smtp import Email
from service.adapters.webhooks import signed_headers
from service.db.tables import ClaimRow, DecisionRow, OutboxRow
from service.logs import note_personal_claim
from worker import render


class Undeliverable(Exception):
    """The message cannot be built (no claim, no address): retrying will not help."""


def message_id(row: OutboxRow, domain: str) -> str:
    return f"<outbox-{row.id}.{row.dedupe_key.replace(':', '.')}@{domain}>"


def build_email(session: Session, row: OutboxRow, config: Any) -> Email:
    domain = str(config.SMTP_FROM).rpartition("@")[2] or "localhost"
    if row.event in ("sla_breach", "regulatory_clock"):
        return _staff_email(session, row, [config.SUPERVISOR_LEAD_EMAIL], domain, config)
    if row.event == "daily_digest":
        return _staff_email(session, row, list(config.DIGEST_RECIPIENTS), domain, config)
    if row.event == "appeal_reminder":  # to the assignee, else the supervisors' lead
        to = (row.payload or {}).get("to") or config.SUPERVISOR_LEAD_EMAIL
        return _staff_email(session, row, [to], domain, config)
    claim = _claim(session, row)
    to = (claim.claimant or {}).get("email")
    if not to:
        raise Undeliverable(f"claim {claim.id} has no claimant email")
    language = claim.preferred_language or (claim.claimant or {}).get("preferred_language")
    context = claimant_context(session, claim, row, config, language or "en")
    out = render.render(row.event, language, context)
    return Email(
        to=(to,),
        subject=out.subject,
        text=out.text,
        html=out.html,
        message_id=message_id(row, domain),
        language=out.language,
    )


def claimant_context(
    session: Session, claim: ClaimRow, row: OutboxRow, config: Any, language: str
) -> dict[str, Any]:
    decision = _decision(session, claim, row)
    payload = row.payload or {}
    reasons = list(decision.reasons or []) if decision else []
    if payload.get("reason"):  # a sweep's own reason (closed as abandoned)
        reasons = [payload["reason"]]
    missing = list(decision.missing_documents or []) if decision else []
    payable = decision.payable_amount if decision else claim.payable_amount
    return {
        "name": (claim.claimant or {}).get("name") or "",
        "ref": claim.external_ref or claim.id,
        "claim_id": claim.id,
        "claim_type": claim.claim_type,
        "amount": claim.amount,
        "currency": claim.currency,
        "payable_amount": payable,
        "outcome": decision.outcome if decision else claim.status,
        "reasons": render.reason_words(reasons, language),
        "missing_documents": [
            str(d.get("type", d)) if isinstance(d, dict) else str(d) for d in missing
        ],
        "day": payload.get("day"),
        "answer_days": getattr(config, "APPEAL_ANSWER_DAYS", 3),
        "abandon_days": getattr(config, "ABANDON_AFTER_DAYS", 10),
        "status": claim.status,
        "days_open": payload.get("days_open"),
        "every_days": payload.get("every_days") or getattr(config, "REG_STATUS_EVERY_DAYS", 30),
    }


def _staff_email(
    session: Session, row: OutboxRow, to: list[str], domain: str, config: Any
) -> Email:
    to = [a for a in to if a]
    if not to:
        raise Undeliverable(f"no recipients configured for {row.event}")
    if row.event == "daily_digest":
        from worker.reports import digest_context

        context = digest_context(session, date.fromisoformat(row.payload["day"]), config)
    else:
        claim = _claim(session, row)
        context = dict(
            row.payload or {},
            ref=claim.external_ref,
            claim_id=claim.id,
            assignee=claim.assignee,
            status=claim.status,
        )
    out = render.render(row.event, "en", context)
    return Email(
        to=tuple(to),
        subject=out.subject,
        text=out.text,
        html=out.html,
        message_id=message_id(row, domain),
    )


def build_webhook(
    session: Session, row: OutboxRow, secret_for: Any, timestamp: int
) -> tuple[str, dict[str, str], str]:
    claim = _claim(session, row)
    if not claim.callback_url:
        raise Undeliverable(f"claim {claim.id} has no callback_url")
    payload = row.payload or {}
    if row.event == "claim.closed":  # closed by a sweep: no decision, the sweep's reason
        decision = None
        reasons = [payload["reason"]] if payload.get("reason") else []
    else:
        decision = _decision(session, claim, row)
        reasons = list(decision.reasons or []) if decision else []
    data = {
        "claim_id": claim.id,
        "external_ref": claim.external_ref,
        "decision_id": decision.id if decision else None,
        "outcome": decision.outcome if decision else payload.get("outcome"),
        "payable_amount": str(decision.payable_amount)
        if decision and decision.payable_amount is not None
        else None,
        "currency": claim.currency,
        "reasons": [{k: r.get(k) for k in ("code", "carc", "message")} for r in reasons],
    }
    body = json.dumps(
        {"type": row.event, "timestamp": row.created_at.isoformat(), "data": data},
        sort_keys=True,
        separators=(",", ":"),
    )
    msg_id = f"msg_outbox_{row.id}"  # the same on every retry and re-send
    return (
        claim.callback_url,
        signed_headers(secret_for(claim.client_id), msg_id, timestamp, body),
        body,
    )


def _claim(session: Session, row: OutboxRow) -> ClaimRow:
    claim = session.get(ClaimRow, row.claim_id) if row.claim_id else None
    if claim is None:
        raise Undeliverable(f"claim {row.claim_id} not found")
    note_personal_claim(claim)  # masked in this job's log lines
    return claim


def _decision(session: Session, claim: ClaimRow, row: OutboxRow) -> DecisionRow | None:
    decision_id = (row.payload or {}).get("decision_id")
    if decision_id is not None:
        return session.get(DecisionRow, decision_id)
    return session.scalars(
        select(DecisionRow)
        .where(DecisionRow.claim_id == claim.id)
        .order_by(DecisionRow.id.desc())
        .limit(1)
    ).first()

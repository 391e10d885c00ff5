"""What each outbox message says: the email or webhook built from its row and its claim.

Outbox payloads carry ids only (no personal data); names, addresses and
languages come from the claim at send time. Used by deliver_message.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from service.adapters import templates
from service.adapters.webhooks import signed_headers
from service.config import Config
from service.db import claims
from service.db.session import Session
from service.db.tables import ClaimRow, DecisionRow, OutboxRow
from service.domain.money import fmt
from service.logs import note_personal_claim
from service.ports import Email
from service.usecases.send_daily_digest import digest_context


class Undeliverable(Exception):
    """The message cannot be built (no claim, no address): retrying will not help."""


def message_id(row: OutboxRow, domain: str) -> str:
    return f"<outbox-{row.id}.{row.dedupe_key.replace(':', '.')}@{domain}>"


def build_email(session: Session, row: OutboxRow, config: Config) -> Email:
    domain = str(config.smtp_from).rpartition("@")[2] or "localhost"
    if row.event in ("sla_breach", "regulatory_clock"):
        return _staff_email(session, row, [config.supervisor_lead_email], domain, config)
    if row.event == "daily_digest":
        return _staff_email(session, row, list(config.digest_recipients), domain, config)
    if row.event == "appeal_reminder":  # to the assignee, else the supervisors' lead
        to = (row.payload or {}).get("to") or config.supervisor_lead_email
        return _staff_email(session, row, [to], domain, config)
    claim = _claim(session, row)
    address = (claim.claimant or {}).get("email")
    if not address:
        raise Undeliverable(f"claim {claim.id} has no claimant email")
    language = claim.preferred_language or (claim.claimant or {}).get("preferred_language")
    context = claimant_context(session, claim, row, config, language or "en")
    out = templates.render(row.event, language, context)
    return Email(
        to=(address,),
        subject=out.subject,
        text=out.text,
        html=out.html,
        message_id=message_id(row, domain),
        language=out.language,
    )


def claimant_context(
    session: Session, claim: ClaimRow, row: OutboxRow, config: Config, language: str
) -> dict[str, Any]:
    decision = _decision(session, claim, row)
    payload = row.payload or {}
    reasons = list(decision.reasons or []) if decision else []
    if payload.get("reason"):  # a sweep's own reason (closed as abandoned)
        reasons = [payload["reason"]]
    missing = list(decision.missing_documents or []) if decision else []
    payable = decision.payable_amount if decision else claim.payable_amount
    currency = claim.currency
    adjustments = list(decision.adjustments or []) if decision and payable else []
    return {
        "name": (claim.claimant or {}).get("name") or "",
        "ref": claim.external_ref or claim.id,
        "claim_id": claim.id,
        "claim_type": claim.claim_type,
        "amount": fmt(claim.amount, currency),
        "currency": currency,
        "payable_amount": fmt(payable, currency),
        "adjustments": templates.adjustment_words(adjustments, currency, language),
        "lines": templates.line_words(
            list(decision.lines or []) if decision else [],
            list((claim.payload or {}).get("line_items") or []),
            currency,
            language,
        ),
        "outcome": decision.outcome if decision else claim.status,
        "reasons": templates.reason_words(reasons, language),
        "deductible_year": yearly_deductible(decision, currency),
        "missing_documents": [
            str(d.get("type", d)) if isinstance(d, dict) else str(d) for d in missing
        ],
        "day": payload.get("day"),
        "answer_days": config.appeal_answer_days,
        "abandon_days": config.abandon_after_days,
        "status": claim.status,
        "days_open": payload.get("days_open"),
        "every_days": payload.get("every_days") or config.reg_status_every_days,
    }


def yearly_deductible(decision: DecisionRow | None, currency: str) -> dict[str, str] | None:
    """For a coverage whose deductible counts per policy year: {met, of}, the deductible
    met this policy year with this decision's share (the facts it was made on); else None."""
    if decision is None or decision.outcome not in ("approved", "rejected"):
        return None
    facts = decision.facts or {}
    coverage = facts.get("coverage") or {}
    if coverage.get("deductible_period") != "policy_year":
        return None
    taken = sum(
        (Decimal(str(a["amount"])) for a in decision.adjustments or [] if str(a["carc"]) == "1"),
        Decimal("0"),
    )
    met = Decimal(str(facts.get("deductible_met") or 0)) + taken
    return {
        "met": fmt(met, currency) or "",
        "of": fmt(Decimal(str(coverage["deductible"])), currency) or "",
    }


def _staff_email(
    session: Session, row: OutboxRow, to: list[str], domain: str, config: Config
) -> Email:
    to = [a for a in to if a]
    if not to:
        raise Undeliverable(f"no recipients configured for {row.event}")
    if row.event == "daily_digest":
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
    out = templates.render(row.event, "en", context)
    return Email(
        to=tuple(to),
        subject=out.subject,
        text=out.text,
        html=out.html,
        message_id=message_id(row, domain),
    )


def build_webhook(
    session: Session, row: OutboxRow, config: Config, timestamp: int
) -> tuple[str, dict[str, str], str]:
    """(url, signed headers, body) of the webhook; the id is the same on every retry."""
    claim = _claim(session, row)
    note_personal_claim(claim)  # a receiver's error text may quote it: masked there too
    if not claim.callback_url:
        raise Undeliverable(f"claim {claim.id} has no callback_url")
    payload = row.payload or {}
    decision: DecisionRow | None
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
        "payable_amount": fmt(decision.payable_amount, claim.currency) if decision else None,
        "adjustments": list(decision.adjustments or []) if decision else [],
        "lines": list(decision.lines or []) if decision else [],
        "currency": claim.currency,
        "reasons": [{k: r.get(k) for k in ("code", "carc", "message")} for r in reasons],
    }
    body = json.dumps(
        {"type": row.event, "timestamp": row.created_at.isoformat(), "data": data},
        sort_keys=True,
        separators=(",", ":"),
    )
    msg_id = f"msg_outbox_{row.id}"
    secret = webhook_secret(config, claim.client_id)
    return claim.callback_url, signed_headers(secret, msg_id, timestamp, body), body


def webhook_secret(config: Config, client_id: str) -> str:
    """Per-client secret from WEBHOOK_CLIENT_SECRETS ("client:secret,..."), else WEBHOOK_SECRET."""
    for item in config.webhook_client_secrets:
        name, _, secret = item.partition(":")
        if name == client_id and secret:
            return secret
    return config.webhook_secret


def _claim(session: Session, row: OutboxRow) -> ClaimRow:
    claim = claims.get_claim(session, row.claim_id) if row.claim_id else None
    if claim is None:
        raise Undeliverable(f"claim {row.claim_id} not found")
    note_personal_claim(claim)  # masked in this job's log lines
    return claim


def _decision(session: Session, claim: ClaimRow, row: OutboxRow) -> DecisionRow | None:
    decision_id = (row.payload or {}).get("decision_id")
    if decision_id is not None:
        return claims.get_decision(session, decision_id)
    return claims.latest_decision_of(session, claim.id)

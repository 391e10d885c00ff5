"""POST /v1/claims: store the claim, decide it, record what must be told, all or nothing.

Retries are safe twice over: an Idempotency-Key (per intake client) and the
client's own external_ref. A replay returns the original response; the same
key or external_ref with a different body is refused.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from service.config import Config
from service.db import claims, idempotency
from service.db.errors import Conflict
from service.db.tables import ClaimRow
from service.domain.facts import report_date, zone_of
from service.domain.lifecycle import ClaimStatus
from service.domain.model import Claim, Document, LineItem, Policy, line_items_key
from service.metrics import observe_decision
from service.rules.engine import adjudicate
from service.usecases.context import Context
from service.usecases.payments import lock_policy, settle
from service.usecases.read_models import claim_document
from service.usecases.record_decision import record_first_decision
from service.usecases.rulesets import ensure_ruleset_stored
from service.usecases.shadow import record_shadow

ABANDONED_AFTER = timedelta(seconds=60)  # an in-flight key older than this was abandoned


class IdempotencyMismatch(Exception):
    """The key was used before with a different body (422)."""


class RequestInFlight(Exception):
    """The first request with this key is still being processed (409)."""


class ExternalRefConflict(Exception):
    """external_ref was used before for a different claim (409)."""


class InvalidClaim(Exception):
    """A field is wrong in a way only the policy shows (422 naming `field`): the date
    of loss after the report date in the policy's time zone. Nothing is stored."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Submitted:
    document: dict[str, Any]
    replayed: bool


def body_hash(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit_claim(
    ctx: Context,
    data: dict[str, Any],
    *,
    client_id: str,
    idempotency_key: str | None = None,
    request_id: str | None = None,
    source: str | None = None,
) -> Submitted:
    started = time.perf_counter()
    digest = body_hash(data)
    if idempotency_key:
        replay = _reserve_key(ctx, client_id, idempotency_key, digest)
        if replay is not None:
            return Submitted(replay, replayed=True)
    try:
        submitted, outbox_ids = _store_and_decide(
            ctx, data, digest, client_id, idempotency_key, request_id, source
        )
    except Conflict:
        # Another request with the same external_ref committed first.
        submitted, outbox_ids = _replay_external_ref(ctx, data, digest, client_id), []
        if idempotency_key:
            _finish_key(ctx, client_id, idempotency_key, submitted.document)
    except BaseException:
        if idempotency_key:
            _release_key(ctx, client_id, idempotency_key)
        raise
    ctx.dispatcher.dispatch_outbox(outbox_ids, request_id, new=True)
    if not submitted.replayed:
        decision = submitted.document["decision"]
        observe_decision(decision["outcome"], data["claim_type"], time.perf_counter() - started)
    return submitted


def _store_and_decide(
    ctx: Context,
    data: dict[str, Any],
    digest: str,
    client_id: str,
    idempotency_key: str | None,
    request_id: str | None,
    source: str | None,
) -> tuple[Submitted, list[int]]:
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        # A reused external_ref is caught by the unique index at insert (Conflict,
        # answered by _replay_external_ref): no lookup first, retries are the exception.
        values, documents = _new_claim(data, digest, client_id, now)
        lines = tuple(
            LineItem(i["code"], i["amount"], i.get("description", ""))
            for i in data.get("line_items") or []
        )
        claim = Claim(
            id=values["id"],
            policy_number=values["policy_number"],
            claim_type=values["claim_type"],
            date_of_loss=values["date_of_loss"],
            reported_at=values["reported_at"],
            amount=values["amount"],
            currency=values["currency"],
            documents=tuple(Document(d["type"], d["ref"]) for d in documents),
            line_items_count=len(lines),
            line_items_key=line_items_key(lines),
            line_items=lines,
        )
        engine = ctx.engine
        policy = lock_policy(session, claim.policy_number)
        claim = replace(claim, reported_on=_report_date(claim, policy, ctx.config))
        settled = settle(
            session,
            claim,
            policy,
            required_documents=engine.ruleset.required_documents,
            default_zone=ctx.config.default_time_zone,
            decide=lambda facts: adjudicate(engine, facts),
        )
        facts, decision = settled.facts, settled.decision
        values.update(
            reported_on=settled.claim.reported_on,
            time_zone=settled.time_zone,
            claims_last_12_months=settled.history.claims_last_12_months,
            line_items_key=claim.line_items_key,
        )
        ensure_ruleset_stored(session, ctx.rules, decision.ruleset_version)
        claim_row, decision_row, outbox_ids = record_first_decision(
            session,
            values,
            documents,
            decision,
            facts=facts,
            now=now,
            request_id=request_id,
            sla_hours=ctx.config.escalation_sla_hours,
            source=source,
        )
        record_shadow(ctx, session, claim_row, facts, decision)
        document = claim_document(claim_row, decision_row)
        if idempotency_key:
            idempotency.finish_idempotency_key(session, client_id, idempotency_key, document)
        session.commit()
    return Submitted(document, replayed=False), outbox_ids


def _report_date(claim: Claim, policy: Policy | None, config: Config) -> date:
    """The report date in the policy's zone (fixed here, once); InvalidClaim when the
    loss is later than it (reported before it happened, or a loss still to come)."""
    zone = zone_of(policy, config.default_time_zone)
    reported_on = report_date(claim.reported_at, policy, config.default_time_zone)
    if reported_on < claim.date_of_loss:
        raise InvalidClaim(
            "date_of_loss",
            f"Cannot be after the day the claim was reported ({reported_on.isoformat()} "
            f"in {zone}).",
        )
    return reported_on


def _new_claim(
    data: dict[str, Any], digest: str, client_id: str, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Column values of the claim (as received) and of its documents."""
    claimant = dict(data["claimant"])
    claimant.setdefault("preferred_language", "en")
    stored = json.loads(json.dumps(data, default=str))
    stored["_hash"] = digest
    claim_id = str(uuid.uuid4())
    values = {
        "id": claim_id,
        "client_id": client_id,
        "external_ref": data["external_ref"],
        "policy_number": data["policy_number"],
        "claim_type": data["claim_type"],
        "date_of_loss": data["date_of_loss"],
        "reported_at": data.get("reported_at") or now,
        "amount": data["amount"],
        "currency": data["currency"],
        "description": data.get("description", ""),
        "claimant": claimant,
        "preferred_language": claimant["preferred_language"],
        "callback_url": data.get("callback_url"),
        "payload": stored,
        "status": ClaimStatus.RECEIVED,
        "payable_amount": None,
        "ruleset_version": None,
        "assignee": None,
        "sla_due_at": None,
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }
    documents = [
        {"claim_id": claim_id, "type": d["type"], "ref": d["ref"], "received_at": now}
        for d in data.get("documents", [])
    ]
    return values, documents


def _replay_or_conflict(existing: ClaimRow | None, digest: str) -> dict[str, Any]:
    if existing is None:
        raise RuntimeError("the claim with this external_ref vanished")
    if existing.payload.get("_hash") != digest:
        raise ExternalRefConflict(existing.external_ref)
    first = existing.decisions[0] if existing.decisions else None
    return claim_document(existing, first)


def _replay_external_ref(
    ctx: Context, data: dict[str, Any], digest: str, client_id: str
) -> Submitted:
    with ctx.unit_of_work() as session:
        existing = claims.claim_by_external_ref(session, client_id, data["external_ref"])
        if existing is None:
            raise RuntimeError("claim insert failed without a conflicting claim")
        return Submitted(_replay_or_conflict(existing, digest), replayed=True)


# --- Idempotency-Key bookkeeping (each step its own short transaction) ----------


def _reserve_key(ctx: Context, client_id: str, key: str, digest: str) -> dict[str, Any] | None:
    """Claim the key for this request, or return the stored response to replay."""
    now = ctx.clock.now()
    ttl = timedelta(hours=ctx.config.idempotency_ttl_hours)
    for _ in range(2):
        with ctx.unit_of_work() as session:
            row = idempotency.idempotency_key(session, client_id, key)
            if row is not None and (
                row.created_at < now - ttl
                or (row.state == "in_flight" and row.created_at < now - ABANDONED_AFTER)
            ):
                idempotency.delete_idempotency_key(session, client_id, key)
                row = None
            if row is None:
                try:
                    idempotency.reserve_idempotency_key(session, client_id, key, digest, now)
                    session.commit()
                    return None
                except Conflict:
                    session.rollback()
                    continue
            if row.request_hash != digest:
                raise IdempotencyMismatch(key)
            if row.state != "done" or row.response is None:
                raise RequestInFlight(key)
            return dict(row.response)
    raise RequestInFlight(key)


def _finish_key(ctx: Context, client_id: str, key: str, document: dict[str, Any]) -> None:
    with ctx.unit_of_work() as session:
        idempotency.finish_idempotency_key(session, client_id, key, document)
        session.commit()


def _release_key(ctx: Context, client_id: str, key: str) -> None:
    try:
        with ctx.unit_of_work() as session:
            idempotency.delete_idempotency_key(session, client_id, key, only_in_flight=True)
            session.commit()
    except Exception:  # noqa: BLE001 - database down: the key is taken over after ABANDONED_AFTER
        pass

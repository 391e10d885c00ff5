"""GET /v1/claims and /v1/claims/<id>."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from service.db import appeals, audit, claims
from service.usecases.context import Context
from service.usecases.read_models import (
    appeal_document,
    audit_document,
    claim_document,
    claim_summary,
    decision_document,
)


class BadCursor(ValueError):
    pass


def get_claim(ctx: Context, claim_id: str, client_id: str | None = None) -> dict[str, Any] | None:
    """The claim, its current decision, every decision, the facts and the audit history."""
    with ctx.unit_of_work() as session:
        row = claims.claim_row(session, claim_id, client_id)
        if row is None:
            return None
        document = claim_document(row)
        document["decisions"] = [
            decision_document(d, row.currency, with_facts=True) for d in row.decisions
        ]
        # The facts the current decision was made on, as stored with it.
        document["facts"] = row.decisions[-1].facts if row.decisions else None
        document["appeals"] = [appeal_document(a) for a in appeals.appeals_of(session, row.id)]
        document["history"] = [audit_document(e) for e in audit.audit_for_claim(session, row.id)]
        document["version"] = row.version
        return document


def list_claims(
    ctx: Context, *, client_id: str | None, filters: dict[str, Any], limit: int, cursor: str | None
) -> dict[str, Any]:
    after = decode_cursor(cursor) if cursor else None
    with ctx.unit_of_work() as session:
        rows = claims.list_claims(
            session,
            client_id=client_id,
            status=filters.get("status"),
            policy_number=filters.get("policy_number"),
            claim_type=filters.get("claim_type"),
            since=filters.get("since"),
            after=after,
            limit=limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return {"items": [claim_summary(r) for r in rows], "next_cursor": next_cursor}


def encode_cursor(created_at: datetime, claim_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), claim_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, claim_id = json.loads(raw)
        return datetime.fromisoformat(created), str(claim_id)
    except (ValueError, TypeError) as exc:
        raise BadCursor("cursor is not one this service issued") from exc

"""The supervisors' queue (escalated claims, earliest deadline first) and console stats."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from service.db import queue
from service.db.queue import Position, QueueQuery
from service.db.tables import AppealRow, ClaimRow
from service.domain.lifecycle import QUEUED
from service.domain.money import fmt
from service.usecases.context import Context
from service.usecases.read_claims import BadCursor

SORTS = queue.SORTS  # due, -due, amount, -amount, age, -age
PAGE_SIZES = (25, 50, 100, 200)  # what the console offers
DUE_SOON = 0.8  # share of the SLA time gone that marks a row "due soon"
EXCERPT_WORDS = 12


class BadQueueCursor(BadCursor):
    """A cursor this service did not issue, or one issued for another sort."""


def escalation_queue(
    ctx: Context,
    *,
    reason: str | None = None,
    claim_type: str | None = None,
    assignee: str | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    sort: str = "due",
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """One page of the claims waiting for a supervisor.

    `assignee`: a name, or "none" for unassigned. `q`: part of a claim reference, policy
    number or claimant name. `reason`: a code of the current decision, or "appeal".
    `sort`: one of service.db.queue.SORTS (default: earliest deadline first). `cursor`:
    the `next_cursor` of the page before (BadQueueCursor if it is not one, or was made
    for another sort). Answers {items, total (all that match), next_cursor (None on the
    last page)}. An appealed claim's row carries the appeal's first words in
    `appeal_excerpt`; a row is `due_soon` when 80% or more of its SLA time is gone.
    """
    if sort not in SORTS:
        raise BadQueueCursor(f"sort must be one of {', '.join(SORTS)}")
    now = ctx.clock.now()
    query = QueueQuery(
        statuses=tuple(QUEUED),
        now=now,
        claim_type=claim_type,
        assignee=assignee if assignee not in (None, "none") else None,
        unassigned=assignee == "none",
        overdue=overdue,
        search=(q or "").strip() or None,
        reason=reason,
        sort=sort,
    )
    after = _decode(cursor, sort) if cursor else None
    with ctx.unit_of_work() as session:
        rows, total = queue.queue_page(session, query, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        open_appeals = queue.open_appeals(session, [r.id for r in rows])
        items = [queue_item(r, open_appeals.get(r.id), now) for r in rows]
    next_cursor = _encode(sort, queue.sort_key(rows[-1], sort), rows[-1].id) if more else None
    return {"items": items, "total": total, "next_cursor": next_cursor}


def _encode(sort: str, value: datetime | Decimal | None, claim_id: str) -> str:
    shown = (
        value.isoformat() if isinstance(value, datetime) else None if value is None else str(value)
    )
    raw = json.dumps([sort, shown, claim_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CURSOR_MAX = 400  # characters of a cursor (base64 of a short JSON list)
ID_MAX = 64  # characters of a claim id in a cursor (ours are 36)
VALUE_MAX = 48  # characters of the sort value in a cursor
AMOUNT_MAX_DIGITS = 20  # an amount in a cursor: at most this many digits before the point
AMOUNT_MAX_PLACES = 6  # ...and after it


def _decode(cursor: str, sort: str) -> Position:
    """The position a cursor of `_encode` names, checked so that nothing a caller forges
    reaches the database: the sort it was made for, a claim id of printable ASCII, an
    amount that is a finite decimal of sane size, a time with an offset that converts to
    UTC. BadQueueCursor (a 400) for anything else."""
    try:
        if len(cursor) > CURSOR_MAX:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, shown, claim_id = json.loads(raw)
        if made_for != sort or not isinstance(claim_id, str):
            raise ValueError("another sort")
        if not 0 < len(claim_id) <= ID_MAX or not (claim_id.isascii() and claim_id.isprintable()):
            raise ValueError("not a claim id")
        if shown is None:
            return None, claim_id
        if not isinstance(shown, str) or len(shown) > VALUE_MAX or not shown.isascii():
            raise ValueError("not a sort value")
        if sort.lstrip("-") == "amount":
            return _cursor_amount(shown), claim_id
        when = datetime.fromisoformat(shown)
        if when.tzinfo is None:
            raise ValueError("naive time")
        return when.astimezone(UTC), claim_id  # OverflowError past year 1 or 9999
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise BadQueueCursor("cursor is not one this service issued for this sort") from exc


def _cursor_amount(shown: str) -> Decimal:
    amount = Decimal(shown)
    if not amount.is_finite():
        raise ValueError("not a number")
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -AMOUNT_MAX_PLACES:
        raise ValueError("too many decimal places")
    if amount and amount.adjusted() >= AMOUNT_MAX_DIGITS:
        raise ValueError("too large")
    return amount


def excerpt(text: str, words: int = EXCERPT_WORDS) -> str:
    """The first `words` words of `text`, with an ellipsis when there were more."""
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def queue_item(row: ClaimRow, appeal: AppealRow | None, now: datetime) -> dict[str, Any]:
    decision = row.decisions[-1] if row.decisions else None
    codes = [r["code"] for r in decision.reasons] if decision else []
    if appeal is not None:
        codes = ["appeal", *codes]
    due = row.sla_due_at
    overdue = bool(due and due < now)
    started = (
        appeal.received_at
        if appeal is not None
        else decision.decided_at
        if decision is not None
        else row.created_at
    )
    due_soon = False
    if due is not None and not overdue and due > started:
        due_soon = (now - started) / (due - started) >= DUE_SOON
    return {
        "id": row.id,
        "external_ref": row.external_ref,
        "policy_number": row.policy_number,
        "claimant_name": (row.claimant or {}).get("name"),
        "claim_type": row.claim_type,
        "amount": fmt(row.amount, row.currency),
        "currency": row.currency,
        "status": row.status,
        "reason_codes": codes,
        "reasons": [r.get("message", "") for r in decision.reasons] if decision else [],
        "appeal": appeal is not None,
        "appeal_excerpt": excerpt(appeal.reason) if appeal is not None else None,
        "assignee": row.assignee,
        "sla_due_at": due.isoformat() if due else None,
        "seconds_left": int((due - now).total_seconds()) if due else None,
        "overdue": overdue,
        "due_soon": due_soon,
        "version": row.version,
        "created_at": row.created_at.isoformat(),
    }


def queue_reason_codes(ctx: Context) -> list[str]:
    """The reason codes the console's filter offers: "appeal", then every code of the
    current decision of a claim waiting in the queue, sorted."""
    with ctx.unit_of_work(read_only=True) as session:
        codes = queue.waiting_reason_codes(session, tuple(QUEUED))
    return ["appeal", *sorted(codes - {"appeal"})]


def known_queue_reason(ctx: Context, reason: str, waiting: list[str] | None = None) -> bool:
    """Whether `reason` may filter the queue (console and API alike): "appeal", a code
    of a waiting claim, or a code the active ruleset can give (a filter on it may find
    nothing today). Anything else is refused (a 400), not answered with an empty page."""
    if reason in (waiting if waiting is not None else queue_reason_codes(ctx)):
        return True
    return reason in {rule.code for rule in ctx.engine.ruleset.rules}

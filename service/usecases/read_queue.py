"""The supervisors' queue (escalated claims, earliest deadline first) and console stats."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from service.db import appeals, claims
from service.db.tables import ClaimRow
from service.domain.money import fmt
from service.usecases.context import Context


def escalation_queue(
    ctx: Context,
    *,
    reason: str | None = None,
    claim_type: str | None = None,
    assignee: str | None = None,
    overdue: bool | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """`assignee`: a name, or "none" for unassigned. Overdue ones come first by deadline."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        rows = claims.escalated_claims(
            session,
            claim_type=claim_type,
            assignee=assignee if assignee not in (None, "none") else None,
            unassigned=assignee == "none",
            overdue_at=now if overdue else None,
        )
        appealed = appeals.open_appeal_claim_ids(session, [r.id for r in rows])
        items = [queue_item(r, r.id in appealed, now) for r in rows]
    if overdue is False:
        items = [i for i in items if not i["overdue"]]
    if reason:
        items = [i for i in items if reason in i["reason_codes"]]
    return {"items": items[:limit], "total": len(items)}


def queue_item(row: ClaimRow, appeal: bool, now: datetime) -> dict[str, Any]:
    decision = row.decisions[-1] if row.decisions else None
    codes = [r["code"] for r in decision.reasons] if decision else []
    if appeal:
        codes = ["appeal", *codes]
    due = row.sla_due_at
    return {
        "id": row.id,
        "external_ref": row.external_ref,
        "policy_number": row.policy_number,
        "claim_type": row.claim_type,
        "amount": fmt(row.amount, row.currency),
        "currency": row.currency,
        "status": row.status,
        "reason_codes": codes,
        "reasons": [r.get("message", "") for r in decision.reasons] if decision else [],
        "appeal": appeal,
        "assignee": row.assignee,
        "sla_due_at": due.isoformat() if due else None,
        "seconds_left": int((due - now).total_seconds()) if due else None,
        "overdue": bool(due and due < now),
        "version": row.version,
        "created_at": row.created_at.isoformat(),
    }


def operations_stats(ctx: Context, days: int = 14) -> dict[str, Any]:
    now = ctx.clock.now()
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    with ctx.unit_of_work() as session:
        by_status = claims.count_by_status(session)
        decisions = claims.decisions_since(session, start)
    per_day: Counter[str] = Counter()
    human: Counter[str] = Counter()
    for at, _outcome, decided_by in decisions:
        day = at.date().isoformat()
        per_day[day] += 1
        if decided_by != "rules":
            human[day] += 1
    series = []
    for offset in range(days):
        day = (start + timedelta(days=offset)).date().isoformat()
        series.append({"day": day, "total": per_day[day], "supervisor": human[day]})
    return {"by_status": dict(sorted(by_status.items())), "per_day": series}

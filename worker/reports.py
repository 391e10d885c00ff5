"""Daily operations digest (email via the outbox) and monthly bordereau (CSV file)."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.csv_export import csv_writer
from service.db.tables import ClaimFlagRow, ClaimRow, DecisionRow, OutboxRow
from worker.outbox import add_once

OPEN = ("pending_info", "escalated")
CLOCKS_LISTED = 50  # the digest lists the most urgent; the counts cover all


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def digest_context(session: Session, day: date, config: Any = None) -> dict[str, Any]:
    start, end = _day_bounds(day)
    new = (
        session.scalar(
            select(func.count())
            .select_from(ClaimRow)
            .where(ClaimRow.created_at >= start, ClaimRow.created_at < end)
        )
        or 0
    )
    outcomes = Counter(
        session.scalars(
            select(DecisionRow.outcome).where(
                DecisionRow.decided_at >= start, DecisionRow.decided_at < end
            )
        )
    )
    by_status = dict(
        session.execute(select(ClaimRow.status, func.count()).group_by(ClaimRow.status))
        .tuples()
        .all()
    )
    breaches = session.execute(
        select(ClaimFlagRow.claim_id, ClaimFlagRow.due_at).where(
            ClaimFlagRow.flag == "overdue", ClaimFlagRow.cleared_at.is_(None)
        )
    ).all()
    oldest = session.execute(
        select(ClaimRow.id, ClaimRow.status, ClaimRow.created_at)
        .where(ClaimRow.status.in_(OPEN))
        .order_by(ClaimRow.created_at)
        .limit(10)
    ).all()
    dead = (
        session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "dead")
        )
        or 0
    )
    clocks: list[dict[str, Any]] = []
    if config is not None:  # statutory clocks as at the end of the day
        from worker.regulatory import near_or_past

        clocks = near_or_past(session, config, end)
    return {
        "day": day.isoformat(),
        "counts": {
            "new": new,
            "decided": sum(outcomes.values()),
            "pending_info": by_status.get("pending_info", 0),
            "escalated": by_status.get("escalated", 0),
        },
        "outcomes": dict(sorted(outcomes.items())),
        "breaches": [{"claim_id": b.claim_id, "due_at": b.due_at.isoformat()} for b in breaches],
        "oldest": [
            {"claim_id": c.id, "status": c.status, "created_at": c.created_at.isoformat()}
            for c in oldest
        ],
        "dead": dead,
        "clocks": clocks[:CLOCKS_LISTED],
        "clocks_total": len(clocks),
        "clocks_past": sum(c["stage"] == "past" for c in clocks),
    }


def schedule_daily_digest(
    sessions: sessionmaker[Session], config: Any, day: date, now: datetime
) -> bool:
    """Queue the digest of `day` once (dedupe key digest:<day>:email)."""
    if not config.DIGEST_RECIPIENTS:
        return False
    with sessions.begin() as session:
        return add_once(
            session,
            f"digest:{day.isoformat()}:email",
            "daily_digest",
            "email",
            {"day": day.isoformat()},
            now,
        )


COLUMNS = (
    "record",
    "claim_id",
    "external_ref",
    "policy_number",
    "claim_type",
    "date_of_loss",
    "reported_at",
    "decided_at",
    "currency",
    "claimed_amount",
    "payable_amount",
    "claims",
)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def bordereau_csv(session: Session, month: str) -> str:
    """Approved claims whose approval fell in the month, then totals per policy and type."""
    start, end = month_bounds(month)
    rows = session.execute(
        select(ClaimRow, DecisionRow)
        .join(DecisionRow, DecisionRow.claim_id == ClaimRow.id)
        .where(
            ClaimRow.status == "approved",
            DecisionRow.outcome == "approved",
            DecisionRow.decided_at >= start,
            DecisionRow.decided_at < end,
        )
        .order_by(ClaimRow.policy_number, ClaimRow.claim_type, DecisionRow.decided_at)
    ).all()
    out = io.StringIO()
    writer = csv_writer(out)  # formula-safe cells (service/csv_export.py)
    writer.writerow(COLUMNS)
    totals: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [Decimal(0), Decimal(0), 0])
    seen: set[str] = set()
    for claim, decision in rows:
        if claim.id in seen:  # several approvals in one month: the claim is billed once
            continue
        seen.add(claim.id)
        payable = decision.payable_amount or Decimal(0)
        writer.writerow(
            (
                "claim",
                claim.id,
                claim.external_ref,
                claim.policy_number,
                claim.claim_type,
                claim.date_of_loss.isoformat(),
                claim.reported_at.isoformat(),
                decision.decided_at.isoformat(),
                claim.currency,
                f"{claim.amount:.2f}",
                f"{payable:.2f}",
                1,
            )
        )
        total = totals[(claim.policy_number, claim.claim_type, claim.currency)]
        total[0] += claim.amount
        total[1] += payable
        total[2] += 1
    grand: dict[str, list[Any]] = defaultdict(lambda: [Decimal(0), Decimal(0), 0])
    for (policy, claim_type, currency), (claimed, payable, n) in sorted(totals.items()):
        writer.writerow(
            (
                "total",
                "",
                "",
                policy,
                claim_type,
                "",
                "",
                "",
                currency,
                f"{claimed:.2f}",
                f"{payable:.2f}",
                n,
            )
        )
        g = grand[currency]
        g[0], g[1], g[2] = g[0] + claimed, g[1] + payable, g[2] + n
    for currency, (claimed, payable, n) in sorted(grand.items()):
        writer.writerow(
            (
                "grand_total",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                currency,
                f"{claimed:.2f}",
                f"{payable:.2f}",
                n,
            )
        )
    return out.getvalue()


def report_path(config: Any, month: str) -> Path:
    return Path(config.INSTANCE_DIR) / "reports" / f"bordereau-{month}.csv"


def write_bordereau(
    sessions: sessionmaker[Session], config: Any, month: str, overwrite: bool = True
) -> Path:
    """Write INSTANCE_DIR/reports/bordereau-YYYY-MM.csv (atomically) and return its path."""
    path = report_path(config, month)
    if path.exists() and not overwrite:
        return path
    with sessions() as session:
        text = bordereau_csv(session, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def previous_month(now: datetime) -> str:
    return (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")

"""The monthly bordereau: approved claims whose approval fell in the month, then totals
per policy, claim type and currency, as CSV. `payable_amount` is what the month bills:
a claim approved again (an appeal overturned to a higher amount) bills the difference
over its earlier approval, once; appealed and upheld approvals keep their row. A month
that has ended is written once to INSTANCE_DIR/reports/bordereau-YYYY-MM.csv; the
current month is built on the fly."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from service.csv_export import csv_writer
from service.db import reporting
from service.domain.money import fmt
from service.usecases.context import Context

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
STORED = re.compile(r"^bordereau-(\d{4}-\d{2})\.csv$")


@dataclass(frozen=True)
class Bordereau:
    month: str
    text: str
    complete: bool  # False for the current month (still changing, not stored)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a month written YYYY-MM, in UTC; ValueError if it is not one."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def previous_month(now: datetime) -> str:
    return (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def report_path(ctx: Context, month: str) -> Path:
    return Path(ctx.config.instance_dir) / "reports" / f"bordereau-{month}.csv"


def write_bordereau(ctx: Context, month: str, overwrite: bool = True) -> Path:
    """Write the month's file (atomically) and return its path; an existing file is kept
    unless `overwrite`."""
    path = report_path(ctx, month)
    if path.exists() and not overwrite:
        return path
    text = bordereau_csv(ctx, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_bytes(text.encode("utf-8"))  # as built: CR LF and quoted CRs kept
    tmp.replace(path)
    return path


def bordereau(ctx: Context, month: str) -> Bordereau:
    """The month's bordereau for a reader: stored once the month has ended, built on the fly
    while it runs. ValueError for a month that is not YYYY-MM or has not begun."""
    start, end = month_bounds(month)
    now = ctx.clock.now()
    if start > now:
        raise ValueError(f"{month} has not begun")
    if end > now:
        return Bordereau(month, bordereau_csv(ctx, month), complete=False)
    path = write_bordereau(ctx, month, overwrite=False)
    text = path.read_bytes().decode("utf-8")  # byte for byte: CR LF, quoted CRs kept
    return Bordereau(month, text, complete=True)


def stored_bordereaux(ctx: Context) -> list[dict[str, Any]]:
    """The months whose bordereau is stored, newest first, with size and time written."""
    folder = Path(ctx.config.instance_dir) / "reports"
    paths = sorted(folder.glob("bordereau-*.csv"), reverse=True) if folder.is_dir() else []
    items = []
    for path in paths:
        match = STORED.match(path.name)
        if not match:
            continue
        stat = path.stat()
        items.append(
            {
                "month": match.group(1),
                "bytes": stat.st_size,
                "written_at": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
            }
        )
    return items


def bordereau_csv(ctx: Context, month: str) -> str:
    start, end = month_bounds(month)
    with ctx.unit_of_work(read_only=True) as session:
        rows = reporting.approvals(session, start, end)
    out = io.StringIO()
    writer = csv_writer(out)  # formula-safe cells, CR LF (service/csv_export.py)
    writer.writerow(COLUMNS)
    totals: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [Decimal(0), Decimal(0), 0])
    # One row per claim: its latest approval in the month, billed for what it adds to the
    # claim's approval before the month (an appeal overturned to a higher amount bills the
    # difference once; an upheld approval, still paying, stays billed in its month).
    latest: dict[str, Any] = {}
    for claim, decision, _ in rows:
        latest[claim.id] = decision
    for claim, decision, before in rows:
        if latest[claim.id] is not decision:
            continue
        approved_before = Decimal(str(before)) if before is not None else Decimal(0)
        payable = (decision.payable_amount or Decimal(0)) - approved_before
        if payable <= 0 and approved_before > 0:
            continue  # nothing more to bill
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
                fmt(claim.amount, claim.currency),
                fmt(payable, claim.currency),
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
            ("total", "", "", policy, claim_type, "", "", "", currency)
            + _sums(claimed, payable, n, currency)
        )
        g = grand[currency]
        g[0], g[1], g[2] = g[0] + claimed, g[1] + payable, g[2] + n
    for currency, (claimed, payable, n) in sorted(grand.items()):
        writer.writerow(
            ("grand_total", "", "", "", "", "", "", "", currency)
            + _sums(claimed, payable, n, currency)
        )
    return out.getvalue()


def _sums(claimed: Decimal, payable: Decimal, n: int, currency: str) -> tuple[str, str, int]:
    """Amounts with the currency's decimals (USD 300.00, JPY 900, KWD 85.125)."""
    return (str(fmt(claimed, currency)), str(fmt(payable, currency)), n)

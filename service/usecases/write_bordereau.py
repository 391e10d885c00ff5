"""The monthly bordereau: approved claims whose approval fell in the month, then totals
per policy, claim type and currency, as CSV. Each row explains itself: claimed_amount
- deductible - limit_cut - aggregate_cut - other_adjustments = payable_amount (the
decision's adjustment lines: PR 1 deductible, CO 119 per-claim limit, CO 119 annual
aggregate, and anything else such as a supervisor's OA 150), and policy_year_start
says which policy year's aggregate it counts against. An approval that replaces an
earlier month's (an appeal overturned to a higher amount) bills the difference, once:
the earlier payment is in other_adjustments; appealed and upheld approvals keep their
row. A month that has ended is written once to INSTANCE_DIR/reports/bordereau-YYYY-MM.csv;
the current month is built on the fly."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from service.csv_export import csv_writer
from service.db import reporting
from service.domain.calendar import policy_year
from service.domain.money import fmt
from service.domain.payable import ANNUAL_AGGREGATE, DEDUCTIBLE, PER_CLAIM_LIMIT
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
    "deductible",
    "limit_cut",
    "aggregate_cut",
    "other_adjustments",
    "policy_year_start",
)
# Which adjustment column an adjustment line's reason goes to (else other_adjustments).
CUT_COLUMNS = {
    DEDUCTIBLE: 0,
    PER_CLAIM_LIMIT: 1,
    ANNUAL_AGGREGATE: 2,
}

STORED = re.compile(r"^bordereau-([0-9]{4}-[0-9]{2})\.csv$")
MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")  # ASCII digits only (fullmatch)
FIRST_YEAR, LAST_YEAR = 1900, 2999  # the years a claim's dates may take


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


class MonthNotEnded(ValueError):
    """Only a month that has ended is stored: the current one is still changing."""


def ended_month(ctx: Context, month: str) -> None:
    """ValueError unless `month` is written YYYY-MM in ASCII digits (a year 1900-2999, a
    month 01-12, as GET /v1/reports/... checks it); MonthNotEnded for the current month or
    a later one."""
    match = MONTH.fullmatch(month)
    if not match or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise ValueError(f"expected YYYY-MM (a year {FIRST_YEAR}-{LAST_YEAR}), not {month!r}")
    _, end = month_bounds(month)
    if end > ctx.clock.now():
        raise MonthNotEnded(f"{month} has not ended: only an ended month is stored")


def previous_month(now: datetime) -> str:
    return (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def report_path(ctx: Context, month: str) -> Path:
    return Path(ctx.config.instance_dir) / "reports" / f"bordereau-{month}.csv"


def write_bordereau(ctx: Context, month: str, overwrite: bool = True) -> Path:
    """Write the month's file (atomically) and return its path; an existing file is kept
    unless `overwrite`."""
    return write_report(report_path(ctx, month), lambda: bordereau_csv(ctx, month), overwrite)


def write_report(path: Path, build: Callable[[], str], overwrite: bool = True) -> Path:
    """Write a report file atomically, byte for byte as built (CR LF, quoted CRs kept);
    an existing file is kept unless `overwrite`."""
    if path.exists() and not overwrite:
        return path
    text = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_bytes(text.encode("utf-8"))
    tmp.replace(path)
    return path


def read_report(ctx: Context, month: str, path: Path, build: Callable[[], str]) -> tuple[str, bool]:
    """A monthly report for a reader, and whether it is complete: stored once the month has
    ended (written then if it was not), built on the fly while it runs. ValueError for a
    month that is not YYYY-MM or has not begun."""
    start, end = month_bounds(month)
    now = ctx.clock.now()
    if start > now:
        raise ValueError(f"{month} has not begun")
    if end > now:
        return build(), False
    write_report(path, build, overwrite=False)
    return path.read_bytes().decode("utf-8"), True  # byte for byte: CR LF, quoted CRs kept


def bordereau(ctx: Context, month: str) -> Bordereau:
    """The month's bordereau for a reader: stored once the month has ended, built on the fly
    while it runs. ValueError for a month that is not YYYY-MM or has not begun."""
    text, complete = read_report(
        ctx, month, report_path(ctx, month), lambda: bordereau_csv(ctx, month)
    )
    return Bordereau(month, text, complete)


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
        starts = reporting.policy_starts(session, {claim.policy_number for claim, *_ in rows})
    out = io.StringIO()
    writer = csv_writer(out)  # formula-safe cells, CR LF (service/csv_export.py)
    writer.writerow(COLUMNS)
    totals: dict[tuple[str, str, str], Sums] = defaultdict(Sums)
    for claim, decision, before in billed(rows):
        row = Sums(claim.amount, (decision.payable_amount or Decimal(0)) - before, 1)
        row.add_cuts(decision.adjustments or [])
        row.cuts[3] += before  # billed in an earlier month (an appeal overturned higher)
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
            )
            + row.cells(claim.currency)
            + (_policy_year_start(starts.get(claim.policy_number), claim.date_of_loss),)
        )
        totals[(claim.policy_number, claim.claim_type, claim.currency)].add(row)
    grand: dict[str, Sums] = defaultdict(Sums)
    for (policy, claim_type, currency), sums in sorted(totals.items()):
        writer.writerow(
            ("total", "", "", policy, claim_type, "", "", "", currency)
            + sums.cells(currency)
            + ("",)  # a total may span policy years
        )
        grand[currency].add(sums)
    for currency, sums in sorted(grand.items()):
        writer.writerow(
            ("grand_total", "", "", "", "", "", "", "", currency) + sums.cells(currency) + ("",)
        )
    return out.getvalue()


def billed(rows: list[Any]) -> list[tuple[Any, Any, Decimal]]:
    """(claim, decision, billed_before) per claim a month bills, from `reporting.approvals`
    (claim, decision, approved_before): the claim's latest approval in the month, and what
    its approval before the month already billed. An appeal overturned to a higher amount
    bills the difference once; an upheld approval keeps its row; a claim whose latest
    approval adds nothing to what was billed before is left out (the remittance too)."""
    latest: dict[str, tuple[Any, Any, Any]] = {}
    for claim, decision, before in rows:
        latest[claim.id] = (claim, decision, before)
    out = []
    for claim, decision, before in latest.values():
        prior = Decimal(str(before)) if before is not None else Decimal(0)
        if prior > 0 and (decision.payable_amount or Decimal(0)) <= prior:
            continue  # nothing more to bill
        out.append((claim, decision, prior))
    return out


def _policy_year_start(effective_from: date | None, loss: date) -> str:
    """The first day of the policy year the payment counts against (the aggregate's
    year, service.domain.calendar.policy_year); empty when the policy is not on file."""
    return policy_year(effective_from, loss)[0].isoformat() if effective_from else ""


@dataclass
class Sums:
    """Claimed, payable, how many claims, and the cuts (deductible, per-claim limit,
    annual aggregate, other) of one row or a total."""

    claimed: Decimal = Decimal(0)
    payable: Decimal = Decimal(0)
    claims: int = 0
    cuts: list[Decimal] = field(default_factory=lambda: [Decimal(0)] * 4)

    def add_cuts(self, adjustments: list[dict[str, Any]]) -> None:
        for line in adjustments:
            index = CUT_COLUMNS.get(str(line.get("reason")), 3)
            self.cuts[index] += Decimal(str(line["amount"]))

    def add(self, other: Sums) -> None:
        self.claimed += other.claimed
        self.payable += other.payable
        self.claims += other.claims
        self.cuts = [a + b for a, b in zip(self.cuts, other.cuts, strict=True)]

    def cells(self, currency: str) -> tuple[Any, ...]:
        """Amounts with the currency's decimals (USD 300.00, JPY 900, KWD 85.125)."""
        money = [str(fmt(amount, currency)) for amount in self.cuts]
        return (
            str(fmt(self.claimed, currency)),
            str(fmt(self.payable, currency)),
            self.claims,
            *money,
        )

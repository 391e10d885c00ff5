"""The monthly remittance: for finance, what was paid on each claim line and why the rest
was not, as CSV that balances with the bordereau of the same month.

The month and the claims are the bordereau's (service/usecases/write_bordereau.py): approved
claims whose first approval in the month fell in [start, end) of the calendar month in UTC,
each at that approval's decision. Rows, in order of policy, claim type and decision time:

- `line`: one per claim line (sequence, code, submitted, allowed, paid), from the decision's
  per-line results; a claim without per-line results has one `line` row for the whole
  claim (sequence empty, code = the claim type, submitted = claimed, paid = payable).
- `adjustment`: after its line, one per adjustment of that line (group, CARC, amount, as
  in an X12 835 CAS segment); claim-level adjustments that no line carries follow the
  claim's lines with the sequence empty.
- `paid_before`: what an earlier month already remitted for the claim (its approval
  before the month), when an approval in this month replaces it (an appeal overturned to
  a higher amount): the month pays only the difference, as the bordereau bills it, so
  the sum remitted over all months is the claim's current payable.
- `claim_total`: claimed, the sum of adjustments (paid_before included) and paid;
  claimed - adjustments = paid.
- `policy_total` per policy and currency, then `grand_total` per currency: claims,
  claimed, adjustments, paid. The paid totals equal the bordereau's payable totals.

A month that has ended is written once to INSTANCE_DIR/reports/remittance-YYYY-MM.csv;
the current month is built on the fly. Amounts in the currency's minor units.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from service.csv_export import csv_writer
from service.db import reporting
from service.domain.money import fmt
from service.usecases.context import Context
from service.usecases.read_models import decision_document
from service.usecases.write_bordereau import (
    billed,
    ended_month,
    month_bounds,
    read_report,
    write_report,
)

COLUMNS = (
    "record",
    "claim_id",
    "external_ref",
    "policy_number",
    "claim_type",
    "decided_at",
    "currency",
    "line",
    "code",
    "submitted",
    "allowed",
    "paid",
    "group",
    "carc",
    "adjustment",
    "claims",
)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Remittance:
    month: str
    text: str
    complete: bool  # False for the current month (still changing, not stored)


@dataclass
class _Sums:
    claims: int = 0
    claimed: Decimal = ZERO
    adjusted: Decimal = ZERO
    paid: Decimal = ZERO

    def add(self, claimed: Decimal, adjusted: Decimal, paid: Decimal) -> None:
        self.claims += 1
        self.claimed += claimed
        self.adjusted += adjusted
        self.paid += paid


def report_path(ctx: Context, month: str) -> Path:
    return Path(ctx.config.instance_dir) / "reports" / f"remittance-{month}.csv"


def write_remittance(ctx: Context, month: str, overwrite: bool = False) -> tuple[Path, bool]:
    """Write an ended month's remittance file (atomically); its path and whether it was
    written now. A stored month is kept unless `overwrite` (the CLI's --force): it is
    what finance was served. ValueError (MonthNotEnded) as `ended_month` says."""
    ended_month(ctx, month)
    path = report_path(ctx, month)
    existed = path.exists()
    write_report(path, lambda: remittance_csv(ctx, month), overwrite)
    return path, overwrite or not existed


def remittance(ctx: Context, month: str) -> Remittance:
    """The month's remittance for a reader: stored once the month has ended, built on the
    fly while it runs. ValueError for a month that is not YYYY-MM or has not begun."""
    text, complete = read_report(
        ctx, month, report_path(ctx, month), lambda: remittance_csv(ctx, month)
    )
    return Remittance(month, text, complete)


def remittance_csv(ctx: Context, month: str) -> str:
    start, end = month_bounds(month)
    with ctx.unit_of_work(read_only=True) as session:
        rows = billed(reporting.approvals(session, start, end))
        claims = [
            (claim, decision_document(decision, claim.currency), before)
            for claim, decision, before in rows
        ]
    out = io.StringIO()
    writer = csv_writer(out)  # formula-safe cells, CR LF (service/csv_export.py)
    writer.writerow(COLUMNS)
    policies: dict[tuple[str, str], _Sums] = defaultdict(_Sums)
    for claim, decision, before in claims:
        currency = claim.currency
        head = (
            claim.id,
            claim.external_ref,
            claim.policy_number,
            claim.claim_type,
            decision["decided_at"],
            currency,
        )
        claimed = Decimal(claim.amount)
        paid = _amount(decision["payable_amount"])
        adjustments = [_adjustment(a) for a in decision.get("adjustments") or []]
        for record, *cells in claim_rows(
            claim.claim_type, currency, claimed, paid, adjustments, decision
        ):
            writer.writerow((record, *head, *cells, ""))
        adjusted = sum((a[2] for a in adjustments), ZERO)
        if before > 0:
            # remitted in an earlier month (an appeal overturned higher): only the
            # difference is paid now, as the bordereau bills it
            writer.writerow(
                ("paid_before", *head, "", "", "", "", "", "", "", _m(before, currency), "")
            )
            adjusted, paid = adjusted + before, paid - before
        writer.writerow(
            ("claim_total", *head, "", "", _m(claimed, currency), "", _m(paid, currency))
            + ("", "", _m(adjusted, currency), 1)
        )
        policies[(claim.policy_number, currency)].add(claimed, adjusted, paid)
    grand: dict[str, _Sums] = defaultdict(_Sums)
    for (policy, currency), sums in sorted(policies.items()):
        writer.writerow(
            ("policy_total", "", "", policy, "", "", currency) + _totals(sums, currency)
        )
        g = grand[currency]
        g.claims, g.claimed = g.claims + sums.claims, g.claimed + sums.claimed
        g.adjusted, g.paid = g.adjusted + sums.adjusted, g.paid + sums.paid
    for currency, sums in sorted(grand.items()):
        writer.writerow(("grand_total", "", "", "", "", "", currency) + _totals(sums, currency))
    return out.getvalue()


Adjustment = tuple[str, str, Decimal]  # group, CARC, amount


def claim_rows(
    claim_type: str,
    currency: str,
    claimed: Decimal,
    paid: Decimal,
    adjustments: list[Adjustment],
    decision: dict[str, Any],
) -> list[tuple[Any, ...]]:
    """The `line` and `adjustment` rows of one claim: record, line, code, submitted,
    allowed, paid, group, carc, adjustment. Pure."""
    lines = decision.get("lines") or []
    rows: list[tuple[Any, ...]] = []
    if not lines:
        rows.append(
            ("line", "", claim_type, _m(claimed, currency), "", _m(paid, currency), "", "", "")
        )
        rows.extend(
            ("adjustment", "", "", "", "", "", g, c, _m(a, currency)) for g, c, a in adjustments
        )
        return rows
    left: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for group, carc, amount in adjustments:
        left[(group, carc)] += amount
    for line in lines:
        rows.append(
            (
                "line",
                line.get("sequence"),
                line.get("code"),
                _m(_amount(line.get("submitted")), currency),
                _m(_amount(line.get("allowed")), currency),
                _m(_amount(line.get("paid")), currency),
                "",
                "",
                "",
            )
        )
        for group, carc, amount in (_adjustment(a) for a in line.get("adjustments") or []):
            left[(group, carc)] -= amount
            rows.append(
                (
                    "adjustment",
                    line.get("sequence"),
                    "",
                    "",
                    "",
                    "",
                    group,
                    carc,
                    _m(amount, currency),
                )
            )
    for (group, carc), amount in left.items():
        if amount != 0:  # cut at claim level and not spread over the lines
            rows.append(("adjustment", "", "", "", "", "", group, carc, _m(amount, currency)))
    return rows


def _adjustment(stored: dict[str, Any]) -> Adjustment:
    return (str(stored["group"]), str(stored["carc"]), _amount(stored["amount"]))


def _amount(value: Any) -> Decimal:
    return ZERO if value is None or value == "" else Decimal(str(value))


def _m(amount: Decimal, currency: str | None = None) -> str:
    return str(fmt(amount, currency))


def _totals(sums: _Sums, currency: str) -> tuple[Any, ...]:
    return (
        "",
        "",
        _m(sums.claimed, currency),
        "",
        _m(sums.paid, currency),
        "",
        "",
        _m(sums.adjusted, currency),
        sums.claims,
    )

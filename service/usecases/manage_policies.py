"""PUT/GET /v1/policies/<number> and `claims policies import FILE`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from service.db import audit, claims, policies
from service.domain.calendar import Duration
from service.domain.model import Coverage, Policy
from service.domain.money import fmt
from service.usecases.context import Context


def policy_from_data(number: str, data: dict[str, Any]) -> Policy:
    """A policy from PolicySchema's output (amounts in the currency's minor units)."""
    return Policy(
        number=number,
        holder=data["holder"],
        status=data["status"],
        effective_from=data["effective_from"],
        effective_to=data["effective_to"],
        terminated_on=data.get("terminated_on"),
        time_zone=data.get("time_zone"),
        currency=data["currency"],
        coverages=tuple(
            Coverage(
                claim_type=c["claim_type"],
                limit_per_claim=c["limit_per_claim"],
                annual_aggregate=c["annual_aggregate"],
                deductible=c["deductible"],
                waiting_period=c.get("waiting_period") or Duration(0, "days"),
            )
            for c in data.get("coverages", [])
        ),
    )


def policy_document(policy: Policy) -> dict[str, Any]:
    currency = policy.currency
    return {
        "number": policy.number,
        "holder": policy.holder,
        "status": policy.status,
        "effective_from": policy.effective_from.isoformat(),
        "effective_to": policy.effective_to.isoformat(),
        "terminated_on": policy.terminated_on.isoformat() if policy.terminated_on else None,
        "time_zone": policy.time_zone,
        "currency": currency,
        "coverages": [
            {
                "claim_type": c.claim_type,
                "limit_per_claim": fmt(c.limit_per_claim, currency),
                "annual_aggregate": fmt(c.annual_aggregate, currency),
                "deductible": fmt(c.deductible, currency),
                "waiting_period": c.waiting_period.as_dict(),
            }
            for c in policy.coverages
        ],
    }


class CurrencyChangeRefused(Exception):
    """The policy has claims and the new version pays in another currency (409): its
    claims, payments and aggregate are in the old one, so the change is refused."""

    def __init__(self, number: str, old: str, new: str) -> None:
        self.number, self.old, self.new = number, old, new
        super().__init__(
            f"Policy {number} has claims in {old}; its currency cannot change to {new}. "
            "Load a new policy number for cover in another currency."
        )


def put_policy(ctx: Context, policy: Policy, actor: str = "api", source: str | None = None) -> bool:
    """Create or replace `policy`; True when created. CurrencyChangeRefused (nothing
    changed) when it exists, has claims, and `policy` pays in another currency. The
    per-policy lock is held while checking, so no claim slips in between."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        existing = policies.get_policy(session, policy.number, lock=True)
        if (
            existing is not None
            and existing.currency != policy.currency
            and claims.policy_has_claims(session, policy.number)
        ):
            raise CurrencyChangeRefused(policy.number, existing.currency, policy.currency)
        created = policies.save_policy(session, policy, now)
        audit.append_audit(
            session,
            actor=actor,
            action="policy.created" if created else "policy.replaced",
            at=now,
            subject=audit.subject("policy", policy.number),
            source=source,
            after={"number": policy.number, "status": policy.status},
        )
        session.commit()
    return created


def get_policy(ctx: Context, number: str) -> Policy | None:
    with ctx.unit_of_work() as session:
        return policies.get_policy(session, number)


def read_policy_file(path: Path) -> list[dict[str, Any]]:
    """JSON (a list of policies, or {"policies": [...]}) or CSV with one row per coverage."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        return list(data["policies"] if isinstance(data, dict) else data)
    return _policies_from_csv(csv.DictReader(io.StringIO(text)))


CSV_COLUMNS = (
    "number",
    "holder",
    "status",
    "effective_from",
    "effective_to",
    "currency",
    "claim_type",
    "limit_per_claim",
    "annual_aggregate",
    "deductible",
    "waiting_period_days",
    "waiting_period",  # ISO 8601 (P1M); instead of waiting_period_days
    "terminated_on",  # lapsed or cancelled policies
    "time_zone",
)
POLICY_COLUMNS = CSV_COLUMNS[:6]
COVERAGE_COLUMNS = CSV_COLUMNS[6:11]
OPTIONAL_POLICY_COLUMNS = CSV_COLUMNS[12:]


def _policies_from_csv(rows: Iterable[dict[str, str]]) -> list[dict[str, Any]]:
    by_number: dict[str, dict[str, Any]] = {}
    for row in rows:
        missing = [c for c in POLICY_COLUMNS if not row.get(c)]
        if missing:
            raise ValueError(f"CSV row for {row.get('number') or '?'} lacks {', '.join(missing)}")
        policy = by_number.setdefault(
            row["number"],
            {k: row[k] for k in POLICY_COLUMNS}
            | {k: row[k] for k in OPTIONAL_POLICY_COLUMNS if row.get(k)}
            | {"coverages": []},
        )
        if row.get("claim_type"):
            coverage: dict[str, Any] = {
                k: row[k] for k in COVERAGE_COLUMNS if row.get(k) not in (None, "")
            }
            if row.get("waiting_period"):
                coverage["waiting_period"] = row["waiting_period"]
            if "waiting_period_days" in coverage:
                try:
                    coverage["waiting_period_days"] = int(coverage["waiting_period_days"])
                except ValueError:
                    raise ValueError(
                        f"CSV row for {row['number']}: waiting_period_days is not a whole number"
                    ) from None
            policy["coverages"].append(coverage)
    return list(by_number.values())


__all__ = [
    "CurrencyChangeRefused",
    "policy_from_data",
    "policy_document",
    "put_policy",
    "read_policy_file",
]

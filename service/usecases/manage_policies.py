"""PUT/GET /v1/policies/<number> and `claims policies import FILE`."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
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
                deductible_period=c.get("deductible_period") or "claim",
                out_of_pocket_maximum=c.get("out_of_pocket_maximum"),
                out_of_pocket_period=c.get("out_of_pocket_period") or "claim",
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
                "deductible_period": c.deductible_period,
                "out_of_pocket_maximum": fmt(c.out_of_pocket_maximum, currency),
                "out_of_pocket_period": c.out_of_pocket_period,
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


def put_policies(ctx: Context, batch: list[Policy], actor: str) -> tuple[int, int]:
    """Insert or replace every policy of `batch` in one transaction (all or none), with
    one audit event each; (created, replaced). CurrencyChangeRefused (nothing changed)
    as for `put_policy`, each policy locked while it is checked."""
    now = ctx.clock.now()
    created = 0
    with ctx.unit_of_work() as session:
        for policy in batch:
            existing = policies.get_policy(session, policy.number, lock=True)
            if (
                existing is not None
                and existing.currency != policy.currency
                and claims.policy_has_claims(session, policy.number)
            ):
                raise CurrencyChangeRefused(policy.number, existing.currency, policy.currency)
            new = policies.save_policy(session, policy, now)
            created += new
            audit.append_audit(
                session,
                actor=actor,
                action="policy.created" if new else "policy.replaced",
                at=now,
                subject=audit.subject("policy", policy.number),
                after={"number": policy.number, "status": policy.status},
            )
        session.commit()
    return created, len(batch) - created


def get_policy(ctx: Context, number: str) -> Policy | None:
    with ctx.unit_of_work() as session:
        return policies.get_policy(session, number)


MAX_FILE_BYTES = 64 << 20  # a policy file larger than this is refused unread


class PolicyFileError(ValueError):
    """The file cannot be read as policies; the message names file:line."""


@dataclass(frozen=True)
class PolicyItem:
    """One policy as read from a file: its body, the line it starts on, and the line of
    each of its coverages (CSV: one row each; JSON: the policy's line)."""

    line: int
    body: Any
    coverage_lines: tuple[int, ...] = ()
    problems: tuple[str, ...] = ()  # `file:line: message` found while reading its rows


def read_policy_items(path: Path) -> list[PolicyItem]:
    """The policies of a JSON (a list, or {"policies": [...]}) or CSV file (one row per
    coverage) with their line numbers; PolicyFileError names
    file:line when the file cannot be read at all."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PolicyFileError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyFileError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise PolicyFileError(f"{path}: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".json":
        return _json_items(path, text)
    return _csv_items(path, text)


def _json_items(path: Path, text: str) -> list[PolicyItem]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", 1)
        raise PolicyFileError(f"{path}:{line}: not valid JSON ({exc})") from None
    items = data.get("policies") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise PolicyFileError(f'{path}:1: expected a list of policies or {{"policies": [...]}}')
    lines = _json_item_lines(text, len(items))
    return [PolicyItem(line, item) for line, item in zip(lines, items, strict=True)]


def _json_item_lines(text: str, count: int) -> list[int]:
    """The line each element of the policy list starts on (1 for all when not found)."""
    decoder = json.JSONDecoder()
    start = text.lstrip().startswith("{")
    found = re.search(r'"policies"\s*:\s*\[', text) if start else re.search(r"\[", text)
    lines: list[int] = []
    if found is not None:
        pos = found.end()
        try:
            while len(lines) < count:
                while text[pos] in " \t\r\n,":
                    pos += 1
                lines.append(text.count("\n", 0, pos) + 1)
                _, pos = decoder.raw_decode(text, pos)
        except (ValueError, IndexError):
            lines = []
    return lines if len(lines) == count else [1] * count


def _csv_items(path: Path, text: str) -> list[PolicyItem]:
    reader = csv.DictReader(io.StringIO(text))
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        start = 2  # the first data row follows the header
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise PolicyFileError(f"{path}:{reader.line_num}: {exc}") from None
    return _policies_from_csv(path, rows)


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


def _policies_from_csv(path: Path, rows: list[tuple[int, dict[str, str]]]) -> list[PolicyItem]:
    by_number: dict[str, tuple[int, dict[str, Any], list[int], list[str]]] = {}
    unusable: list[PolicyItem] = []
    for line, row in rows:
        missing = [c for c in POLICY_COLUMNS if not row.get(c)]
        if missing:
            problem = f"{path}:{line}: missing {', '.join(missing)}"
            unusable.append(PolicyItem(line, None, problems=(problem,)))
            continue
        _, policy, coverage_lines, problems = by_number.setdefault(
            row["number"],
            (
                line,
                {k: row[k] for k in POLICY_COLUMNS}
                | {k: row[k] for k in OPTIONAL_POLICY_COLUMNS if row.get(k)}
                | {"coverages": []},
                [],
                [],
            ),
        )
        if row.get("claim_type"):
            coverage: dict[str, Any] = {
                k: row[k] for k in COVERAGE_COLUMNS if row.get(k) not in (None, "")
            }
            if row.get("waiting_period"):
                coverage["waiting_period"] = row["waiting_period"]
            if "waiting_period_days" in coverage:
                days = coverage["waiting_period_days"]
                if not (days.isascii() and days.isdigit() and len(days) <= 5):
                    problems.append(
                        f"{path}:{line}: waiting_period_days: a whole number of days, "
                        "digits 0-9 only"
                    )
                    continue
                coverage["waiting_period_days"] = int(days)
            policy["coverages"].append(coverage)
            coverage_lines.append(line)
    items = [
        PolicyItem(line, policy, tuple(coverage_lines), tuple(problems))
        for line, policy, coverage_lines, problems in by_number.values()
    ]
    return sorted(unusable + items, key=lambda item: item.line)


__all__ = [
    "CurrencyChangeRefused",
    "PolicyFileError",
    "PolicyItem",
    "policy_from_data",
    "policy_document",
    "put_policies",
    "put_policy",
    "read_policy_items",
]

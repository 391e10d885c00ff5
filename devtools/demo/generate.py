"""Deterministic synthetic policies and claims: the demo, the benchmarks and the load test.

`generate(policies, claims, seed, today)` returns policies (the body of
`PUT /v1/policies/<number>` plus its `number`) and claims (the body of
`POST /v1/claims`), the same lists for the same arguments on every machine.

The mix is chosen so that every rule of the shipped ruleset fires at a
plausible rate: lapsed, cancelled, ended and future policies; losses before
the start, after the end and inside waiting periods; claim types a policy does
not cover; late and very late reports; missing documents; duplicates of an
earlier claim; amounts under the deductible and above the auto-approval
thresholds and limits; frequent claimants on policies with small aggregates,
whose annual aggregate runs out; unknown policy numbers.

Claims are in submission order: a duplicate always comes after its original,
and reported dates are never after `today - 1` (the API refuses the future).

`decide_offline` decides the generated claims through the pure path
(build_facts + summarise_history + adjudicate) with no database, and
`store_decided_bulk` puts them in a database decided, for the
backtest benchmark.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from service.domain.calendar import Duration
from service.domain.model import CLAIM_TYPES, LANGUAGES

CENT = Decimal("0.01")

# Shares of claims per scenario (applied independently where they can combine).
SHARE_UNKNOWN_POLICY = 0.02
SHARE_FREQUENT_POLICY = 0.10  # of claims going to the few frequent claimants
SHARE_FREQUENT_POLICIES = 0.01  # of policies that are frequent claimants
SHARE_UNCOVERED_TYPE = 0.03
SHARE_BEFORE_START = 0.015
SHARE_AFTER_END = 0.02
SHARE_WAITING = 0.02
SHARE_LATE = 0.07  # reported 31..365 days after the loss
SHARE_VERY_LATE = 0.012  # reported more than 365 days after
SHARE_MISSING_DOCS = 0.08
SHARE_DUPLICATE = 0.03
SHARE_UNDER_DEDUCTIBLE = 0.04
SHARE_LARGE = 0.06
SHARE_CAPPED_POLICIES = 0.02  # small plans whose aggregate one large claim uses up
SHARE_AGGREGATE_RUN_OUT = 0.004  # pairs of claims: paid up to the cap, then nothing left

REQUIRED = {
    "device_damage": ("purchase_receipt", "photos"),
    "device_theft": ("police_report", "purchase_receipt"),
    "water_damage": ("photos", "scope_notes", "estimate"),
    "fire_damage": ("photos", "estimate", "fire_report"),
    "medical_reimbursement": ("invoice", "medical_report"),
}
EXTRA_DOCS = ("id_card", "bank_details", "correspondence")
# (low, mode, high) of a typical claimed amount per claim type
AMOUNTS = {
    "device_damage": (40, 220, 900),
    "device_theft": (150, 600, 1400),
    "water_damage": (400, 1800, 9000),
    "fire_damage": (800, 3000, 12000),
    "medical_reimbursement": (30, 300, 2400),
}
DESCRIPTIONS = {
    "device_damage": ("Screen cracked after a drop", "Phone fell in water", "Laptop hinge broke"),
    "device_theft": ("Phone stolen on the train", "Laptop taken from a car", "Bag snatched"),
    "water_damage": ("Burst pipe in the kitchen", "Roof leak after a storm", "Washer hose split"),
    "fire_damage": ("Kitchen fire", "Electrical fire in the garage", "Chimney fire"),
    "medical_reimbursement": ("Physiotherapy sessions", "Dental treatment", "Emergency visit"),
}
FIRST = (
    "Ana",
    "Bo",
    "Chen",
    "Dana",
    "Eli",
    "Fatima",
    "Gus",
    "Hana",
    "Ivan",
    "Jun",
    "Kai",
    "Lena",
    "Minh",
    "Nora",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sami",
    "Tiina",
    "Uma",
    "Vo",
)
LAST = (
    "Smith",
    "Garcia",
    "Wang",
    "Tamm",
    "Nguyen",
    "Lee",
    "Kask",
    "Lopez",
    "Tran",
    "Brown",
    "Li",
    "Mets",
    "Perez",
    "Pham",
    "Jones",
    "Zhang",
)
CURRENCIES = (("USD", 0.6), ("EUR", 0.25), ("GBP", 0.15))
PRODUCTS = (  # (claim types covered, weight)
    (("device_damage", "device_theft"), 0.20),
    (("device_damage",), 0.12),
    (("water_damage", "fire_damage"), 0.14),
    (("water_damage",), 0.08),
    (("fire_damage",), 0.04),
    (("medical_reimbursement",), 0.20),
    (("device_damage", "medical_reimbursement"), 0.10),
    (("device_damage", "device_theft", "water_damage", "fire_damage"), 0.12),
)


def _money(value: float | int | Decimal) -> str:
    return str(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP))


def _weighted(rng: random.Random, pairs: Iterable[tuple[Any, float]]) -> Any:
    items = list(pairs)
    return rng.choices([i for i, _ in items], weights=[w for _, w in items], k=1)[0]


def _coverage(rng: random.Random, claim_type: str, small_aggregate: bool) -> dict[str, Any]:
    if claim_type == "device_damage":
        limit = rng.choice((800, 1200, 1500, 2000))
        aggregate = rng.choice((2000, 3000, 5000))
        deductible = rng.choice((0, 50, 50, 100))
        wait = 0
    elif claim_type == "device_theft":
        limit = rng.choice((1000, 1500, 2500))
        aggregate = rng.choice((3000, 5000))
        deductible = rng.choice((100, 150))
        wait = 30 if rng.random() < 0.6 else 0
    elif claim_type == "water_damage":
        limit = rng.choice((15000, 20000, 50000))
        aggregate = rng.choice((50000, 100000))
        deductible = rng.choice((250, 500, 1000))
        wait = rng.choice((0, 0, 30))
    elif claim_type == "fire_damage":
        limit = rng.choice((50000, 100000))
        aggregate = rng.choice((100000, 250000))
        deductible = rng.choice((500, 1000, 2500))
        wait = 0
    else:
        limit = rng.choice((2500, 5000, 10000))
        aggregate = rng.choice((5000, 10000, 20000))
        deductible = rng.choice((0, 0, 25, 100))
        wait = rng.choice((0, 0, 14, 30))
    if small_aggregate:  # frequent claimants on a modest plan run out during the year
        aggregate = limit
    return {
        "claim_type": claim_type,
        "limit_per_claim": _money(limit),
        "annual_aggregate": _money(aggregate),
        "deductible": _money(deductible),
        "waiting_period": _waiting(wait),
    }


def _waiting(days: int) -> dict[str, int]:
    """A waiting period in calendar units: 30 days of the old plans is one month."""
    return {"months": 1} if days == 30 else {"days": days}


def _policy(
    rng: random.Random, index: int, seed: int, today: date, frequent: bool
) -> dict[str, Any]:
    roll = rng.random()
    status = "active"
    if not frequent and roll < 0.05:
        status = "lapsed"
    elif not frequent and roll < 0.08:
        status = "cancelled"
    if not frequent and rng.random() < 0.03:  # sold, starts later
        start = today + timedelta(days=rng.randint(10, 120))
    else:
        start = today - timedelta(days=rng.randint(20, 760))
    years = rng.choice((1, 1, 2, 3))
    end = date(start.year + years, start.month, min(start.day, 28)) - timedelta(days=1)
    types = _weighted(rng, PRODUCTS)
    if frequent and "device_damage" not in types:
        types = ("device_damage", *types)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    body = {
        "number": f"GEN-{seed}-{index:06d}",
        "holder": f"{first} {last}",
        "status": status,
        "effective_from": start.isoformat(),
        "effective_to": end.isoformat(),
        "currency": _weighted(rng, CURRENCIES),
        "coverages": [_coverage(rng, t, frequent and rng.random() < 0.7) for t in types],
    }
    if not frequent and index % 25 == 3:  # a plan that lists theft but pays nothing for it
        for cover in body["coverages"]:
            if cover["claim_type"] == "device_theft":
                cover["limit_per_claim"] = _money(0)
    if status != "active":  # stopped a month in: later losses are after cover (CARC 27)
        body["terminated_on"] = min(end, start + timedelta(days=30)).isoformat()
    return body


def _delay(rng: random.Random) -> int:
    roll = rng.random()
    if roll < SHARE_VERY_LATE:
        return rng.randint(366, 520)
    if roll < SHARE_VERY_LATE + SHARE_LATE:
        return rng.randint(31, 365)
    if roll < SHARE_VERY_LATE + SHARE_LATE + 0.04:
        return rng.randint(15, 30)
    return min(int(rng.expovariate(1 / 3)), 14)


def _amount(rng: random.Random, claim_type: str, coverage: dict[str, Any] | None) -> str:
    low, mode, high = AMOUNTS[claim_type]
    value = rng.triangular(low, high, mode)
    roll = rng.random()
    if coverage is not None and roll < SHARE_UNDER_DEDUCTIBLE:
        deductible = Decimal(coverage["deductible"])
        if deductible > 0:
            return _money(Decimal(rng.randint(1, int(deductible * 100))) / 100)
    if roll > 1 - SHARE_LARGE:
        value *= rng.uniform(2, 8)
    return _money(value)


def _claimant(rng: random.Random, holder: str | None, ref: str) -> dict[str, Any]:
    name = holder or f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    person: dict[str, Any] = {
        "name": name,
        "preferred_language": _weighted(
            rng, zip(LANGUAGES, (0.6, 0.1, 0.15, 0.05, 0.1), strict=True)
        ),
    }
    if rng.random() < 0.9:
        person["email"] = f"{name.split()[0].lower()}.{ref.lower()}@example.com"
    if "email" not in person or rng.random() < 0.4:
        person["phone"] = f"+1 555 01{rng.randint(0, 99):02d}"
    return person


def _documents(rng: random.Random, claim_type: str, ref: str, missing: bool) -> list[dict]:
    kinds = list(REQUIRED[claim_type])
    if missing:
        drop = rng.sample(kinds, rng.randint(1, len(kinds)))
        kinds = [k for k in kinds if k not in drop]
    if rng.random() < 0.15:
        kinds.append(rng.choice(EXTRA_DOCS))
    return [{"type": k, "ref": f"s3://claims-docs/{ref}/{k}.pdf"} for k in kinds]


def _reported_at(rng: random.Random, day: date) -> str:
    moment = datetime(
        day.year,
        day.month,
        day.day,
        rng.randint(6, 21),
        rng.randint(0, 59),
        rng.randint(0, 59),
        tzinfo=UTC,
    )
    return moment.isoformat()


def _loss_window(
    rng: random.Random, policy: dict[str, Any] | None, coverage: dict | None, today: date
) -> tuple[date, date]:
    """Days the loss may fall on for the scenario drawn for this claim."""
    latest = today - timedelta(days=1)
    if policy is None:
        return latest - timedelta(days=400), latest
    start = date.fromisoformat(policy["effective_from"])
    end = date.fromisoformat(policy["effective_to"])
    if start > latest:  # a policy that has not started: every loss is before it
        return latest - timedelta(days=90), latest
    roll = rng.random()
    if roll < SHARE_BEFORE_START:
        return start - timedelta(days=60), start - timedelta(days=1)
    if roll < SHARE_BEFORE_START + SHARE_AFTER_END and end < latest - timedelta(days=1):
        return end + timedelta(days=1), min(end + timedelta(days=120), latest)
    wait = Duration.parse(coverage["waiting_period"]) if coverage else Duration(0, "days")
    cover_from = wait.after(start)
    if roll < SHARE_BEFORE_START + SHARE_AFTER_END + SHARE_WAITING and cover_from > start:
        return start, min(cover_from - timedelta(days=1), latest)
    low = max(start, latest - timedelta(days=540))
    return low, min(end, latest)


def generate(
    policies: int, claims: int, seed: int, today: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Policies (PUT body + "number") and claims (POST body), deterministic for a seed."""
    if policies < 1 and claims > 0:
        raise ValueError("claims need at least one policy")
    rng = random.Random(f"claims-generate:{seed}")
    n_frequent = max(1, round(policies * SHARE_FREQUENT_POLICIES)) if policies else 0
    n_capped = max(1, round(policies * SHARE_CAPPED_POLICIES)) if policies > 2 else 0
    policy_list = []
    for i in range(policies):
        if n_frequent <= i < n_frequent + n_capped:
            policy_list.append(_capped_policy(rng, i, seed, today))
        else:
            policy_list.append(_policy(rng, i, seed, today, frequent=i < n_frequent))
    frequent = policy_list[:n_frequent]
    capped = policy_list[n_frequent : n_frequent + n_capped]
    ordinary = policy_list[n_frequent:] or policy_list
    out: list[dict[str, Any]] = []
    latest = today - timedelta(days=1)
    while len(out) < claims:
        i = len(out)
        ref = f"G{seed}-{i:07d}"
        if capped and i + 1 < claims and rng.random() < SHARE_AGGREGATE_RUN_OUT:
            out.extend(_run_out(rng, rng.choice(capped), seed, i, latest))
            continue
        if out and rng.random() < SHARE_DUPLICATE:
            original = rng.choice(out[-500:])
            if not original["policy_number"].startswith("UNKNOWN"):
                out.append(_duplicate(rng, original, ref, latest))
                continue
        policy: dict[str, Any] | None
        if rng.random() < SHARE_UNKNOWN_POLICY:
            policy = None
            number = f"UNKNOWN-{seed}-{rng.randint(0, 999_999):06d}"
        else:
            pool = frequent if rng.random() < SHARE_FREQUENT_POLICY else ordinary
            policy = rng.choice(pool)
            number = policy["number"]
        covered = [c["claim_type"] for c in policy["coverages"]] if policy else []
        if not covered or rng.random() < SHARE_UNCOVERED_TYPE:
            others = [t for t in CLAIM_TYPES if t not in covered] or list(CLAIM_TYPES)
            claim_type = rng.choice(others)
        else:
            claim_type = rng.choice(covered)
        coverage = (
            next((c for c in policy["coverages"] if c["claim_type"] == claim_type), None)
            if policy
            else None
        )
        low, high = _loss_window(rng, policy, coverage, today)
        delay = _delay(rng)
        high_for_delay = min(high, latest - timedelta(days=delay))
        if high_for_delay < low:  # not enough past for that delay: report as late as possible
            loss = low
            delay = max(0, (latest - low).days)
        else:
            loss = low + timedelta(days=rng.randint(0, (high_for_delay - low).days))
        reported = loss + timedelta(days=delay)
        body: dict[str, Any] = {
            "external_ref": ref,
            "policy_number": number,
            "claim_type": claim_type,
            "date_of_loss": loss.isoformat(),
            "reported_at": _reported_at(rng, reported),
            "amount": _amount(rng, claim_type, coverage),
            "currency": policy["currency"] if policy else "USD",
            "description": rng.choice(DESCRIPTIONS[claim_type]),
            "claimant": _claimant(rng, policy["holder"] if policy else None, ref),
            "documents": _documents(rng, claim_type, ref, rng.random() < SHARE_MISSING_DOCS),
        }
        if claim_type == "medical_reimbursement" and rng.random() < 0.5:
            body["line_items"] = _line_items(rng, Decimal(body["amount"]))
        out.append(body)
    return policy_list, out


def _capped_policy(rng: random.Random, index: int, seed: int, today: date) -> dict[str, Any]:
    """A one-year medical plan whose annual aggregate equals its per-claim limit."""
    start = today - timedelta(days=rng.randint(60, 300))
    limit = rng.choice((1000, 1500))
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "number": f"GEN-{seed}-{index:06d}",
        "holder": f"{first} {last}",
        "status": "active",
        "effective_from": start.isoformat(),
        "effective_to": (start + timedelta(days=364)).isoformat(),
        "currency": _weighted(rng, CURRENCIES),
        "coverages": [
            {
                "claim_type": "medical_reimbursement",
                "limit_per_claim": _money(limit),
                "annual_aggregate": _money(limit),
                "deductible": _money(0),
                "waiting_period": {"days": 0},
            }
        ],
    }


def _run_out(
    rng: random.Random, policy: dict[str, Any], seed: int, index: int, latest: date
) -> list[dict[str, Any]]:
    """A claim above the cap (paid up to it), then a later one that finds nothing left."""
    start = date.fromisoformat(policy["effective_from"])
    end = min(date.fromisoformat(policy["effective_to"]), latest)
    limit = Decimal(policy["coverages"][0]["limit_per_claim"])
    bodies = []
    first = start + timedelta(days=rng.randint(0, max(0, (end - start).days - 2)))
    second = first + timedelta(days=rng.randint(1, max(1, (end - first).days)))
    amounts = (limit + rng.randint(50, 400), Decimal(rng.randint(60, 600)))
    for n, (loss, amount) in enumerate(zip((first, second), amounts, strict=True)):
        ref = f"G{seed}-{index + n:07d}"
        bodies.append(
            {
                "external_ref": ref,
                "policy_number": policy["number"],
                "claim_type": "medical_reimbursement",
                "date_of_loss": loss.isoformat(),
                "reported_at": _reported_at(rng, loss),
                "amount": _money(amount),
                "currency": policy["currency"],
                "description": rng.choice(DESCRIPTIONS["medical_reimbursement"]),
                "claimant": _claimant(rng, policy["holder"], ref),
                "documents": _documents(rng, "medical_reimbursement", ref, False),
            }
        )
    return bodies


def _duplicate(
    rng: random.Random, original: dict[str, Any], ref: str, latest: date
) -> dict[str, Any]:
    """The same loss sent again (same policy, type, date and amount), a few days later:
    with the same documents (an exact duplicate) or other ones (a suspected one)."""
    first = datetime.fromisoformat(original["reported_at"]).date()
    again = min(first + timedelta(days=rng.randint(0, 10)), latest)
    body = {k: v for k, v in original.items() if k != "line_items"}
    documents = _documents(rng, original["claim_type"], ref, False)
    if sum(map(ord, ref)) % 2:  # half are the same evidence again: exact duplicates
        documents = original["documents"]
    body.update(external_ref=ref, reported_at=_reported_at(rng, again), documents=documents)
    return body


# Service codes on the shipped fee schedule (rules/fee_schedules/medical.csv), covered
SERVICE_CODES = ("99213", "99214", "99203", "85025", "80053", "71046", "93000", "97110", "J3420")


def _service_code(number: int) -> str:
    """Mostly a code on the fee schedule; 1 in 20 one it marks not covered, 1 in 20 one
    it does not know (the line rules deny both)."""
    if number % 20 == 0:
        return "15780"
    if number % 20 == 1:
        return f"SVC{number}"
    return SERVICE_CODES[number % len(SERVICE_CODES)]


def _line_items(rng: random.Random, total: Decimal) -> list[dict[str, Any]]:
    count = rng.randint(1, 3)
    items = []
    left = total
    for n in range(count):
        part = left if n == count - 1 else (left / 2).quantize(CENT)
        left -= part
        items.append(
            {
                "code": _service_code(rng.randint(100, 999)),
                "description": "Treatment",
                "amount": _money(part),
            }
        )
    return items


# --- domain objects from generated dicts -------------------------------------------


def to_policy(body: dict[str, Any]) -> Any:
    from service.domain.model import Coverage, Policy

    terminated = body.get("terminated_on")
    return Policy(
        number=body["number"],
        holder=body["holder"],
        status=body["status"],
        effective_from=date.fromisoformat(body["effective_from"]),
        effective_to=date.fromisoformat(body["effective_to"]),
        terminated_on=date.fromisoformat(terminated) if terminated else None,
        time_zone=body.get("time_zone"),
        currency=body["currency"],
        coverages=tuple(
            Coverage(
                claim_type=c["claim_type"],
                limit_per_claim=Decimal(c["limit_per_claim"]),
                annual_aggregate=Decimal(c["annual_aggregate"]),
                deductible=Decimal(c["deductible"]),
                waiting_period=Duration.parse(c.get("waiting_period") or {"days": 0}),
            )
            for c in body["coverages"]
        ),
    )


def to_claim(body: dict[str, Any], claim_id: str | None = None) -> Any:
    from service.domain.model import Claim, Document, LineItem, line_items_key

    lines = tuple(
        LineItem(i["code"], Decimal(i["amount"]), i.get("description", ""))
        for i in body.get("line_items") or []
    )
    return Claim(
        id=claim_id,
        policy_number=body["policy_number"],
        claim_type=body["claim_type"],
        date_of_loss=date.fromisoformat(body["date_of_loss"]),
        reported_at=datetime.fromisoformat(body["reported_at"]),
        amount=Decimal(body["amount"]),
        currency=body["currency"],
        documents=tuple(Document(d["type"], d["ref"]) for d in body.get("documents", [])),
        line_items_count=len(lines),
        line_items_key=line_items_key(lines),
        line_items=lines,
    )


@dataclass(frozen=True)
class Decided:
    body: dict[str, Any]
    claim_id: str
    facts: dict[str, Any]
    decision: Any  # service.domain.decision.Decision


def decide_offline(
    engine: Any,
    policies: list[dict[str, Any]],
    claims: Iterable[dict[str, Any]],
    adjudicator: Callable[[Any, dict[str, Any]], Any] | None = None,
) -> Iterator[Decided]:
    """Decide claims in order with no database: build_facts + summarise_history + adjudicate.

    Earlier claims of the same run count as history, exactly as the API's
    indexed queries would count them (a test checks that the two agree).
    """
    from service.domain.facts import build_facts
    from service.domain.history import summarise_history
    from service.domain.model import PriorClaim
    from service.rules.engine import adjudicate

    decide = adjudicator or adjudicate
    by_number = {p["number"]: to_policy(p) for p in policies}
    required = engine.ruleset.required_documents
    earlier: dict[str, list[PriorClaim]] = {}
    for index, body in enumerate(claims):
        claim_id = str(uuid.UUID(int=index + 1))
        claim = to_claim(body, claim_id)
        policy = by_number.get(claim.policy_number)
        prior = earlier.setdefault(claim.policy_number, [])
        history = summarise_history(claim, policy, prior)
        facts = build_facts(claim, policy, history, required)
        decision = decide(engine, facts)
        prior.append(
            PriorClaim(
                claim_id,
                claim.claim_type,
                claim.date_of_loss,
                claim.amount,
                decision.outcome,
                decision.payable_amount,
                frozenset(d.ref for d in claim.documents),
                claim.line_items_key,
            )
        )
        yield Decided(body, claim_id, facts, decision)


# --- storing decided claims (the backtest benchmark's data) ------------------------


def store_decided_bulk(
    ctx: Any,
    policies: list[dict[str, Any]],
    claims: Iterable[dict[str, Any]],
    client_id: str = "generator",
    batch: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """The fast path for large histories: same engine, same facts, bulk inserts.

    Claims are decided in memory by `decide_offline` (the real rules engine on
    the real facts, history counted from the earlier claims of the run), then
    claims, documents and decisions are inserted in batches of `batch` rows.
    No audit events and no outbox rows are written: this is benchmark data,
    not intake. Policies go through the real use case.
    """
    from sqlalchemy import insert

    from service.api.schemas import PolicySchema
    from service.db import rulesets
    from service.db.tables import ClaimRow, DecisionRow, DocumentRow
    from service.usecases.manage_policies import policy_from_data, put_policy
    from service.usecases.record_decision import decision_values

    started = time.perf_counter()
    policy_schema = PolicySchema()
    for body in policies:
        data = policy_schema.load({k: v for k, v in body.items() if k != "number"})
        put_policy(ctx, policy_from_data(body["number"], data), actor="generator")
    policies_done = time.perf_counter()
    engine = ctx.engine
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        rulesets.store_ruleset(
            session, engine.ruleset.version, engine.ruleset.files, len(engine.ruleset.rules), now
        )
        session.commit()
    claim_rows: list[dict[str, Any]] = []
    doc_rows: list[dict[str, Any]] = []
    decision_rows: list[dict[str, Any]] = []
    count = 0

    def flush() -> None:
        with ctx.unit_of_work() as session:
            session.execute(insert(ClaimRow), claim_rows)
            if doc_rows:
                session.execute(insert(DocumentRow), doc_rows)
            session.execute(insert(DecisionRow), decision_rows)
            session.commit()
        claim_rows.clear()
        doc_rows.clear()
        decision_rows.clear()

    for item in decide_offline(engine, policies, claims):
        body, decision = item.body, item.decision
        claim_id = str(uuid.uuid4())
        reported = datetime.fromisoformat(body["reported_at"])
        claimant = dict(body["claimant"])
        claimant.setdefault("preferred_language", "en")
        claim_rows.append(
            {
                "id": claim_id,
                "client_id": client_id,
                "external_ref": body["external_ref"],
                "policy_number": body["policy_number"],
                "claim_type": body["claim_type"],
                "date_of_loss": date.fromisoformat(body["date_of_loss"]),
                "reported_at": reported,
                "reported_on": item.facts["claim"]["reported_on"],
                "time_zone": "UTC",
                "claims_last_12_months": item.facts["claims_last_12_months"],
                "line_items_key": to_claim(body).line_items_key,
                "amount": Decimal(body["amount"]),
                "currency": body["currency"],
                "description": body.get("description", ""),
                "claimant": claimant,
                "preferred_language": claimant["preferred_language"],
                "callback_url": None,
                "payload": body,
                "status": decision.outcome,
                "payable_amount": decision.payable_amount,
                "ruleset_version": decision.ruleset_version,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        doc_rows.extend(
            {"claim_id": claim_id, "type": d["type"], "ref": d["ref"], "received_at": now}
            for d in body.get("documents", [])
        )
        decision_rows.append(
            decision_values(claim_id, decision, item.facts, "rules", now, None, body["currency"])
        )
        count += 1
        if len(claim_rows) >= batch:
            flush()
            if progress is not None:
                progress(count)
    if claim_rows:
        flush()
    finished = time.perf_counter()
    return {
        "policies": len(policies),
        "claims": count,
        "policies_seconds": policies_done - started,
        "claims_seconds": finished - policies_done,
        "claims_per_second": count / max(finished - policies_done, 1e-9),
    }

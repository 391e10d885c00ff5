"""The SQL history lookup (one aggregate query) agrees with the pure definition.

service.domain.history.summarise_history says what the 12-month count, the paid
aggregate and the exact and suspected duplicates mean; service.db.claims.history_for
computes them in the database. Random histories on one policy, on both databases.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, text, update

from service.db import claims, policies
from service.db.tables import ClaimRow
from service.domain.calendar import Duration
from service.domain.history import summarise_history
from service.domain.lifecycle import PAYING, ClaimStatus
from service.domain.model import Claim, Coverage, Document, Policy, PriorClaim
from service.usecases.context import Context

pytestmark = pytest.mark.integration
NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
TYPES = ("device_damage", "device_theft")
# Every claim status: an appealed, upheld or overturned claim's payment counts as an approved one's.
OUTCOMES = tuple(s.value for s in ClaimStatus)
PAYS = tuple(s.value for s in PAYING)
REFS = [f"s3://docs/{n}.pdf" for n in range(6)]
THOUSANDTH = Decimal("0.001")


def _policy(number: str) -> Policy:
    def cover(claim_type: str, wait: int) -> Coverage:
        return Coverage(
            claim_type, Decimal("800"), Decimal("2000"), Decimal("50"), Duration(wait, "days")
        )

    return Policy(
        number=number,
        holder="Hana History",
        status="active",
        effective_from=date(2024, 3, 1),
        effective_to=date(2027, 2, 28),
        currency="USD",
        coverages=(cover("device_damage", 0), cover("device_theft", 30)),
    )


def _store(ctx: Context, policy_number: str, priors: list[PriorClaim]) -> None:
    """Stored in list order: each one submitted a microsecond after the one before."""
    with ctx.unit_of_work() as session:
        for i, prior in enumerate(priors):
            at = NOW + timedelta(microseconds=i)
            claims.insert_claim(
                session,
                {
                    "id": prior.id,
                    "client_id": "history",
                    "external_ref": f"h-{i}-{prior.id}",
                    "policy_number": policy_number,
                    "claim_type": prior.claim_type,
                    "date_of_loss": prior.date_of_loss,
                    "reported_at": NOW,
                    "reported_on": NOW.date(),
                    "time_zone": "UTC",
                    "claims_last_12_months": 0,
                    "line_items_key": prior.line_items_key,
                    "amount": prior.amount,
                    "currency": "USD",
                    "description": "",
                    "claimant": {},
                    "preferred_language": "en",
                    "callback_url": None,
                    "payload": {},
                    "status": prior.outcome,
                    "payable_amount": prior.payable_amount,
                    "version": 1,
                    "created_at": at,
                    "updated_at": at,
                },
                [
                    {"claim_id": prior.id, "type": "photos", "ref": ref, "received_at": NOW}
                    for ref in sorted(prior.document_refs)
                ],
            )
        session.commit()


def _random_priors(rng: random.Random, n: int, loss: date, amount: Decimal) -> list[PriorClaim]:
    priors = []
    for _ in range(n):
        on_probe = rng.random() < 0.15  # same day and amount: a duplicate candidate
        outcome = rng.choice(OUTCOMES)
        priors.append(
            PriorClaim(
                id=str(uuid.UUID(int=rng.getrandbits(128))),
                claim_type=rng.choice(TYPES),
                date_of_loss=loss if on_probe else loss + timedelta(days=rng.randint(-800, 400)),
                amount=amount if on_probe else Decimal(rng.randint(1, 3000)),
                outcome=outcome,
                payable_amount=(Decimal(rng.randint(0, 90000)) / 100 if outcome in PAYS else None),
                document_refs=frozenset(rng.sample(REFS, rng.randint(0, 2))),
                line_items_key=rng.choice((None, None, "lines-a", "lines-b")),
            )
        )
    return priors


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_history_matches_the_definition(context: Context, seed: int) -> None:
    rng = random.Random(seed)
    policy = _policy(f"P-H{seed}")
    repo_policy_saved(context, policy)
    loss = date(2026, 5, 20)
    amount = Decimal("450.00")
    priors = _random_priors(rng, 60, loss, amount)
    _store(context, policy.number, priors)
    with context.unit_of_work(read_only=True) as session:
        for claim_type in TYPES:
            for probe_loss in (loss, loss - timedelta(days=200), date(2025, 3, 1)):
                for refs, lines in ((REFS[:1], None), (REFS[4:], "lines-a"), ([], None)):
                    claim = Claim(
                        policy_number=policy.number,
                        claim_type=claim_type,
                        date_of_loss=probe_loss,
                        reported_at=NOW,
                        amount=amount,
                        currency="USD",
                        id=str(uuid.uuid4()),
                        documents=tuple(Document("photos", r) for r in refs),
                        line_items_key=lines,
                    )
                    expected = summarise_history(claim, policy, priors)
                    got = claims.history_for(session, claim, policy)
                    assert got.claims_last_12_months == expected.claims_last_12_months
                    assert got.paid_this_policy_year == expected.paid_this_policy_year
                    # the first earlier claim with the same evidence, else the first alike
                    assert (got.duplicate_of, got.similar_to) == (
                        expected.duplicate_of,
                        expected.similar_to,
                    )
            # Without a policy nothing counts as paid; the count and duplicate still do.
            no_policy = summarise_history(claim, None, priors)
            got = claims.history_for(session, claim, None)
            assert got.claims_last_12_months == no_policy.claims_last_12_months
            assert got.paid_this_policy_year == no_policy.paid_this_policy_year == 0
            assert (got.duplicate_of is None) == (no_policy.duplicate_of is None)


def test_a_claim_is_not_its_own_history(context: Context) -> None:
    policy = _policy("P-SELF")
    repo_policy_saved(context, policy)
    prior = PriorClaim(
        str(uuid.uuid4()),
        "device_damage",
        date(2026, 5, 1),
        Decimal("10"),
        "approved",
        Decimal("7.50"),
    )
    _store(context, policy.number, [prior])
    claim = Claim(
        policy_number=policy.number,
        claim_type="device_damage",
        date_of_loss=date(2026, 5, 1),
        reported_at=NOW,
        amount=Decimal("10"),
        currency="USD",
        id=prior.id,
    )
    with context.unit_of_work(read_only=True) as session:
        history = claims.history_for(session, claim, policy)
    assert (history.claims_last_12_months, history.duplicate_of, history.similar_to) == (
        0,
        None,
        None,
    )
    assert history.paid_this_policy_year == 0


def _recount(session) -> dict:
    rows = session.execute(
        text(
            "SELECT policy_number, claim_type, date_of_loss, count(*), "
            "sum(CASE WHEN status IN ('approved', 'appealed', 'upheld', 'overturned') "
            "THEN payable_amount ELSE 0 END) "
            "FROM claims GROUP BY policy_number, claim_type, date_of_loss"
        )
    ).all()
    return {
        (p, t, str(d)): (n, Decimal(str(paid or 0)).quantize(THOUSANDTH))
        for p, t, d, n, paid in rows
    }


def _tallies(session) -> dict:
    rows = session.execute(
        text(
            "SELECT policy_number, claim_type, date_of_loss, claims, paid_thousandths "
            "FROM policy_daily WHERE claims <> 0 OR paid_thousandths <> 0"
        )
    ).all()
    return {
        (p, t, str(d)): (n, (Decimal(units) / 1000).quantize(THOUSANDTH))
        for p, t, d, n, units in rows
    }


def test_tallies_follow_every_change_to_claims(context: Context) -> None:
    """Inserts, decisions, appeals, corrections, deletions: the triggers keep up."""
    rng = random.Random(7)
    policy = _policy("P-TALLY")
    repo_policy_saved(context, policy)
    priors = _random_priors(rng, 40, date(2026, 5, 20), Decimal("450.00"))
    _store(context, policy.number, priors)
    ids = [p.id for p in priors]
    with context.unit_of_work() as session:
        for _ in range(120):
            claim_id = rng.choice(ids)
            change = rng.choice(("decide", "move", "retype", "delete", "touch"))
            if change == "decide":
                status = rng.choice(OUTCOMES)
                # three decimals (KWD, BHD): the tallies count thousandths exactly
                payable = Decimal(rng.randint(0, 500000)) / 1000 if status in PAYS else None
                values = {"status": status, "payable_amount": payable}
            elif change == "move":
                values = {"date_of_loss": date(2026, 5, 20) - timedelta(days=rng.randint(0, 500))}
            elif change == "retype":
                values = {"claim_type": rng.choice(TYPES)}
            elif change == "touch":  # columns the tallies do not watch
                values = {"assignee": "sam", "version": rng.randint(2, 9)}
            else:
                session.execute(delete(ClaimRow).where(ClaimRow.id == claim_id))
                ids.remove(claim_id)
                continue
            session.execute(update(ClaimRow).where(ClaimRow.id == claim_id).values(**values))
        session.commit()
    with context.unit_of_work(read_only=True) as session:
        assert _tallies(session) == _recount(session)


def repo_policy_saved(ctx: Context, policy: Policy) -> None:
    with ctx.unit_of_work() as session:
        policies.save_policy(session, policy, NOW)
        session.commit()

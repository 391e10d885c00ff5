"""Claims: the claim rows with their documents and decisions, the history a new claim is
judged against, and the lists supervisors work from.

Use cases call these inside a unit of work (service/usecases/context.py); views and jobs
never see a session.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from service.db import statements as sql
from service.db.session import rowcount
from service.db.tables import ClaimFlagRow, ClaimRow, DecisionRow, DocumentRow
from service.domain.calendar import twelve_months_before
from service.domain.model import Claim, Document, History, LineItem, Policy
from service.domain.money import in_minor_units, is_currency

THOUSANDTH = Decimal("0.001")
NOT_STORED = datetime(9999, 12, 31, tzinfo=UTC)  # a claim at intake: every stored one is before


def claim_row(session: Session, claim_id: str, client_id: str | None = None) -> ClaimRow | None:
    query = select(ClaimRow).where(ClaimRow.id == claim_id)
    if client_id is not None:
        query = query.where(ClaimRow.client_id == client_id)
    return session.scalar(
        query.options(selectinload(ClaimRow.documents), selectinload(ClaimRow.decisions))
    )


def insert_claim(session: Session, values: dict[str, Any], documents: list[dict[str, Any]]) -> None:
    """A new claim and its documents (documents in one executemany)."""
    session.execute(sql.INSERT_CLAIM, values)
    if documents:
        session.execute(sql.INSERT_DOCUMENTS, documents)


def insert_decision(session: Session, values: dict[str, Any]) -> int:
    return int(session.execute(sql.INSERT_DECISION, values).scalar_one())


def claim_by_external_ref(session: Session, client_id: str, external_ref: str) -> ClaimRow | None:
    return session.scalar(
        select(ClaimRow)
        .where(ClaimRow.client_id == client_id, ClaimRow.external_ref == external_ref)
        .options(selectinload(ClaimRow.documents), selectinload(ClaimRow.decisions))
    )


def to_claim(row: ClaimRow) -> Claim:
    """The stored claim as the rules see it, with the report date fixed at intake and
    the amount in its currency's minor units."""
    return Claim(
        id=row.id,
        policy_number=row.policy_number,
        claim_type=row.claim_type,
        date_of_loss=row.date_of_loss,
        reported_at=row.reported_at,
        reported_on=row.reported_on,
        amount=in_currency(row.amount, row.currency),
        currency=row.currency,
        documents=tuple(Document(type=d.type, ref=d.ref) for d in row.documents),
        line_items_count=len(row.payload.get("line_items") or []),
        line_items_key=row.line_items_key,
        line_items=stored_line_items(row.payload, row.currency),
    )


def stored_line_items(payload: dict[str, Any], currency: str) -> tuple[LineItem, ...]:
    """The line items of a claim as received (its payload), amounts in minor units."""
    return tuple(
        LineItem(
            str(item["code"]),
            in_currency(Decimal(str(item["amount"])), currency),
            str(item.get("description") or ""),
        )
        for item in payload.get("line_items") or []
    )


def in_currency(amount: Decimal, currency: str) -> Decimal:
    """A stored amount (NUMERIC with three decimals) in its currency's minor units."""
    return in_minor_units(amount, currency) if is_currency(currency) else amount


def list_claims(
    session: Session,
    *,
    client_id: str | None,
    status: str | None,
    policy_number: str | None,
    claim_type: str | None,
    since: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[ClaimRow]:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = select(ClaimRow).options(selectinload(ClaimRow.decisions))
    if client_id is not None:
        query = query.where(ClaimRow.client_id == client_id)
    if status:
        query = query.where(ClaimRow.status == status)
    if policy_number:
        query = query.where(ClaimRow.policy_number == policy_number)
    if claim_type:
        query = query.where(ClaimRow.claim_type == claim_type)
    if since:
        query = query.where(ClaimRow.created_at >= since)
    if after:
        created, claim_id = after
        query = query.where(
            or_(
                ClaimRow.created_at < created,
                and_(ClaimRow.created_at == created, ClaimRow.id < claim_id),
            )
        )
    query = query.order_by(ClaimRow.created_at.desc(), ClaimRow.id.desc()).limit(limit)
    return list(session.scalars(query))


def latest_decision(row: ClaimRow) -> DecisionRow | None:
    return row.decisions[-1] if row.decisions else None


def add_document(session: Session, row: ClaimRow, doc: Document, now: datetime) -> None:
    row.documents.append(DocumentRow(type=doc.type, ref=doc.ref, received_at=now))


def policy_number_of(session: Session, claim_id: str, client_id: str | None) -> str | None:
    """The policy a claim is on (never changes), read without a lock: callers take the
    policy's lock before the claim's (service/usecases/payments.py)."""
    query = select(ClaimRow.policy_number).where(ClaimRow.id == claim_id)
    if client_id is not None:
        query = query.where(ClaimRow.client_id == client_id)
    return session.scalar(query)


def claim_for_update(session: Session, claim_id: str, client_id: str | None) -> ClaimRow | None:
    """The claim, row-locked on PostgreSQL (SQLite serialises writers at BEGIN IMMEDIATE)."""
    query = select(ClaimRow).where(ClaimRow.id == claim_id)
    if client_id is not None:
        query = query.where(ClaimRow.client_id == client_id)
    return session.scalar(
        query.options(
            selectinload(ClaimRow.documents), selectinload(ClaimRow.decisions)
        ).with_for_update(of=ClaimRow)
    )


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(ClaimRow.status, func.count()).group_by(ClaimRow.status))
    return {status: int(count) for status, count in rows}


def policy_has_claims(session: Session, policy_number: str) -> bool:
    """Whether any claim is stored on the policy (an index seek on its claims)."""
    query = select(ClaimRow.id).where(ClaimRow.policy_number == policy_number).limit(1)
    return session.execute(query).first() is not None


# --- history (the SQL twin of service.domain.history.summarise_history) --------


def history_for(
    session: Session, claim: Claim, policy: Policy | None, *, stored: ClaimRow | None = None
) -> History:
    """One query on the daily tallies (service/db/tallies.py): its cost does not grow
    with the number of claims on the policy. At intake (`stored` None) every stored
    claim came before this one; a stored claim decided again keeps the 12-month count
    fixed at its intake, and its duplicates are looked for among the claims submitted
    before it. What it paid itself is not counted against the aggregate."""
    loss = claim.date_of_loss
    window_start = twelve_months_before(loss)
    year_start = year_end = loss  # no policy: nothing paid (an empty year)
    if policy is not None:
        year_start, year_end = policy.policy_year(loss)
    row = session.execute(
        sql.HISTORY,
        {
            "policy_number": claim.policy_number,
            "claim_type": claim.claim_type,
            "loss": loss,
            "amount": claim.amount,
            "window_start": window_start,
            "year_start": year_start,
            "year_end": year_end,
            "low": min(window_start, year_start),
            "high": max(loss, year_end),
            "claim_id": claim.id or "",
            "before": stored.created_at if stored is not None else NOT_STORED,
            "refs": sorted({d.ref for d in claim.documents}),
            "lines_key": claim.line_items_key,
        },
    ).one()
    paid = Decimal(int(row.paid_thousandths)) / 1000
    if policy is not None and row.self_paid is not None:  # the claim itself, approved
        paid -= Decimal(row.self_paid)
    count = int(row.claims_in_window) - int(row.self_count)
    if stored is not None:
        count = stored.claims_last_12_months
    if policy is not None and is_currency(policy.currency):
        paid = in_minor_units(paid.quantize(THOUSANDTH), policy.currency)
    deductible_met, out_of_pocket_met = _patient_share_this_year(
        session, claim, policy, year_start, year_end
    )
    return History(
        claims_last_12_months=count,
        paid_this_policy_year=paid,
        duplicate_of=row.duplicate_of,
        similar_to=None if row.duplicate_of else row.similar_to,
        deductible_met=deductible_met,
        out_of_pocket_met=out_of_pocket_met,
    )


def _patient_share_this_year(
    session: Session, claim: Claim, policy: Policy | None, year_start: Any, year_end: Any
) -> tuple[Decimal, Decimal]:
    """The deductible (PR 1) and every PR cut counted this policy year on the other
    decided claims of this type (an approval, or a rejection within the deductible).
    Read only for a coverage that counts either per policy year: one indexed range read
    on the policy's claims, under the policy lock the caller holds, so two claims on one
    policy never both take the yearly deductible."""
    zero = Decimal("0.00")
    coverage = policy.coverage_for(claim.claim_type) if policy is not None else None
    if coverage is None or (
        coverage.deductible_period != "policy_year"
        and coverage.out_of_pocket_period != "policy_year"
    ):
        return zero, zero
    assert policy is not None
    row = session.execute(
        select(
            func.coalesce(func.sum(ClaimRow.deductible_applied), 0),
            func.coalesce(func.sum(ClaimRow.patient_responsibility), 0),
        ).where(
            ClaimRow.policy_number == claim.policy_number,
            ClaimRow.claim_type == claim.claim_type,
            ClaimRow.date_of_loss >= year_start,
            ClaimRow.date_of_loss < year_end,
            ClaimRow.status.in_(("approved", "rejected")),  # both may carry PR cuts
            ClaimRow.id != (claim.id or ""),
        )
    ).one()
    deductible, patient = (Decimal(str(value)) for value in row)
    if is_currency(policy.currency):
        deductible = in_minor_units(deductible.quantize(THOUSANDTH), policy.currency)
        patient = in_minor_units(patient.quantize(THOUSANDTH), policy.currency)
    return deductible, patient


# --- what the sweeps read and write ---------------------------------------------------


def claim_ids_with_status(session: Session, *statuses: str) -> list[str]:
    return list(session.scalars(select(ClaimRow.id).where(ClaimRow.status.in_(statuses))))


def claims_with_status(session: Session, *statuses: str) -> list[ClaimRow]:
    return list(session.scalars(select(ClaimRow).where(ClaimRow.status.in_(statuses))))


def get_claim(session: Session, claim_id: str) -> ClaimRow | None:
    """The claim by id (no documents or decisions loaded with it)."""
    return session.get(ClaimRow, claim_id)


def get_decision(session: Session, decision_id: int) -> DecisionRow | None:
    return session.get(DecisionRow, decision_id)


def latest_decision_of(session: Session, claim_id: str) -> DecisionRow | None:
    return session.scalars(
        select(DecisionRow)
        .where(DecisionRow.claim_id == claim_id)
        .order_by(DecisionRow.id.desc())
        .limit(1)
    ).first()


def raise_flag(
    session: Session, claim_id: str, flag: str, decision_id: int, due: datetime, now: datetime
) -> bool:
    """Raise `flag` on the claim for this decision once; False when it was raised before
    (also by a concurrent sweep, whose insert is undone in a savepoint)."""
    exists = session.scalar(
        select(ClaimFlagRow.id).where(
            ClaimFlagRow.claim_id == claim_id,
            ClaimFlagRow.flag == flag,
            ClaimFlagRow.decision_id == decision_id,
        )
    )
    if exists:
        return False
    row = ClaimFlagRow(
        claim_id=claim_id, flag=flag, decision_id=decision_id, due_at=due, raised_at=now
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def flags_to_clear(session: Session, flag: str, while_status: tuple[str, ...]) -> list[Any]:
    """Open flags of claims no longer in `while_status`: (id, claim_id, decision_id, due_at)."""
    still = select(ClaimRow.id).where(ClaimRow.status.in_(while_status))
    return list(
        session.execute(
            select(
                ClaimFlagRow.id,
                ClaimFlagRow.claim_id,
                ClaimFlagRow.decision_id,
                ClaimFlagRow.due_at,
            )
            .where(
                ClaimFlagRow.flag == flag,
                ClaimFlagRow.cleared_at.is_(None),
                ClaimFlagRow.claim_id.not_in(still),
            )
            .order_by(ClaimFlagRow.id)
        )
    )


def clear_flag(session: Session, flag_id: int, now: datetime) -> bool:
    """Lower the flag; False when it was lowered meanwhile."""
    query = (
        update(ClaimFlagRow)
        .where(ClaimFlagRow.id == flag_id, ClaimFlagRow.cleared_at.is_(None))
        .values(cleared_at=now)
    )
    return bool(rowcount(session.execute(query)))


def status_of(session: Session, claim_id: str) -> str | None:
    return session.scalar(select(ClaimRow.status).where(ClaimRow.id == claim_id))

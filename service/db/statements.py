"""The intake path's SQL, built once at import and run with parameters.

A Core statement built per call costs more to build and to fingerprint for
SQLAlchemy's compiled cache than to run; these are built once, so a claim's
intake is a handful of cached statements (see docs/performance.md). Only the
data modules (service/db/claims.py, policies.py, outbox.py, audit.py, idempotency.py,
accounts.py) run them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    ScalarSelect,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)

from service.db.tables import (
    ApiKeyRow,
    AuditEventRow,
    ClaimRow,
    CoverageRow,
    DecisionRow,
    DocumentRow,
    IdempotencyKeyRow,
    OutboxRow,
    PolicyDailyRow,
    PolicyRow,
)
from service.domain.lifecycle import PAYING

POLICIES: Table = PolicyRow.__table__  # type: ignore[assignment]
COVERAGES: Table = CoverageRow.__table__  # type: ignore[assignment]
CLAIMS: Table = ClaimRow.__table__  # type: ignore[assignment]
DOCUMENTS: Table = DocumentRow.__table__  # type: ignore[assignment]
DECISIONS: Table = DecisionRow.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]
AUDIT: Table = AuditEventRow.__table__  # type: ignore[assignment]
API_KEYS: Table = ApiKeyRow.__table__  # type: ignore[assignment]
DAILY: Table = PolicyDailyRow.__table__  # type: ignore[assignment]
IDEMPOTENCY: Table = IdempotencyKeyRow.__table__  # type: ignore[assignment]

_p, _cov, _c = POLICIES.c, COVERAGES.c, CLAIMS.c

# A policy and its coverages (one row per coverage; coverage columns NULL if none).
POLICY_WITH_COVERAGES = (
    select(
        _p.number,
        _p.holder,
        _p.status,
        _p.effective_from,
        _p.effective_to,
        _p.terminated_on,
        _p.time_zone,
        _p.currency,
        _cov.claim_type,
        _cov.limit_per_claim,
        _cov.annual_aggregate,
        _cov.deductible,
        _cov.waiting_period,
        _cov.deductible_period,
        _cov.out_of_pocket_maximum,
        _cov.out_of_pocket_period,
    )
    .select_from(POLICIES.outerjoin(COVERAGES, _cov.policy_id == _p.id))
    .where(_p.number == bindparam("number"))
    .order_by(_cov.claim_type)
)

# The same, locking the policy row until commit: claims on one policy are decided
# one at a time (the aggregate and duplicate checks see each other). SQLite has no
# row locks; its writers are serialised by BEGIN IMMEDIATE.
POLICY_WITH_COVERAGES_LOCKED = POLICY_WITH_COVERAGES.with_for_update(of=POLICIES, key_share=True)

# What earlier claims on the policy mean for a claim, read from the daily tallies
# (service/db/tallies.py): at most a year of days per claim type, however many claims
# the policy has. [low, high] spans both the 12-month window and the policy year.
# The claim itself, when it is already stored (decided again), is in the tallies:
# `self_count` and `self_paid` say what to take off. Duplicates are index seeks on
# ix_claims_dup among the claims submitted before this one ((created_at, id) before
# `before`, `claim_id`): the first with a shared document reference (`refs`) or the
# same line items (`lines_key`) is exact, else the first is suspected. Parameters:
# policy_number, claim_type, loss, amount, window_start, year_start, year_end
# (exclusive), low, high, claim_id, before, refs (a list), lines_key.
_d = DAILY.c
_self = _c.id == bindparam("claim_id")
_docs = DOCUMENTS.c
_same_claim = and_(
    _c.policy_number == bindparam("policy_number"),
    _c.claim_type == bindparam("claim_type"),
    _c.date_of_loss == bindparam("loss"),
    _c.amount == bindparam("amount"),
    _c.id != bindparam("claim_id"),
    or_(
        _c.created_at < bindparam("before"),
        and_(_c.created_at == bindparam("before"), _c.id < bindparam("claim_id")),
    ),
)
_same_evidence = or_(
    exists().where(_docs.claim_id == _c.id, _docs.ref.in_(bindparam("refs", expanding=True))),
    _c.line_items_key == bindparam("lines_key"),
)


def _first(*where: ColumnElement[bool]) -> ScalarSelect[str]:
    return select(_c.id).where(*where).order_by(_c.created_at, _c.id).limit(1).scalar_subquery()


HISTORY = select(
    func.coalesce(
        func.sum(
            case(
                (
                    and_(
                        _d.date_of_loss >= bindparam("window_start"),
                        _d.date_of_loss <= bindparam("loss"),
                    ),
                    _d.claims,
                ),
                else_=0,
            )
        ),
        0,
    ).label("claims_in_window"),
    func.coalesce(
        func.sum(
            case(
                (
                    and_(
                        _d.claim_type == bindparam("claim_type"),
                        _d.date_of_loss >= bindparam("year_start"),
                        _d.date_of_loss < bindparam("year_end"),
                    ),
                    _d.paid_thousandths,
                ),
                else_=0,
            )
        ),
        0,
    ).label("paid_thousandths"),
    _first(_same_claim, _same_evidence).label("duplicate_of"),
    _first(_same_claim).label("similar_to"),
    select(func.count()).where(_self).scalar_subquery().label("self_count"),
    select(_c.payable_amount)
    .where(_self, _c.status.in_(PAYING))
    .scalar_subquery()
    .label("self_paid"),
).where(
    _d.policy_number == bindparam("policy_number"),
    _d.date_of_loss >= bindparam("low"),
    _d.date_of_loss <= bindparam("high"),
)

INSERT_CLAIM = insert(CLAIMS)
INSERT_DOCUMENTS = insert(DOCUMENTS)
INSERT_DECISION = insert(DECISIONS).returning(DECISIONS.c.id)
INSERT_OUTBOX = insert(OUTBOX).returning(OUTBOX.c.id, sort_by_parameter_order=True)
# The audit trail (service/db/audit.py): one chain per subject. PostgreSQL stores the
# writing transaction's id with each event, which is what checkpoints cover.
INSERT_AUDIT = insert(AUDIT)
INSERT_AUDIT_PG = insert(AUDIT).values(txid=cast(cast(func.pg_current_xact_id(), Text), BigInteger))
SUBJECT_HEAD = (
    select(AUDIT.c.hash, AUDIT.c.seq)
    .where(AUDIT.c.subject == bindparam("subject"))
    .order_by(AUDIT.c.seq.desc())
    .limit(1)
)
# One subject's appends, one at a time, to commit (PostgreSQL only; a 32-bit hash of
# the subject under the audit namespace: two subjects rarely share one, and then only
# wait for each other).
SUBJECT_LOCK = select(
    func.pg_advisory_xact_lock(literal_column("7220002"), cast(bindparam("key"), Integer))
)

_k = API_KEYS.c
API_KEY_BY_PREFIX = select(
    _k.id, _k.prefix, _k.name, _k.role, _k.secret_hash, _k.revoked_at, _k.last_used_at
).where(_k.prefix == bindparam("prefix"))
TOUCH_API_KEY = (
    update(API_KEYS).where(_k.id == bindparam("key_id")).values(last_used_at=bindparam("now"))
)

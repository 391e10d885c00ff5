"""Migration 0007_money on a database with data in it, SQLite and PostgreSQL: lapsed and
cancelled policies get terminated_on = effective_to, waiting periods become ISO 8601,
claims keep their documents and decisions (the SQLite table rebuild must not cascade),
report dates and 12-month counts are filled in, and the tallies count thousandths."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from service.db.migrate import upgrade
from service.db.session import get_engine
from tests.conftest import PG_ADMIN_URL, pg_available

pytestmark = pytest.mark.integration

POLICIES = """
INSERT INTO policies (id, number, holder, status, effective_from, effective_to, currency,
                      created_at, updated_at)
VALUES (1, 'P-OLD', 'H', 'active', '2026-01-01', '2026-12-31', 'USD', :now, :now),
       (2, 'P-LAP', 'H', 'lapsed', '2025-01-01', '2025-12-31', 'USD', :now, :now),
       (3, 'P-CAN', 'H', 'cancelled', '2026-01-01', '2026-12-31', 'EUR', :now, :now)
"""
COVERAGE = """
INSERT INTO coverages (id, policy_id, claim_type, limit_per_claim, annual_aggregate, deductible,
                       waiting_period_days)
VALUES (1, 1, 'device_damage', 800, 5000, 50, 30)
"""
CLAIM = """
INSERT INTO claims (id, client_id, external_ref, policy_number, claim_type, date_of_loss,
    reported_at, amount, currency, description, claimant, preferred_language, payload, status,
    payable_amount, version, created_at, updated_at)
VALUES (:id, 'c', :ref, 'P-OLD', 'device_damage', :loss, :reported, 350, 'USD', '', '{}', 'en',
        '{}', 'approved', 300.5, 1, :created, :created)
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    import psycopg

    if not pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL not reachable")
        pytest.skip("PostgreSQL not reachable")
    name = f"claims_m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    get_engine(f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}").dispose()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_0007_keeps_and_converts_existing_data(fresh_url):
    upgrade(fresh_url, "0005")
    engine = get_engine(fresh_url)
    now = "2026-06-01 10:00:00+00:00"
    ids = [str(uuid.UUID(int=n)) for n in (1, 2, 3)]
    with engine.begin() as conn:
        conn.execute(text(POLICIES), {"now": now})
        conn.execute(text(COVERAGE))
        for n, (claim_id, loss) in enumerate(
            zip(ids, ("2026-05-01", "2026-05-02", "2025-01-02"), strict=True)
        ):
            conn.execute(
                text(CLAIM),
                {
                    "id": claim_id,
                    "ref": f"R{n}",
                    "loss": loss,
                    # 23:30 in UTC: the report date is that UTC day
                    "reported": "2026-05-20 23:30:00+00:00",
                    "created": f"2026-05-2{n} 10:00:00+00:00",
                },
            )
            conn.execute(
                text(
                    "INSERT INTO documents (claim_id, type, ref, received_at) "
                    "VALUES (:id, 'photos', 'p', :now)"
                ),
                {"id": claim_id, "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO decisions (claim_id, outcome, payable_amount, reasons, "
                    "missing_documents, trace, facts, decided_by, decided_at) VALUES "
                    "(:id, 'approved', 300.5, '[]', '[]', '[]', '{}', 'rules', :now)"
                ),
                {"id": claim_id, "now": now},
            )
    upgrade(fresh_url)
    with engine.begin() as conn:
        policies = conn.execute(
            text("SELECT number, terminated_on, time_zone FROM policies ORDER BY number")
        ).all()
        assert [(p[0], str(p[1]) if p[1] else None, p[2]) for p in policies] == [
            ("P-CAN", "2026-12-31", None),
            ("P-LAP", "2025-12-31", None),
            ("P-OLD", None, None),
        ]
        assert conn.execute(text("SELECT waiting_period FROM coverages")).scalar() == "P30D"
        claims = conn.execute(
            text(
                "SELECT id, reported_on, time_zone, claims_last_12_months, payable_amount "
                "FROM claims ORDER BY id"
            )
        ).all()
        assert [(str(c[1]), c[2], c[3], Decimal(str(c[4]))) for c in claims] == [
            ("2026-05-20", "UTC", 0, Decimal("300.5")),
            ("2026-05-20", "UTC", 1, Decimal("300.5")),  # the May 1 claim came first
            ("2026-05-20", "UTC", 0, Decimal("300.5")),  # 2025 loss: nothing before it
        ]
        assert conn.execute(text("SELECT count(*) FROM documents")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM decisions")).scalar() == 3
        assert conn.execute(text("SELECT adjustments FROM decisions")).scalars().all() in (
            [[], [], []],
            ["[]", "[]", "[]"],
        )
        tallies = conn.execute(
            text("SELECT date_of_loss, paid_thousandths FROM policy_daily ORDER BY date_of_loss")
        ).all()
        assert [(str(d), n) for d, n in tallies] == [
            ("2025-01-02", 300500),
            ("2026-05-01", 300500),
            ("2026-05-02", 300500),
        ]
        # the rebuilt triggers count thousandths: three decimals are exact
        conn.execute(
            text("UPDATE claims SET payable_amount = 85.125 WHERE id = :id"), {"id": ids[0]}
        )
        paid = conn.execute(
            text("SELECT paid_thousandths FROM policy_daily WHERE date_of_loss = :d"),
            {"d": date(2026, 5, 1)},
        ).scalar()
        assert paid == 85125

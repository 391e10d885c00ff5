"""Migration 0012_lifecycle on a database with data in it, SQLite and PostgreSQL: a claim
under an open appeal (stored as "escalated" with its payment dropped from the tallies)
becomes "appealed" and its payment counts again; answered appeals and other claims keep
their status; each stored decision gets decided_by_kind."""

from __future__ import annotations

from sqlalchemy import text

from service.db.migrate import upgrade
from service.db.session import get_engine
from tests.integration.test_migration_money import fresh_url  # noqa: F401 - the fixture

NOW = "2026-06-01 10:00:00+00:00"


def _claim(conn, claim_id: str, status: str, payable: str | None, loss: str) -> None:
    conn.execute(
        text(
            "INSERT INTO claims (id, client_id, external_ref, policy_number, claim_type, "
            "date_of_loss, reported_at, reported_on, time_zone, claims_last_12_months, amount, "
            "currency, description, claimant, preferred_language, payload, status, "
            "payable_amount, version, created_at, updated_at) VALUES (:id, 'c', :id, 'P-1', "
            "'device_damage', :loss, :now, :loss, 'UTC', 0, 300, 'USD', '', '{}', 'en', '{}', "
            ":status, :payable, 1, :now, :now)"
        ),
        {"id": claim_id, "status": status, "payable": payable, "loss": loss, "now": NOW},
    )


def _decision(conn, claim_id: str, outcome: str, by: str) -> None:
    conn.execute(
        text(
            "INSERT INTO decisions (claim_id, outcome, payable_amount, reasons, "
            "missing_documents, trace, facts, adjustments, decided_by, decided_at) VALUES "
            "(:id, :outcome, NULL, '[]', '[]', '[]', '{}', '[]', :by, :now)"
        ),
        {"id": claim_id, "outcome": outcome, "by": by, "now": NOW},
    )


def _appeal(conn, claim_id: str, status: str) -> None:
    conn.execute(
        text(
            "INSERT INTO appeals (claim_id, reason, submitted_by, status, received_at, "
            "answer_due_at) VALUES (:id, 'more', 'c', :status, :now, :now)"
        ),
        {"id": claim_id, "status": status, "now": NOW},
    )


def test_0012_turns_open_appeals_into_appealed_claims_that_pay(fresh_url):  # noqa: F811
    upgrade(fresh_url, "0011_audit_subjects")
    engine = get_engine(fresh_url)
    with engine.begin() as conn:
        _claim(conn, "open-appeal", "escalated", "250.00", "2026-05-01")
        _decision(conn, "open-appeal", "approved", "sue")
        _appeal(conn, "open-appeal", "open")
        _claim(conn, "answered", "approved", "100.00", "2026-05-02")
        _decision(conn, "answered", "approved", "rules")
        _appeal(conn, "answered", "answered")
        _claim(conn, "queued", "escalated", None, "2026-05-03")
        _decision(conn, "queued", "escalated", "followups")
        paid = conn.execute(text("SELECT sum(paid_thousandths) FROM policy_daily")).scalar()
        assert paid == 100000  # the appealed 250.00 was not counted
    upgrade(fresh_url)
    with engine.begin() as conn:
        statuses = dict(conn.execute(text("SELECT id, status FROM claims")).tuples().all())
        assert statuses == {
            "open-appeal": "appealed",
            "answered": "approved",
            "queued": "escalated",
        }
        paid = conn.execute(text("SELECT sum(paid_thousandths) FROM policy_daily")).scalar()
        assert paid == 350000
        kinds = dict(
            conn.execute(text("SELECT claim_id, decided_by_kind FROM decisions")).tuples().all()
        )
        assert kinds == {"open-appeal": "person", "answered": "rule", "queued": "system"}
    get_engine(fresh_url).dispose()

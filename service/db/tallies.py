"""Per-policy daily tallies of claims, kept by the database itself.

A new claim's history (claims in the 12 months up to its date of loss, amount
paid this policy year for its type) would otherwise scan every earlier claim on
the policy: fine for a household, linear for a fleet policy with thousands of
claims a year. `policy_daily` holds one row per (policy, claim type, date of
loss): how many claims, and the cents paid on the approved ones. A history
lookup then reads at most a year of days per claim type, however many claims
there are.

Triggers on `claims` keep the tallies (insert, delete, and any change of
status, payable amount, policy, type or date of loss), so no code path can
forget them: the intake, a supervisor's decision, an appeal, a bulk load.
Money is summed in integer cents, exact on SQLite as on PostgreSQL.

`install(connection)` creates the triggers: migration 0005 calls it, and so
does `metadata.create_all` (a hook in service.db.tables).
"""

from __future__ import annotations

from typing import Any

_CENTS_PG = "COALESCE(round({row}.payable_amount * 100), 0)::bigint"
_CENTS_SQLITE = "CAST(ROUND(COALESCE({row}.payable_amount, 0) * 100) AS INTEGER)"
_KEY = "(policy_number, date_of_loss, claim_type)"  # the primary key: a date range seeks
_WATCHED = ("status", "payable_amount", "policy_number", "claim_type", "date_of_loss")


def _paid(row: str, cents: str) -> str:
    return f"CASE WHEN {row}.status = 'approved' THEN {cents.format(row=row)} ELSE 0 END"


def _add(row: str, cents: str) -> str:
    return (
        f"INSERT INTO policy_daily {_KEY[:-1]}, claims, paid_cents) "
        f"VALUES ({row}.policy_number, {row}.date_of_loss, {row}.claim_type, 1, "
        f"{_paid(row, cents)}) "
        f"ON CONFLICT {_KEY} DO UPDATE SET claims = policy_daily.claims + 1, "
        "paid_cents = policy_daily.paid_cents + excluded.paid_cents;"
    )


def _remove(row: str, cents: str) -> str:
    return (
        "UPDATE policy_daily SET claims = claims - 1, "
        f"paid_cents = paid_cents - {_paid(row, cents)} "
        f"WHERE policy_number = {row}.policy_number AND claim_type = {row}.claim_type "
        f"AND date_of_loss = {row}.date_of_loss;"
    )


POSTGRESQL = [
    f"""
CREATE OR REPLACE FUNCTION claims_tally() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_remove("OLD", _CENTS_PG)}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_add("NEW", _CENTS_PG)}
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql
""",
    "CREATE TRIGGER claims_tally AFTER INSERT OR DELETE ON claims "
    "FOR EACH ROW EXECUTE FUNCTION claims_tally()",
    f"CREATE TRIGGER claims_tally_update AFTER UPDATE OF {', '.join(_WATCHED)} ON claims "
    "FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _WATCHED)
    + ") EXECUTE FUNCTION claims_tally()",
]

SQLITE = [
    f"CREATE TRIGGER claims_tally_insert AFTER INSERT ON claims BEGIN "
    f"{_add('NEW', _CENTS_SQLITE)} END",
    f"CREATE TRIGGER claims_tally_delete AFTER DELETE ON claims BEGIN "
    f"{_remove('OLD', _CENTS_SQLITE)} END",
    f"CREATE TRIGGER claims_tally_update AFTER UPDATE OF {', '.join(_WATCHED)} ON claims "
    "WHEN "
    + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _WATCHED)
    + f" BEGIN {_remove('OLD', _CENTS_SQLITE)} {_add('NEW', _CENTS_SQLITE)} END",
]

BACKFILL = (
    f"INSERT INTO policy_daily {_KEY[:-1]}, claims, paid_cents) "
    "SELECT policy_number, date_of_loss, claim_type, count(*), "
    "sum({paid}) FROM claims GROUP BY policy_number, date_of_loss, claim_type"
)

DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS claims_tally ON claims",
        "DROP TRIGGER IF EXISTS claims_tally_update ON claims",
        "DROP FUNCTION IF EXISTS claims_tally()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS claims_tally_insert",
        "DROP TRIGGER IF EXISTS claims_tally_delete",
        "DROP TRIGGER IF EXISTS claims_tally_update",
    ],
}


def install(connection: Any, backfill: bool = False) -> None:
    """Create the triggers (and, for an existing database, count what is there)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statements, cents = POSTGRESQL, _CENTS_PG
    elif dialect == "sqlite":
        statements, cents = SQLITE, _CENTS_SQLITE
    else:
        raise RuntimeError(f"no claim tallies for {dialect}")
    if backfill:
        connection.exec_driver_sql(BACKFILL.format(paid=_paid("claims", cents)))
    for statement in statements:
        connection.exec_driver_sql(statement)


def uninstall(connection: Any) -> None:
    for statement in DROP.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)

"""Per-policy daily tallies of claims, kept by the database itself.

A new claim's history (claims in the 12 months up to its date of loss, amount
paid this policy year for its type) would otherwise scan every earlier claim on
the policy: fine for a household, linear for a fleet policy with thousands of
claims a year. `policy_daily` holds one row per (policy, claim type, date of
loss): how many claims, and the thousandths paid on the approved ones (approved,
appealed, upheld or overturned: service/domain/lifecycle.py PAYING). A history
lookup then reads at most a year of days per claim type, however many claims
there are.

Triggers on `claims` keep the tallies (insert, delete, and any change of
status, payable amount, policy, type or date of loss), so no code path can
forget them: the intake, a supervisor's decision, an appeal, a bulk load.
Money is summed in integer thousandths of the currency unit (every ISO 4217
currency we pay in has at most three decimals: KWD 85.125 is 85125), exact on
SQLite as on PostgreSQL.

`install(connection)` creates the triggers: migrations 0005 and 0007 call it, and
so does `metadata.create_all` (a hook in service.db.tables).
"""

from __future__ import annotations

from typing import Any

from service.domain.lifecycle import PAYING

PAID = "paid_thousandths"  # the column, and the scale of its integer amounts
SCALE = 1000
_KEY = "(policy_number, date_of_loss, claim_type)"  # the primary key: a date range seeks
_WATCHED = ("status", "payable_amount", "policy_number", "claim_type", "date_of_loss")
_UNITS = {
    "postgresql": "COALESCE(round({row}.payable_amount * %d), 0)::bigint",
    "sqlite": "CAST(ROUND(COALESCE({row}.payable_amount, 0) * %d) AS INTEGER)",
}


# Statuses whose payable amount is owed (service/domain/lifecycle.py PAYING): an
# appealed approval keeps its payment until the answer, and an upheld one after it.
_PAYING = ", ".join(f"'{status.value}'" for status in PAYING)


def _paid(row: str, units: str) -> str:
    return f"CASE WHEN {row}.status IN ({_PAYING}) THEN {units.format(row=row)} ELSE 0 END"


def _add(row: str, units: str, col: str) -> str:
    return (
        f"INSERT INTO policy_daily {_KEY[:-1]}, claims, {col}) "
        f"VALUES ({row}.policy_number, {row}.date_of_loss, {row}.claim_type, 1, "
        f"{_paid(row, units)}) "
        f"ON CONFLICT {_KEY} DO UPDATE SET claims = policy_daily.claims + 1, "
        f"{col} = policy_daily.{col} + excluded.{col};"
    )


def _remove(row: str, units: str, col: str) -> str:
    return (
        "UPDATE policy_daily SET claims = claims - 1, "
        f"{col} = {col} - {_paid(row, units)} "
        f"WHERE policy_number = {row}.policy_number AND claim_type = {row}.claim_type "
        f"AND date_of_loss = {row}.date_of_loss;"
    )


def _postgresql(units: str, col: str) -> list[str]:
    return [
        f"""
CREATE OR REPLACE FUNCTION claims_tally() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_remove("OLD", units, col)}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_add("NEW", units, col)}
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


def _sqlite(units: str, col: str) -> list[str]:
    return [
        f"CREATE TRIGGER claims_tally_insert AFTER INSERT ON claims BEGIN "
        f"{_add('NEW', units, col)} END",
        f"CREATE TRIGGER claims_tally_delete AFTER DELETE ON claims BEGIN "
        f"{_remove('OLD', units, col)} END",
        f"CREATE TRIGGER claims_tally_update AFTER UPDATE OF {', '.join(_WATCHED)} ON claims "
        "WHEN "
        + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _WATCHED)
        + f" BEGIN {_remove('OLD', units, col)} {_add('NEW', units, col)} END",
    ]


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


def install(
    connection: Any, backfill: bool = False, column: str = PAID, scale: int = SCALE
) -> None:
    """Create the triggers (and, for an existing database, count what is there).
    `column`/`scale`: migration 0005 built them on paid_cents x 100, before 0007."""
    dialect = connection.dialect.name
    if dialect not in _UNITS:
        raise RuntimeError(f"no claim tallies for {dialect}")
    units = _UNITS[dialect] % scale
    statements = (_postgresql if dialect == "postgresql" else _sqlite)(units, column)
    if backfill:
        connection.exec_driver_sql(
            f"INSERT INTO policy_daily {_KEY[:-1]}, claims, {column}) "
            "SELECT policy_number, date_of_loss, claim_type, count(*), "
            f"sum({_paid('claims', units)}) FROM claims "
            "GROUP BY policy_number, date_of_loss, claim_type"
        )
    for statement in statements:
        connection.exec_driver_sql(statement)


def uninstall(connection: Any) -> None:
    for statement in DROP.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)
